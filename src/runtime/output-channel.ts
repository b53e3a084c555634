// A host's output channel: set up with the first input (the processor tells its type then), or
// hosted unopened until the processor opens it with a type it learns later; publishes what the
// processor gives ctx.publish() and counts it.
import type { PvaClient } from '../pva/client/client.js';
import type { PvaServer } from '../pva/server/server.js';
import { SharedPV } from '../pv/shared-pv.js';
import type { StructureDesc } from '../pvdata/types.js';
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

  readonly publish = (value: PVStructure): void => {
    this.#publisher?.publish(value);
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
