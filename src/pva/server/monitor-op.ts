// Server side of one MONITOR: a bounded queue per subscriber (record._options.queueSize entries,
// and at most serverLimits.maxQueueBytes, with all queues of the server within maxQueueBytesTotal), the
// pipeline window (credits the client returns with acks), and what happens when the queue is full:
// without a policy, squashing into the newest entry and its overrun BitSet; with a reader policy
// (record._options.policy, see ReaderPolicy), dropping entries or holding the writer back, after
// the fill rate (record._options.fillRate) kept every n-th post. Sending happens only when the
// connection's socket can take more, so a client that stops reading costs at most its queue plus
// the socket's buffer. A monitor that asked for the distributor plugin (`field(_[pydistributor=…])`)
// gets only its share of the posts. When its PV goes (close: see CloseKind) it sends what is queued,
// past the pipeline window as PVXS does once finished, then the "finish" update (subcommand 0x10 and
// a status) when the PV ended, or nothing more when the channel is being dropped.
// Spec: Protocol-Messages "Channel Monitor", Protocol-Operation-Monitor (pipeline).
import { BitSet } from '../../pvdata/bitset.js';
import type { FieldSelection } from '../../pvdata/pvrequest.js';
import { encodeBitSet, encodePartial } from '../../pvdata/value-codec.js';
import { valueBytes, type PVStructure } from '../../pvdata/values.js';
import { Cmd, Sub } from '../constants.js';
import { encodeStatus, STATUS_OK } from '../status.js';
import type { DistributorSettings } from '../../pv/distributor.js';
import type { CloseKind, PeerInfo, PVSubscriber, ReaderPolicy, ReaderStats } from '../../pv/source.js';
import type { HeldPost } from './held-posts.js';
import type { ServerChannel, ServerConnection, ServerOp } from './server-conn.js';

interface Entry {
  value: PVStructure;
  changed: BitSet;
  overrun: BitSet;
  /** What the entry counts against the byte limits. */
  bytes: number;
}

/** What an entry costs besides its value (the entry, its BitSets). */
const ENTRY_BYTES = 128;

/** Changed fields of posts not (yet) in any entry: fill-rate skips and dropped entries. */
interface Marks {
  changed: BitSet;
  overrun: BitSet;
}

/**
 * Add a post's marks to `into` (when null, the post's own sets, which it takes): fields changed in
 * both go into overrun (a value of theirs was never sent), with those that arrived overrun already.
 */
function mergeMarks(into: Marks | null, changed: BitSet, overrun: BitSet | null): Marks {
  if (!into) return { changed, overrun: overrun ?? new BitSet() };
  for (const b of changed) if (into.changed.get(b)) into.overrun.set(b);
  if (overrun) into.overrun.or(overrun);
  into.changed.or(changed);
  return into;
}

export interface MonitorStats {
  /** Updates posted to this subscription. */
  posted: number;
  /** Updates sent to the client. */
  sent: number;
  /** Updates squashed into another because the queue was full (in entries or in bytes). */
  overruns: number;
  /** Posts not kept because of the fill rate (record._options.fillRate). */
  fillSkipped: number;
  /** Entries lost to the reader policy (ring, clear, skip, raise). */
  dropped: number;
  /** Bytes now held by the queue (bounded by serverLimits.maxQueueBytes). */
  queuedBytes: number;
  /** Posted values that could not be encoded in the PV's type (dropped). */
  encodeErrors: number;
}

/** The reader's buffer and flow control, from the pvRequest. */
export interface MonitorSettings {
  queueSize: number;
  /** undefined: squash into the newest entry when full. */
  policy?: ReaderPolicy | undefined;
  /** Keep every n-th post (1: all). */
  fillRate?: number;
  /** The pvRequest's record._options. */
  options?: Readonly<Record<string, string>>;
  pipeline: boolean;
  /** The client's first credit (pipeline). */
  nfree: number;
  distribution?: DistributorSettings | null;
}

export class MonitorOp implements ServerOp, PVSubscriber {
  readonly kind = 'monitor';
  readonly ioid: number;
  readonly channel: ServerChannel;
  readonly #conn: ServerConnection;
  readonly #sel: FieldSelection;
  readonly #queueSize: number;
  readonly pipeline: boolean;
  readonly policy: ReaderPolicy | undefined;
  readonly fillRate: number;
  readonly options: Readonly<Record<string, string>>;
  readonly peer: PeerInfo;
  /** Pipelined: every update sent is within the client's credit (see creditHighWater). */
  get credited(): boolean {
    return this.pipeline;
  }
  /** Distributor settings from the request; null for a monitor that gets every update. */
  readonly distribution: DistributorSettings | null;
  #window: number;
  #queue: Entry[] = [];
  #carry: Marks | null = null;
  /** Posts offered to the fill rate so far (forced ones do not count). */
  #fillPhase = 0;
  #running = false;
  /** Set once the PV went: the queue is sent, then the op goes (see CloseKind). */
  #closing: CloseKind | null = null;
  #unsubscribe: () => void = () => {};
  readonly stats: MonitorStats = {
    posted: 0,
    sent: 0,
    overruns: 0,
    fillSkipped: 0,
    dropped: 0,
    queuedBytes: 0,
    encodeErrors: 0,
  };

