// A channel reader: a pipelined pvAccess monitor of the channel's PV whose pvRequest asks the
// server for this reader's buffer (record[queueSize,policy,fillRate,key]), as an async iterator of
// messages that tell the value from who wrote it. The server filters (fill rate) and drops (policy)
// before sending; the pipeline keeps the server from sending more than the reader consumes, so the
// server's buffer, not the socket, is where a slow reader's backlog waits.
import { ConnectionError, InvalidArgumentError } from '../errors.js';
import type { PvaSubscription } from '../pva/client/subscription.js';
import type { ReaderPolicy } from '../pv/source.js';
import { READER_POLICIES } from '../pv/source.js';
import { pvRequest } from '../pvdata/pvrequest-builder.js';
import type { PVRequest } from '../pvdata/pvrequest.js';
import { t, type FieldDesc, type StructureDesc } from '../pvdata/types.js';
import type { PVStructure } from '../pvdata/values.js';
import { DEFAULT_READER_POLICY, DEFAULT_READER_QUEUE, WRITER_FIELD } from './protocol.js';

export interface SubscribeOptions {
  /** The reader's buffer on the server (default 100). */
  queueSize?: number;
  /** What the buffer does when full (default 'ring'). */
  policy?: ReaderPolicy;
  /** Keep every n-th value (default 1: all). */
  fillRate?: number;
  /** The key of a private channel. */
  key?: string;
  /** End the iteration once every writer seen has sent its end mark (default true). */
  untilEnd?: boolean;
  /**
   * Yield every end mark (default false). An end mark repeats its writer's last value with
   * `writer.end` true; without this option it is yielded only when that value did not come
   * before it (dropped by the buffer, or squashed into the mark), so each value comes once.
   */
  ends?: boolean;
}

export interface WriterMark {
  /** Who wrote the value: the writer's client name (or a plain pvAccess client's address). */
  id: string;
  /** The writer's sequence number of the value (1, 2, ...). */
  seq: number;
  /** The writer's end-of-transfer mark. */
  end: boolean;
}

export interface ChannelMessage {
  /** The writer's fields (the value without the writer mark). */
  value: PVStructure;
  writer: WriterMark;
  /** The server squashed or dropped values before this one (its overrun marks). */
  overrun: boolean;
}

export interface ChannelReaderStats {
  /** Values received (end marks not included). */
  received: number;
  /** End marks received. */
  ends: number;
  /** Messages that came with the server's overrun mark. */
  overruns: number;
  /** Values missing between consecutive messages of a writer (sequence gaps: fill rate and drops). */
  gaps: number;
  /** Bytes of update payload received. */
  bytes: number;
}

/** The pvRequest of a reader: its buffer as record options. */
export function readerRequest(o: SubscribeOptions): PVRequest {
  const queueSize = o.queueSize ?? DEFAULT_READER_QUEUE;
  const policy = o.policy ?? DEFAULT_READER_POLICY;
  const fillRate = o.fillRate ?? 1;
  if (!Number.isInteger(queueSize) || queueSize < 1)
    throw new InvalidArgumentError(`queueSize must be a positive integer, not ${queueSize}`);
  if (!READER_POLICIES.includes(policy))
    throw new InvalidArgumentError(`policy must be one of ${READER_POLICIES.join(', ')}, not '${policy}'`);
  if (!Number.isInteger(fillRate) || fillRate < 1) throw new InvalidArgumentError(`fillRate must be a positive integer, not ${fillRate}`);
  return pvRequest()
    .record({ queueSize, policy, fillRate, pipeline: true, ...(o.key !== undefined ? { key: o.key } : {}) })
    .build();
}

export class ChannelReader implements AsyncIterableIterator<ChannelMessage> {
  readonly channel: string;
  readonly stats: ChannelReaderStats = { received: 0, ends: 0, overruns: 0, gaps: 0, bytes: 0 };
  readonly #sub: PvaSubscription;
  readonly #untilEnd: boolean;
  readonly #ends: boolean;
  /** Last sequence number per writer; ended writers are removed from `#open`. */
  readonly #lastSeq = new Map<string, number>();
  readonly #open = new Set<string>();
  #done = false;
  #seenEnd = false;
  #fullType: StructureDesc | null = null;
  #type: StructureDesc | null = null;

