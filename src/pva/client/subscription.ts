// A client monitor as an async iterator of updates. The queue is bounded: with pipeline flow
// control the server never sends more than the credit we return as the user consumes updates
// (half the initial window at a time, as pvAccessCPP and PVXS do; a window sized in bytes grows
// after the first update with one more ack); without it, a full queue squashes
// the newest update into the last one and counts an overrun. Survives reconnects.
import { EventEmitter } from 'node:events';
import { BitSet } from '../../pvdata/bitset.js';
import type { PVRequest } from '../../pvdata/pvrequest.js';
import { decodeType } from '../../pvdata/type-codec.js';
import type { StructureDesc } from '../../pvdata/types.js';
import type { PVUpdate } from '../../pvdata/update.js';
import { decodeBitSet, decodePartial, encodeTyped } from '../../pvdata/value-codec.js';
import { defaultValue, type PVStructure } from '../../pvdata/values.js';
import type { ByteReader } from '../../pvdata/wire.js';
import { RemoteError } from '../../errors.js';
import { Cmd, Sub } from '../constants.js';
import { decodeStatus } from '../status.js';
import type { PvaChannel, ChannelUser } from './channel.js';
import type { ClientConnection, OpHandler } from './client-conn.js';

/** What a subscription yields: the value with its changed and overrun marks (see PVUpdate). */
export type MonitorUpdate = PVUpdate;

export interface PvaSubscriptionStats {
  /** Updates received from the server. */
  received: number;
  /** Updates squashed in our queue because the consumer was slower (no pipeline only). */
  queueOverruns: number;
  /** Received updates that carried a non-empty overrun BitSet (squashed by the server). */
  serverOverruns: number;
  /** Bytes of message payload received for this subscription. */
  bytes: number;
  /** Times the subscription was (re)connected. */
  connects: number;
}

export interface PvaSubscriptionOptions {
  queueSize: number;
  pipeline: boolean;
  /** Pipeline credit: updates the server may send ahead of consumption (default queueSize). */
  window?: number;
  /** Grow the credit after the first update to this many bytes of updates (see MonitorOptions). */
  windowBytes?: number;
}

/** Largest credit a byte-sized window grows to. */
const MAX_WINDOW = 65536;

export class PvaSubscription extends EventEmitter implements AsyncIterableIterator<MonitorUpdate>, ChannelUser {
  readonly channel: PvaChannel;
  readonly stats: PvaSubscriptionStats = { received: 0, queueOverruns: 0, serverOverruns: 0, bytes: 0, connects: 0 };
  readonly #request: PVRequest;
  readonly #opts: PvaSubscriptionOptions;
  readonly #nextIoid: () => number;
  #queue: MonitorUpdate[] = [];
  #waiter: ((r: IteratorResult<MonitorUpdate>) => void) | null = null;
  #failWaiter: ((e: Error) => void) | null = null;
  #type: StructureDesc | null = null;
  #current: PVStructure | null = null;
  #conn: ClientConnection | null = null;
  #sid = -1;
  #ioid = -1;
  #consumed = 0;
  /** Credit given on this connection so far beyond the initial window (0 until it grows). */
  #grown = false;
  #done = false;
  #error: Error | null = null;

  constructor(channel: PvaChannel, request: PVRequest, opts: PvaSubscriptionOptions, nextIoid: () => number) {
    super();
    this.channel = channel;
    this.#request = request;
    const queueSize = Math.max(1, opts.queueSize);
    this.#opts = { ...opts, queueSize, window: Math.max(queueSize, opts.window ?? queueSize) };
    this.#nextIoid = nextIoid;
    channel.addUser(this);
  }

  get type(): StructureDesc | null {
    return this.#type;
  }

  /** Updates waiting to be consumed. */
  get pending(): number {
    return this.#queue.length;
  }

  /** The newest queued update (still queued), if any. */
  peekLast(): MonitorUpdate | undefined {
    return this.#queue[this.#queue.length - 1];
  }