  constructor(conn: ServerConnection, channel: ServerChannel, ioid: number, sel: FieldSelection, settings: MonitorSettings) {
    this.#conn = conn;
    this.channel = channel;
    this.ioid = ioid;
    this.#sel = sel;
    this.#queueSize = Math.max(1, settings.queueSize);
    this.policy = settings.policy;
    this.fillRate = Math.max(1, settings.fillRate ?? 1);
    this.options = settings.options ?? {};
    this.peer = { peer: conn.peerName(), account: conn.account, channel: channel.name };
    this.pipeline = settings.pipeline;
    this.#window = settings.pipeline ? Math.max(0, settings.nfree) : Infinity;
    this.distribution = settings.distribution ?? null;
    conn.monitors++;
    conn.server.stats.monitors++;
  }

  /**
   * Subscribe to the PV (joining its distributor when asked: destroy() leaves it); the current
   * value is the first update, for distributor clients too. `held`: what the PV posted since it
   * opened while this INIT waited for it; the first of them is then the first update, whole.
   */
  attach(held: readonly HeldPost[] = []): void {
    const pv = this.channel.pv;
    this.#unsubscribe = pv.subscribe(this, this.distribution);
    const first = held[0];
    if (first) {
      this.#enqueue(first.value, BitSet.of(0), first.overrun?.isEmpty() === false ? this.#sel.mapBits(first.overrun) : null, false);
      for (let i = 1; i < held.length; i++) {
        const p = held[i] as HeldPost;
        this.onPost(p.value, p.changed, p.overrun, p.force);
      }
    } else if (pv.value) {
      this.#enqueue(pv.value, BitSet.of(0), null, false);
    }
  }

  onPost(value: PVStructure, changed: BitSet, overrun?: BitSet, force = false): void {
    const mapped = this.#sel.mapBits(changed);
    if (mapped.isEmpty()) return; // nothing this client asked for changed
    this.stats.posted++;
    // An overrun upstream (a relayed PV) is this client's overrun too, in its numbering.
    const over = overrun === undefined || overrun.isEmpty() ? null : this.#sel.mapBits(overrun);
    if (!force && this.fillRate > 1 && this.#fillPhase++ % this.fillRate !== 0) {
      // Not kept, but its fields go out with the next entry: a partial update is not lost.
      this.stats.fillSkipped++;
      this.#conn.server.stats.fillSkipped++;
      this.#carry = mergeMarks(this.#carry, mapped, over);
      return;
    }
    this.#enqueue(value, mapped, over, force);
  }

  /** Is the queue full for an entry of `bytes` (in entries, or in bytes)? An empty queue never is. */
  #full(bytes: number): boolean {
    const q = this.#queue;
    return q.length > 0 && (q.length >= this.#queueSize || !this.#bytesFit(bytes));
  }

  /** `changed` and `overrun` are this monitor's own (mapped) sets: the entry keeps them. */
  #enqueue(value: PVStructure, changed: BitSet, overrun: BitSet | null, force: boolean): void {
    const q = this.#queue;
    const bytes = ENTRY_BYTES + valueBytes(value);
    if (this.#full(bytes)) {
      const policy = force ? undefined : this.policy;
      if (policy === 'skip' || policy === 'raise') {
        // The new post is dropped (a raise source failed its writer before posting, or could not).
        this.#countDropped(1);
        this.#carry = mergeMarks(this.#carry, changed, overrun);
        return;
      }
      if (policy === 'ring') {
        while (this.#full(bytes)) this.#dropOldest();
      } else if (policy === 'clear') {
        while (q.length > 0) this.#dropOldest();
      } else {
        const marks = this.#withCarry(changed, overrun);
        this.#squash(value, marks.changed, marks.overrun, bytes);
        if (this.#running) this.#conn.markReady(this);
        return;
      }
    }
    const marks = this.#withCarry(changed, overrun);
    q.push({ value, changed: marks.changed, overrun: marks.overrun, bytes });
    this.#addBytes(bytes);
    if (this.#running) this.#conn.markReady(this);
  }

  /** The marks of a post that goes into the queue, with those of earlier posts no entry holds. */
  #withCarry(changed: BitSet, overrun: BitSet | null): Marks {
    const carry = this.#carry;
    this.#carry = null;
    return mergeMarks(carry, changed, overrun);
  }

  /** Queue full without a policy (or `wait`, or a forced post): squash into the newest entry. */
  #squash(value: PVStructure, changed: BitSet, overrun: BitSet, bytes: number): void {
    const last = this.#queue[this.#queue.length - 1] as Entry;
    mergeMarks(last, changed, overrun);
    last.value = value;
    this.#addBytes(bytes - last.bytes);
    last.bytes = bytes;
    this.stats.overruns++;
    this.#conn.server.stats.overruns++;
  }