  /** @internal ChannelClient.subscribe makes readers. */
  constructor(channel: string, sub: PvaSubscription, options: SubscribeOptions) {
    this.channel = channel;
    this.#sub = sub;
    this.#untilEnd = options.untilEnd ?? true;
    this.#ends = options.ends ?? false;
  }

  /** The channel's value type without the writer mark (null until the monitor connected). */
  get type(): StructureDesc | null {
    const full = this.#sub.type;
    if (!full) return null;
    if (full !== this.#fullType) {
      this.#fullType = full;
      this.#type = withoutWriterField(full);
    }
    return this.#type;
  }

  /**
   * Resolves once the server has this reader (its monitor is in place, so the channel's writers
   * count it); rejects if the server refused it (a wrong key).
   */
  ready(): Promise<void> {
    if (this.#sub.type) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const ok = () => (this.#sub.off('end', gone), resolve());
      const gone = () => (
        this.#sub.off('connect', ok),
        reject(new ConnectionError('ERR_CHANNEL_CLOSED', `reader of ${this.channel} ended before it connected`))
      );
      this.#sub.once('connect', ok);
      this.#sub.once('end', gone);
    });
  }

  /** True once an end mark came (from any writer). */
  get sawEnd(): boolean {
    return this.#seenEnd;
  }

  /** Writers seen that have not sent their end mark yet. */
  get openWriters(): string[] {
    return [...this.#open];
  }

  async next(): Promise<IteratorResult<ChannelMessage>> {
    for (;;) {
      if (this.#done) return { value: undefined, done: true };
      const r = await this.#sub.next();
      if (r.done) {
        this.#done = true;
        return r;
      }
      const u = r.value;
      const v = u.value;
      const mark = v[WRITER_FIELD] as PVStructure | undefined;
      const id = String(mark?.['id'] ?? '');
      // The value a monitor starts with, before any writer wrote: nothing to read.
      if (id === '') continue;
      const seq = Number(mark?.['seq'] ?? 0);
      const end = Boolean(mark?.['end']);
      this.stats.bytes = this.#sub.stats.bytes;
      const overrun = !u.overrun.isEmpty();
      if (overrun) this.stats.overruns++;
      const last = this.#lastSeq.get(id);
      // An end mark carries its writer's last value: after a gap that value did not come on its
      // own (dropped, or the mark was squashed into its queue entry), so it counts as a value.
      const lastValueMissing = end && seq > (last ?? 0) + 1;
      if (last !== undefined && seq > last + 1) this.stats.gaps += seq - last - (lastValueMissing ? 2 : 1);
      this.#lastSeq.set(id, seq);
      if (end) {
        this.stats.ends++;
        this.#open.delete(id);
        this.#seenEnd = true;
      } else this.#open.add(id);
      if (!end || lastValueMissing) this.stats.received++;
      if (end && this.#untilEnd && this.#open.size === 0) {
        this.#done = true;
        this.#sub.close();
      }
      if (end && !this.#ends && !lastValueMissing) continue;
      const value: PVStructure = {};
      for (const k in v) if (k !== WRITER_FIELD) value[k] = v[k];
      return { value: { value, writer: { id, seq, end }, overrun }, done: false };
    }
  }

  /** Stop reading (also what `break` in a for-await loop does); the server drops the reader's buffer. */
  close(): void {
    this.#done = true;
    this.#sub.close();
  }

  return(): Promise<IteratorResult<ChannelMessage>> {
    this.close();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }
}

/** A channel's type as its writers see it: without the field the server fills. */
export function withoutWriterField(type: StructureDesc): StructureDesc {
  return t.struct(
    type.fields.filter((f) => f.name !== WRITER_FIELD).map((f) => [f.name, f.type] as [string, FieldDesc]),
    type.id,
  );
}
