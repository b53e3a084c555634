// A CA monitor as an async iterator of normative-type values. EVENT_ADD with DBR_TIME of the
// native type (value, alarm, time stamp); units, limits and enum labels come from the channel's
// DBR_CTRL read at connect. CA has no flow control per subscription, so the queue is bounded:
// when it is full the newest value replaces the last one queued and an overrun is counted.
// Survives reconnects: the subscription is made again whenever its channel connects.
import { EventEmitter } from 'node:events';
import { RemoteError } from '../errors.js';
import { BitSet } from '../pvdata/bitset.js';
import type { StructureDesc } from '../pvdata/types.js';
import type { PVUpdate } from '../pvdata/update.js';
import { decodeReply, type CaChannel, type ChannelUser } from './channel.js';
import type { Circuit } from './circuit.js';
import { CA_MINOR_VERSION, Eca, EventMask, ecaMessage } from './constants.js';
import type { CaHeader } from './header.js';
import * as msg from './messages.js';
import { ntValueOf, timeTypeOf, type NativeInfo } from './nt-mapping.js';

/**
 * A CA update as every monitor yields it (see PVUpdate). Channel Access has no changed marks:
 * each update is a complete value (value, alarm, time stamp, and the properties read at
 * connect), so everything changed, and nothing was squashed upstream (a CA server reports no
 * overrun). All updates share these two read-only sets.
 */
export type CaUpdate = PVUpdate;

const ALL_CHANGED = BitSet.of(0);
const NO_OVERRUN = new BitSet();

export interface CaSubscriptionStats {
  /** Updates received from the server. */
  received: number;
  /** Updates squashed because the queue was full (the consumer was slower). */
  overruns: number;
  /** Times the subscription was (re)established. */
  connects: number;
}

export interface CaMonitorOptions {
  /** Updates kept for a slow consumer (default 4). */
  queueSize?: number;
  /** EVENT_ADD mask (default DBE_VALUE | DBE_ALARM, as camonitor). */
  mask?: number;
}

export class CaSubscription extends EventEmitter implements AsyncIterableIterator<CaUpdate>, ChannelUser {
  readonly channel: CaChannel;
  readonly stats: CaSubscriptionStats = { received: 0, overruns: 0, connects: 0 };
  readonly #queueSize: number;
  readonly #mask: number;
  readonly #nextId: () => number;
  #queue: CaUpdate[] = [];
  #waiter: { resolve(r: IteratorResult<CaUpdate>): void; reject(e: Error): void } | null = null;
  #circuit: Circuit | null = null;
  #subid = 0;
  #asked = { type: 0, count: 0 };
  #done = false;
  #error: Error | null = null;

  constructor(channel: CaChannel, opts: CaMonitorOptions, nextId: () => number) {
    super();
    this.channel = channel;
    this.#queueSize = Math.max(1, opts.queueSize ?? 4);
    this.#mask = opts.mask ?? EventMask.VALUE | EventMask.ALARM;
    this.#nextId = nextId;
    channel.addUser(this);
  }

  get type(): StructureDesc | null {
    return this.channel.type;
  }

  /** Updates waiting to be consumed. */
  get pending(): number {
    return this.#queue.length;
  }

  onConnected(ch: CaChannel): void {
    if (this.#done) return;
    const c = ch.circuit as Circuit;
    const native = ch.native as NativeInfo;
    const type = ch.type as StructureDesc;
    const ctrl = ch.ctrl;
    this.#circuit = c;
    this.#subid = this.#nextId();
    // CA 4.13 servers take count 0 as "the current length" (arrays that change size).
    this.#asked = { type: timeTypeOf(native), count: ch.serverMinor >= CA_MINOR_VERSION ? 0 : native.count };
    const asked = this.#asked;
    c.subscriptions.set(this.#subid, {
      onReply: (status, h, payload) => this.#onData(status, h, payload, asked.type, native, type, ctrl),
      onFail: (err) => this.#fail(err),
    });
    c.send(msg.eventAdd(ch.sid, this.#subid, asked.type, asked.count, this.#mask));
    this.stats.connects++;
    this.emit('connect', type);
  }

  onDisconnected(err: Error): void {
    this.#circuit = null;
    this.emit('disconnect', err);
  }

  onChannelClosed(): void {
    this.#circuit = null;
    this.#finish(); // what was queued can still be taken
  }

  #onData(
    status: number,
    h: CaHeader,
    payload: Uint8Array,
    asked: number,
    native: NativeInfo,
    type: StructureDesc,
    ctrl: CaChannel['ctrl'],
  ): void {
    if (this.#done) return;
    if (status !== Eca.NORMAL) return this.#fail(new RemoteError(`CA monitor ${this.channel.name}: ${ecaMessage(status)}`, 2));
    const data = decodeReply(this.channel.name, asked, h, payload);
    this.stats.received++;
    this.#push({ type, value: ntValueOf(native, data, ctrl), changed: ALL_CHANGED, overrun: NO_OVERRUN });
  }

  #push(u: CaUpdate): void {
    if (this.#waiter) {
      const w = this.#waiter;
      this.#waiter = null;
      w.resolve({ value: u, done: false });
      return;
    }
    if (this.#queue.length < this.#queueSize) {
      this.#queue.push(u);
      return;
    }
    this.#queue[this.#queue.length - 1] = u; // the newest wins
    this.stats.overruns++;
  }

  next(): Promise<IteratorResult<CaUpdate>> {
    const u = this.#queue.shift();
    if (u) return Promise.resolve({ value: u, done: false });
    if (this.#error) return Promise.reject(this.#error);
    if (this.#done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => (this.#waiter = { resolve, reject }));
  }

  /** Stops the subscription (what `break` in a for-await loop does). */
  return(): Promise<IteratorResult<CaUpdate>> {
    this.close();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  #fail(err: Error): void {
    if (this.#done) return;
    this.#error = err;
    const w = this.#waiter;
    this.#waiter = null;
    this.#finish();
    if (w) w.reject(err);
    else if (this.listenerCount('error') > 0) this.emit('error', err);
  }

  #finish(): void {
    this.#done = true;
    this.channel.removeUser(this);
    const c = this.#circuit;
    if (c && c.subscriptions.delete(this.#subid) && !c.closed && this.channel.state === 'connected') {
      c.send(msg.eventCancel(this.channel.sid, this.#subid, this.#asked.type, this.#asked.count));
    }
    this.#circuit = null;
    const w = this.#waiter;
    this.#waiter = null;
    w?.resolve({ value: undefined, done: true });
    this.emit('end');
  }

  /** Cancels the subscription on the server; the iterator ends (queued updates are dropped). */
  close(): void {
    if (this.#done) return;
    this.#queue.length = 0;
    this.#finish();
  }
}