  /** Drop the oldest entry; its fields go out with the next one (a partial update is not lost). */
  #dropOldest(): void {
    const e = this.#queue.shift() as Entry;
    this.#addBytes(-e.bytes);
    this.#countDropped(1);
    const next = this.#queue[0];
    if (next) mergeMarks(next, e.changed, e.overrun);
    else this.#carry = mergeMarks(this.#carry, e.changed, e.overrun);
  }

  #countDropped(n: number): void {
    this.stats.dropped += n;
    this.#conn.server.stats.dropped += n;
  }

  /** Would `bytes` more stay within this queue's and the server's byte limits? */
  #bytesFit(bytes: number): boolean {
    const server = this.#conn.server;
    return (
      this.stats.queuedBytes + bytes <= server.serverLimits.maxQueueBytes &&
      server.stats.queuedBytes + bytes <= server.serverLimits.maxQueueBytesTotal
    );
  }

  #addBytes(n: number): void {
    this.stats.queuedBytes += n;
    this.#conn.server.stats.queuedBytes += n;
  }

  /** The PV closed: send what is queued, then (`end`) the finish update, then go. */
  onClose(how: CloseKind = 'end'): void {
    this.close(how);
  }

  /**
   * Take no more posts; send what is queued, then the finish update when `how` is `end`; then the
   * op goes (its channel, when being dropped, goes once no op of it is still sending). The first
   * call decides.
   */
  close(how: CloseKind): void {
    if (this.#closing) return;
    this.#closing = how;
    this.#unsubscribe();
    this.#unsubscribe = () => {};
    this.#conn.markReady(this);
  }

  /** True from close() until the op is gone. */
  get closing(): boolean {
    return this.#closing !== null;
  }

  hasRoom(): boolean {
    // ring, clear and skip lose entries rather than wait: a slow reader never holds its writer
    // back (what it may cost is bounded by its queue, and sending by the socket's limits).
    const p = this.policy;
    if (p === 'ring' || p === 'clear' || p === 'skip') return true;
    // A pipelined monitor may hand the socket all its credit covers (creditHighWater), but a
    // producer that waits for room is asked to wait from postHighWater on (see ConnectionLimits).
    if (this.credited && !this.#conn.postable) return false;
    const q = this.#queue;
    if (q.length === 0) return true;
    // The next value's size is unknown: room means another entry as large as the newest fits.
    return q.length < this.#queueSize && this.#bytesFit((q[q.length - 1] as Entry).bytes);
  }

  /** This reader's counters (ReaderStats, as a load statistics channel shows them). */
  readerStats(): ReaderStats {
    const s = this.stats;
    return {
      posted: s.posted,
      fillSkipped: s.fillSkipped,
      dropped: s.dropped,
      overruns: s.overruns,
      sent: s.sent,
      queued: this.#queue.length,
      queueSize: this.#queueSize,
    };
  }

  start(): void {
    this.#running = true;
    this.#conn.markReady(this);
  }

  stop(): void {
    this.#running = false;
  }

  ack(nfree: number): void {
    if (!this.pipeline) return;
    this.#window += nfree;
    if (this.#running) this.#conn.markReady(this);
  }

  /** Send one message if allowed; false when there is nothing more to send for now. */
  sendOne(): boolean {
    const closing = this.#closing !== null;
    // Once the PV went, what is queued goes whatever the credit (as PVXS sends a finished queue).
    const canSend = closing || (this.#running && this.#window > 0);
    if (canSend && this.#queue.length > 0) {
      const wasFull = !this.hasRoom();
      const e = this.#queue.shift() as Entry;
      this.#addBytes(-e.bytes);
      try {
        this.#conn.out.message(Cmd.MONITOR, (w) => {
          w.i32(this.ioid);
          w.u8(Sub.DEFAULT);
          encodeBitSet(w, e.changed);
          encodePartial(w, this.#sel.type, this.#sel.project(e.value), e.changed);
          encodeBitSet(w, e.overrun);
        });
      } catch (err) {
        // A posted value that does not fit the PV's type: drop it, say why, keep serving.
        this.stats.encodeErrors++;
        this.#conn.log('warn', `PV ${this.channel.name}: update not sent: ${(err as Error).message}`);
        return closing || this.#queue.length > 0;
      }
      this.#window--;
      this.stats.sent++;
      if (wasFull && !closing) this.channel.pv.notifyRoom();
      // Closing: called again for the finish (or to go) once the queue is empty.
      return closing || (this.#queue.length > 0 && this.#window > 0);
    }
    if (closing) {
      if (this.#closing === 'end') {
        const w = this.#conn.out.begin(Cmd.MONITOR);
        w.i32(this.ioid);
        w.u8(Sub.DESTROY);
        encodeStatus(w, STATUS_OK);
        this.#conn.out.end();
      }
      this.#conn.removeOp(this.ioid);
    }
    return false;
  }

  destroy(): void {
    this.#unsubscribe();
    this.#addBytes(-this.stats.queuedBytes);
    this.#queue.length = 0;
    this.#running = false;
    this.#conn.monitors--;
    this.#conn.server.stats.monitors--;
  }
}
