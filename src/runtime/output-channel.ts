// A host's output channel: set up with the first input (the processor tells its type then), or
// hosted unopened until the processor opens it with a type it learns later; publishes what the
// processor gives ctx.publish() and counts it. It also guards the marks of published updates:
// changed bits are relative to the update published before, so they are passed on only while the
// output has seen every input since (see docs/architecture.md, "path of one frame").
import { BitSet } from '../pvdata/bitset.js';
import type { PvaClient } from '../pva/client/client.js';
import type { PvaServer } from '../pva/server/server.js';
import { SharedPV } from '../pv/shared-pv.js';
import type { StructureDesc } from '../pvdata/types.js';
import type { UpdateMarks } from '../pvdata/update.js';
import type { PVStructure } from '../pvdata/values.js';
import { Publisher, type OutputMode, type PublisherStats } from './io.js';

export class OutputChannel {
  readonly #channel: string | undefined;
  readonly #mode: OutputMode;
  readonly #server: PvaServer;
  readonly #client: PvaClient;
  readonly #warn: (message: string) => void;
  #publisher: Publisher | null = null;
  #type: StructureDesc | null = null;
  /** Set up without a type: waiting for open(); `hosted` is the PV already served (pvas). */
  #waiting: { hosted: SharedPV | undefined } | null = null;
  /** Continuity broke since the last published update: the next marked one goes out full. */
  #broken = true;
  /** An input was handed to the processor and nothing was published since. */
  #unpublished = false;
  /** Reused for a full update: everything changed, the caller's overrun (no allocation per frame). */
  readonly #full: { changed: BitSet; overrun: BitSet | undefined } = { changed: BitSet.of(0), overrun: undefined };

  /** `channel` undefined or '': no output channel (publishing is a no-op). */
  constructor(channel: string | undefined, mode: OutputMode, server: PvaServer, client: PvaClient, warn: (message: string) => void) {
    this.#channel = channel || undefined;
    this.#mode = mode;
    this.#server = server;
    this.#client = client;
    this.#warn = warn;
  }

  /**
   * With the first input: `type` is what the processor's getOutputType() said. null: no output
   * PV. undefined: not known yet; the PV is hosted now, unopened, so clients can connect (their
   * requests wait, as with PVXS) until the processor opens it.
   */
  setUp(type: StructureDesc | null | undefined): void {
    if (!this.#channel) return;
    if (type === undefined) {
      const hosted = this.#mode === 'pvas' ? new SharedPV() : undefined;
      if (hosted) this.#server.addPV(this.#channel, hosted);
      this.#waiting = { hosted };
    } else if (type) {
      this.#open(type);
    }
  }

  /** Open the channel set up without a type; false when none is waiting. */
  open(type: StructureDesc): boolean {
    const waiting = this.#waiting;
    if (!waiting || this.#publisher) return false;
    this.#waiting = null;
    this.#open(type, waiting.hosted);
    return true;
  }

  #open(type: StructureDesc, hosted?: SharedPV): void {
    this.#type = type;
    this.#publisher = new Publisher(this.#mode, this.#channel as string, type, this.#server, this.#client, hosted, this.#warn);
  }

  /**
   * Publish `value`. With `marks` (the input's, or the processor's own), `value` is complete and
   * `marks.changed` says what changed since the update published before; after a gap (see gap())
   * the update goes out full instead, with `marks.overrun` kept. Without marks, the value merges
   * into the output PV as before, and the next marked update goes out full.
   */
  readonly publish = (value: PVStructure, marks?: UpdateMarks): void => {
    const p = this.#publisher;
    if (!p) return;
    this.#unpublished = false;
    if (!marks) {
      this.#broken = true;
      p.publish(value);
      return;
    }
    const before = p.stats.nPublished;
    if (this.#broken) {
      const full = this.#full;
      full.overrun = marks.overrun;
      this.#broken = false;
      p.publish(value, full);
      full.overrun = undefined;
    } else {
      p.publish(value, marks);
    }
    if (p.stats.nPublished === before) this.#broken = true; // refused (wrong type, closed PV): not seen downstream
  };

  /**
   * An input is about to be processed: if the one before published nothing (a filter, a
   * processor that keeps objects), the downstream never saw it, and continuity is broken.
   */
  readonly input = (): void => {
    if (this.#unpublished) this.#broken = true;
    this.#unpublished = true;
  };

  /** Continuity broke (an input not republished, a reconnect): the next marked update goes out full. */
  readonly gap = (): void => {
    this.#broken = true;
  };

  get type(): StructureDesc | null {
    return this.#type;
  }

  get stats(): PublisherStats {
    return this.#publisher ? { ...this.#publisher.stats } : { nPublished: 0, nErrors: 0 };
  }

  resetStats(): void {
    if (this.#publisher) this.#publisher.stats.nPublished = this.#publisher.stats.nErrors = 0;
  }
}
