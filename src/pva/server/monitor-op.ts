// Server side of one MONITOR: a bounded queue per subscriber (record._options.queueSize entries,
// and at most serverLimits.maxQueueBytes, with all queues of the server within maxQueueBytesTotal), the
// pipeline window (credits the client returns with acks), and squashing into the overrun BitSet
// when the queue is full. Sending happens only when the connection's socket can take more,
// so a client that stops reading costs at most its queue plus the socket's buffer. A monitor that
// asked for the distributor plugin (`field(_[pydistributor=…])`) gets only its share of the posts.
// Spec: Protocol-Messages "Channel Monitor", Protocol-Operation-Monitor (pipeline).
import { BitSet } from '../../pvdata/bitset.js';
import type { FieldSelection } from '../../pvdata/pvrequest.js';
import { encodeBitSet, encodePartial } from '../../pvdata/value-codec.js';
import { valueBytes, type PVStructure } from '../../pvdata/values.js';
import { Cmd, Sub } from '../constants.js';
import type { DistributorSettings } from '../../pv/distributor.js';
import type { PVSubscriber } from '../../pv/source.js';
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

export interface MonitorStats {
  /** Updates posted to this subscription. */
  posted: number;
  /** Updates sent to the client. */
  sent: number;
  /** Updates squashed into another because the queue was full (in entries or in bytes). */
  overruns: number;
  /** Bytes now held by the queue (bounded by serverLimits.maxQueueBytes). */
  queuedBytes: number;
  /** Posted values that could not be encoded in the PV's type (dropped). */
  encodeErrors: number;
}

export class MonitorOp implements ServerOp, PVSubscriber {
  readonly kind = 'monitor';
  readonly ioid: number;
  readonly channel: ServerChannel;
  readonly #conn: ServerConnection;
  readonly #sel: FieldSelection;
  readonly #queueSize: number;
  readonly pipeline: boolean;
  /** Pipelined: every update sent is within the client's credit (see creditHighWater). */
  get credited(): boolean {
    return this.pipeline;
  }
  /** Distributor settings from the request; null for a monitor that gets every update. */
  readonly distribution: DistributorSettings | null;
  #window: number;
  #queue: Entry[] = [];
  #running = false;
  #finishing = false;
  #unsubscribe: () => void = () => {};
  readonly stats: MonitorStats = { posted: 0, sent: 0, overruns: 0, queuedBytes: 0, encodeErrors: 0 };

  constructor(
    conn: ServerConnection,
    channel: ServerChannel,
    ioid: number,
    sel: FieldSelection,
    queueSize: number,
    pipeline: boolean,
    nfree: number,
    distribution: DistributorSettings | null = null,
  ) {
    this.#conn = conn;
    this.channel = channel;
    this.ioid = ioid;
    this.#sel = sel;
    this.#queueSize = Math.max(1, queueSize);
    this.pipeline = pipeline;
    this.#window = pipeline ? Math.max(0, nfree) : Infinity;
    this.distribution = distribution;
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
      this.#enqueue(first.value, BitSet.of(0), first.overrun?.isEmpty() === false ? this.#sel.mapBits(first.overrun) : null);
      for (let i = 1; i < held.length; i++) {
        const p = held[i] as HeldPost;
        this.onPost(p.value, p.changed, p.overrun);
      }
    } else if (pv.value) {
      this.#enqueue(pv.value, BitSet.of(0));
    }
  }

  onPost(value: PVStructure, changed: BitSet, overrun?: BitSet): void {
    const mapped = this.#sel.mapBits(changed);
    if (mapped.isEmpty()) return; // nothing this client asked for changed
    this.stats.posted++;
    // An overrun upstream (a relayed PV) is this client's overrun too, in its numbering.
    this.#enqueue(value, mapped, overrun === undefined || overrun.isEmpty() ? null : this.#sel.mapBits(overrun));
  }

  /** `changed` and `overrun` are this monitor's own (mapped) sets: the entry keeps them. */
  #enqueue(value: PVStructure, changed: BitSet, overrun: BitSet | null = null): void {
    const q = this.#queue;
    const bytes = ENTRY_BYTES + valueBytes(value);
    if (q.length === 0 || (q.length < this.#queueSize && this.#bytesFit(bytes))) {
      q.push({ value, changed, overrun: overrun ?? new BitSet(), bytes });
      this.#addBytes(bytes);
    } else {
      // Queue full: squash into the newest entry; fields changed twice go into overrun, with
      // those that arrived overrun already.
      const last = q[q.length - 1] as Entry;
      for (const b of changed) if (last.changed.get(b)) last.overrun.set(b);
      if (overrun) last.overrun.or(overrun);
      last.changed.or(changed);
      last.value = value;
      this.#addBytes(bytes - last.bytes);
      last.bytes = bytes;
      this.stats.overruns++;
      this.#conn.server.stats.overruns++;
    }
    if (this.#running) this.#conn.markReady(this);
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

  /** The PV closed: send what can be sent of the queue now, then go. */
  onClose(): void {
    this.#finishing = true;
    this.#conn.markReady(this);
  }

  hasRoom(): boolean {
    // A pipelined monitor may hand the socket all its credit covers (creditHighWater), but a
    // producer that waits for room is asked to wait from postHighWater on (see ConnectionLimits).
    if (this.credited && !this.#conn.postable) return false;
    const q = this.#queue;
    if (q.length === 0) return true;
    // The next value's size is unknown: room means another entry as large as the newest fits.
    return q.length < this.#queueSize && this.#bytesFit((q[q.length - 1] as Entry).bytes);
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
    const canSend = (this.#running || this.#finishing) && this.#window > 0;
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
        return this.#queue.length > 0;
      }
      this.#window--;
      this.stats.sent++;
      if (wasFull) this.channel.pv.notifyRoom();
      return this.#queue.length > 0 && this.#window > 0;
    }
    if (this.#finishing && this.#queue.length === 0) {
      // No final update (Sub.DESTROY): to PVXS and Sluice clients it means "finished for good",
      // while a closed PV may come back. The DESTROY_CHANNEL that follows makes clients search
      // again, as with PVXS's SharedPV::close().
      this.#finishing = false;
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