  onConnect(conn: ClientConnection, sid: number): void {
    if (this.#done) return;
    this.#conn = conn;
    this.#sid = sid;
    this.#ioid = this.#nextIoid();
    this.#consumed = 0;
    this.#grown = false;
    const handler: OpHandler = {
      onReply: (sub, r) => this.#onReply(sub, r),
      onDisconnect: () => {},
    };
    conn.ops.set(this.#ioid, handler);
    const pipeline = this.#opts.pipeline;
    conn.send(Cmd.MONITOR, (w) => {
      w.i32(sid);
      w.i32(this.#ioid);
      w.u8(pipeline ? Sub.PIPELINE_INIT : Sub.INIT);
      encodeTyped(w, this.#request.type, this.#request.value);
      if (pipeline) w.i32(this.#opts.window as number);
    });
  }

  onDisconnect(err: Error): void {
    this.#conn = null;
    this.emit('disconnect', err);
  }

  #onReply(sub: number, r: ByteReader): void {
    const conn = this.#conn;
    if (!conn || this.#done) return;
    if (sub & Sub.INIT) {
      const st = decodeStatus(r);
      if (st.type > 1) return this.#fail(new RemoteError(`monitor ${this.channel.name}: ${st.message}`, st.type, st.stack));
      const type = decodeType(r, conn.typeCache);
      if (!type || type.kind !== 'structure') return this.#fail(new RemoteError(`monitor ${this.channel.name}: no structure type`));
      if (this.#type !== type) this.#current = null; // new type after reconnect: start afresh
      this.#type = type;
      this.stats.connects++;
      this.emit('connect', type);
      conn.send(Cmd.MONITOR, (w) => {
        w.i32(this.#sid);
        w.i32(this.#ioid);
        w.u8(Sub.MONITOR_START);
      });
      return;
    }
    if (sub & Sub.DESTROY) {
      // Final update: the PV finished (closed) on the server.
      const st = r.remaining > 0 ? decodeStatus(r) : null;
      if (st && st.type > 1) this.#fail(new RemoteError(`monitor ${this.channel.name}: ${st.message}`, st.type, st.stack));
      else this.#finish();
      return;
    }
    const type = this.#type as StructureDesc;
    const start = r.remaining;
    const changed = decodeBitSet(r);
    const base = this.#current ?? (defaultValue(type) as PVStructure);
    const value = decodePartial(r, type, base, changed, conn.typeCache);
    const overrun = r.remaining > 0 ? decodeBitSet(r) : new BitSet();
    this.#current = value;
    this.stats.received++;
    this.stats.bytes += start;
    if (!overrun.isEmpty()) this.stats.serverOverruns++;
    if (!this.#grown) this.#growWindow(conn, start);
    this.#push({ type, value, changed, overrun });
  }

  #push(u: MonitorUpdate): void {
    if (this.#waiter) {
      const w = this.#waiter;
      this.#waiter = this.#failWaiter = null;
      this.#consume();
      w({ value: u, done: false });
      return;
    }
    const q = this.#queue;
    if (q.length < this.#opts.queueSize || this.#opts.pipeline) {
      q.push(u);
      return;
    }
    const last = q[q.length - 1] as MonitorUpdate;
    for (const b of u.changed) if (last.changed.get(b)) last.overrun.set(b);
    last.changed.or(u.changed);
    last.overrun.or(u.overrun);
    last.value = u.value;
    this.stats.queueOverruns++;
  }

  /** First update on this connection: now that its size is known, extend the credit in bytes. */
  #growWindow(conn: ClientConnection, updateBytes: number): void {
    this.#grown = true;
    const { pipeline, windowBytes, window } = this.#opts;
    if (!pipeline || !windowBytes) return;
    const target = Math.min(MAX_WINDOW, Math.floor(windowBytes / Math.max(1, updateBytes)));
    if (target > (window as number)) conn.monitorAck(this.#sid, this.#ioid, target - (window as number));
  }

  /** One update consumed: return pipeline credit in batches of half the queue. */
  #consume(): void {
    if (!this.#opts.pipeline || !this.#conn) return;
    this.#consumed++;
    const batch = Math.max(1, (this.#opts.window as number) >> 1);
    if (this.#consumed >= batch) {
      this.#conn.monitorAck(this.#sid, this.#ioid, this.#consumed);
      this.#consumed = 0;
    }
  }

  next(): Promise<IteratorResult<MonitorUpdate>> {
    const u = this.#queue.shift();
    if (u) {
      this.#consume();
      return Promise.resolve({ value: u, done: false });
    }
    if (this.#error) return Promise.reject(this.#error);
    if (this.#done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.#waiter = resolve;
      this.#failWaiter = reject;
    });
  }

  /**
   * Take every queued update at once, as if next() had returned each (pipeline credit is
   * returned for them): for a consumer that wants to skip what piled up.
   */
  takeQueued(): MonitorUpdate[] {
    const taken = this.#queue;
    this.#queue = [];
    for (let k = 0; k < taken.length; k++) this.#consume();
    return taken;
  }

  /** Stop the subscription (also what `break` in a for-await loop does). */
  return(): Promise<IteratorResult<MonitorUpdate>> {
    this.close();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  #finish(): void {
    this.#done = true;
    this.channel.removeUser(this);
    if (this.#conn) this.#conn.ops.delete(this.#ioid);
    if (this.#waiter && this.#queue.length === 0) {
      const w = this.#waiter;
      this.#waiter = this.#failWaiter = null;
      w({ value: undefined, done: true });
    }
    this.emit('end');
  }

  #fail(err: Error): void {
    this.#error = err;
    const f = this.#failWaiter;
    this.#waiter = this.#failWaiter = null;
    this.#finish();
    if (f) f(err);
    else if (this.listenerCount('error') > 0) this.emit('error', err);
  }

  close(): void {
    if (this.#done) return;
    const conn = this.#conn;
    if (conn && !conn.closed) conn.destroyRequest(this.#sid, this.#ioid);
    this.#queue.length = 0;
    this.#finish();
  }
}
