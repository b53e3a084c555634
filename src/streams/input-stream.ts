// The receiving end of a stream: connect() to an output (a local OutputStream, its params, or
// anything with `params`, such as a proxy to a remote output), then recv() -> [index, chunk] or
// `for await (const [index, chunk] of input)`. Chunks pass through the post-filters (stage 5).
// setBuffer() attaches a RingBuffer that every received chunk is appended to (Pyacq's
// set_buffer); getData() reads it by absolute sample index.
import { isObjectProxy } from '../rpc/index.js';
import { ConnectionError, InvalidArgumentError, SluiceError } from '../errors.js';
import type { NdChunk, ConnectParams, ReaderPolicy, StreamReceiver, StreamSpec } from './transfer.js';
import { applyFilters, type StreamFilter } from './filters.js';
import { modeOf } from './output-stream.js';
import { shapeMatches } from './spec.js';
import { RingBuffer, type ReadOptions } from './ring-buffer.js';

/** What connect() takes: params, or something that has them (an OutputStream, a proxy), or promises of either. */
export type StreamTarget = ConnectParams | { params: ConnectParams | Promise<ConnectParams> } | Promise<ConnectParams>;

export interface InputStreamOptions {
  /** Fields the input requires of the output (protocol, transfermode, shape with -1 as wildcard, dtype); others override locally. */
  spec?: Partial<StreamSpec> & Record<string, unknown>;
  /** lossless (default: the writer waits for this reader) or drop-oldest (counted). */
  policy?: ReaderPolicy;
  /** Chunks queued for this reader before the policy applies (default 8). */
  queueSize?: number;
}

export interface InputStats {
  received: number;
  /** Chunks this reader's own queue dropped (drop-oldest); squashes on a tcp server count in the output's stats. */
  dropped: number;
  /** Chunks emptyQueue() threw away. */
  discarded: number;
}

export interface SetBufferOptions {
  /** Ring size in samples (default: the stream's bufferSize). */
  size?: number;
  /** Double ring (default true): every window of up to `size` samples is one contiguous view. */
  double?: boolean;
  /** Memory order of the axes (null: C order). */
  axisorder?: readonly number[] | null;
  /** Value of gaps and of samples never written (null: NaN for floats, 0 otherwise). */
  fill?: number | bigint | null;
}

const CHECKED = ['protocol', 'transfermode', 'dtype'] as const;

type Received = { index: number; chunk: NdChunk } | null;

/** Whether two axis orders lay memory out the same way (null and the identity are C order). */
function sameOrder(a: readonly number[] | null, b: readonly number[] | null): boolean {
  const c = (o: readonly number[] | null): readonly number[] | null => (o === null || o.every((x, i) => x === i) ? null : o);
  const x = c(a);
  const y = c(b);
  if (x === null || y === null) return x === y;
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

/** The last `keep` samples of a chunk (a view). */
function tailOf(chunk: NdChunk, keep: number): NdChunk {
  const n = chunk.shape[0] as number;
  const frame = chunk.shape.slice(1).reduce((p, d) => p * d, 1);
  const step = chunk.strides?.[0] ?? frame;
  const data = chunk.data.subarray((n - keep) * step);
  return { ...chunk, data, shape: [keep, ...chunk.shape.slice(1)] };
}

async function paramsOf(target: StreamTarget): Promise<ConnectParams> {
  // A proxy to an output in another process (Pyacq's connect(proxy)), or a deferred attribute
  // (`node.outputs.out`) checked before awaiting it: one get of its params, which come by value.
  if (isObjectProxy(target)) return paramsOf((await target._get('params')) as ConnectParams);
  const t = await target;
  if (isObjectProxy(t)) return paramsOf((await t._get('params')) as ConnectParams);
  if (t === null || typeof t !== 'object')
    throw new InvalidArgumentError('stream connect: give an output stream, its params, or a proxy with params');
  const p =
    'params' in t && !('dtype' in t) ? await (t as { params: ConnectParams | Promise<ConnectParams> }).params : (t as ConnectParams);
  if (p === null || typeof p !== 'object' || typeof p.dtype !== 'string' || !Array.isArray(p.shape)) {
    throw new InvalidArgumentError('stream connect: the params have no dtype and shape (is the output configured?)');
  }
  return p;
}

export class InputStream {
  readonly #wanted: Partial<StreamSpec> & Record<string, unknown>;
  readonly #policy: ReaderPolicy;
  readonly #queueSize: number;
  #params: ConnectParams | null = null;
  #receiver: StreamReceiver | null = null;
  #postFilters: StreamFilter[] = [];
  #index = 0;
  #buffer: RingBuffer | null = null;
  /** The buffer is the sharedmem receiver's own ring: the writer fills it, recv() does not. */
  #bufferShared = false;
  #discarded = 0;
  /** A receive poll() started: recv() takes its result. */
  #ahead: { got: Promise<Received>; settled: boolean; chunk: boolean } | null = null;
  /** The receiver's counts when it closed (stats() stay readable after close()). */
  #lastStats = { received: 0, dropped: 0 };

  constructor(options: InputStreamOptions = {}) {
    this.#wanted = options.spec ?? {};
    this.#policy = options.policy ?? 'lossless';
    if (this.#policy !== 'lossless' && this.#policy !== 'drop-oldest')
      throw new InvalidArgumentError(`stream input: policy '${String(options.policy)}' is not lossless or drop-oldest`);
    this.#queueSize = options.queueSize ?? 8;
    if (!Number.isSafeInteger(this.#queueSize) || this.#queueSize < 1)
      throw new InvalidArgumentError(`stream input: queueSize must be >= 1, not ${String(options.queueSize)}`);
  }

  /** The output's params as this input uses them (its own spec's other fields applied). */
  get params(): ConnectParams {
    if (!this.#params) throw new SluiceError('ERR_INVALID_ARGUMENT', 'stream input: not connected');
    return this.#params;
  }

  get connected(): boolean {
    return this.#receiver !== null;
  }

  /** Index of the last sample received + 1 (0 after resetIndex()). */
  get index(): number {
    return this.#index;
  }

  /** Connect to an output; a spec mismatch (protocol, transfermode, dtype, shape) is an ERR_INVALID_ARGUMENT naming both. */
  async connect(target: StreamTarget): Promise<void> {
    if (this.#receiver) throw new SluiceError('ERR_INVALID_ARGUMENT', 'stream input: already connected (close() it first)');
    const params = await paramsOf(target);
    for (const k of CHECKED) {
      const want = this.#wanted[k];
      if (want !== undefined && want !== params[k])
        throw new InvalidArgumentError(`stream connect: the output's ${k} is '${String(params[k])}', this input needs '${String(want)}'`);
    }
    const shape = this.#wanted.shape;
    if (shape !== undefined && !shapeMatches(shape, params.shape)) {
      throw new InvalidArgumentError(
        `stream connect: the output's shape [${params.shape.join(', ')}] does not fit this input's [${shape.join(', ')}]`,
      );
    }
    const local = { ...params };
    for (const [k, v] of Object.entries(this.#wanted)) if (!(CHECKED as readonly string[]).includes(k) && k !== 'shape') local[k] = v;
    const receiver = await modeOf(params).createReceiver(params, { policy: this.#policy, queueSize: this.#queueSize });
    this.#params = local;
    this.#receiver = receiver;
  }

  /**
   * Attach a ring buffer of the last `size` samples, fed by every recv() with the chunks as they
   * arrive (before post-filters; gaps read as `fill`). A sharedmem receiver's own ring is used
   * when it is at least `size` long with the same double and axis order (no second copy).
   * Call after connect(); a second call replaces the buffer.
   */
  setBuffer(options: SetBufferOptions = {}): RingBuffer {
    const params = this.params;
    const size = options.size ?? params.bufferSize;
    if (!Number.isSafeInteger(size) || size <= 0)
      throw new InvalidArgumentError(`setBuffer: size must be a positive integer of samples, not ${String(size)}`);
    const double = options.double ?? true;
    const axisorder = options.axisorder ?? null;
    const fill = options.fill ?? null;
    const own = (this.#receiver as { ring?: unknown } | null)?.ring;
    if (
      own instanceof RingBuffer &&
      own.size >= size &&
      own.double === double &&
      sameOrder(own.axisorder, axisorder) &&
      (fill === null || own.fill === fill)
    ) {
      this.#buffer = own;
      this.#bufferShared = true;
      return own;
    }
    const frame = params.shape.slice(1);
    this.#buffer = new RingBuffer({ shape: [size, ...frame], dtype: params.dtype, double, axisorder, fill });
    this.#bufferShared = false;
    return this.#buffer;
  }

  /** The attached ring buffer, or null before setBuffer() (kept after close(): the last samples stay readable). */
  get buffer(): RingBuffer | null {
    return this.#buffer;
  }

  /** Samples [start, stop) by absolute index from the buffer; outside its window: RingIndexError. */
  getData(start: number, stop: number, options?: ReadOptions & { join?: true }): NdChunk;
  getData(start: number, stop: number, options: ReadOptions & { join: false }): NdChunk[];
  getData(start: number, stop: number, options: ReadOptions & { join?: boolean } = {}): NdChunk | NdChunk[] {
    const ring = this.#requireBuffer('getData');
    return options.join === false
      ? ring.getData(start, stop, { ...options, join: false })
      : ring.getData(start, stop, { copy: options.copy ?? false });
  }

  /** End of the buffer's readable window (the last sample in it + 1). */
  bufferIndex(): number {
    return this.#requireBuffer('bufferIndex').index();
  }

  /** Start of the buffer's readable window (negative at first: those samples read as fill). */
  firstIndex(): number {
    return this.#requireBuffer('firstIndex').firstIndex();
  }

  #requireBuffer(what: string): RingBuffer {
    if (!this.#buffer) throw new SluiceError('ERR_INVALID_ARGUMENT', `stream input: ${what}() needs a buffer (call setBuffer() first)`);
    return this.#buffer;
  }

  /** Append a received chunk to a local buffer; a stream that restarted (index went back) restarts it. */
  #append(index: number, chunk: NdChunk): void {
    const ring = this.#buffer as RingBuffer;
    const n = chunk.shape[0] as number;
    if (index - n < ring.index()) ring.clear(index - n);
    ring.write(n > ring.size ? tailOf(chunk, ring.size) : chunk, index);
  }

  /** Add a function `(index, chunk) => [index, chunk]` run on every received chunk. */
  addPostFilter(filter: StreamFilter): void {
    if (typeof filter !== 'function')
      throw new InvalidArgumentError('addPostFilter: a filter is a function (index, chunk) => [index, chunk]');
    this.#postFilters.push(filter);
  }

  /** The next chunk as [index, chunk]; rejects with ERR_CHANNEL_CLOSED once the output closed. */
  async recv(): Promise<[number, NdChunk]> {
    const r = await this.#next();
    if (r === null) throw new ConnectionError('ERR_CHANNEL_CLOSED', 'stream input: the stream ended (output or input closed)');
    return r;
  }

  async #next(): Promise<[number, NdChunk] | null> {
    const receiver = this.#requireReceiver();
    const ahead = this.#ahead;
    this.#ahead = null;
    const got = await (ahead ? ahead.got : receiver.recv());
    if (got === null) return null;
    if (this.#buffer && !this.#bufferShared) this.#append(got.index, got.chunk);
    const r =
      this.#postFilters.length > 0 ? applyFilters(this.#postFilters, got.index, got.chunk) : ([got.index, got.chunk] as [number, NdChunk]);
    this.#index = r[0];
    return r;
  }

  /** Chunks until the stream ends. */
  async *[Symbol.asyncIterator](): AsyncGenerator<[number, NdChunk], void, undefined> {
    for (;;) {
      const r = await this.#next();
      if (r === null) return;
      yield r;
    }
  }

  /** Forget the last index (the output restarts from 0 after its own resetIndex()). */
  resetIndex(): void {
    this.#index = 0;
    if (this.#buffer && !this.#bufferShared) this.#buffer.clear(0);
  }

  /** Chunks that arrived and that recv() returns without waiting (0 when not connected). */
  get queued(): number {
    return (this.#receiver?.queued() ?? 0) + (this.#ahead?.settled === true && this.#ahead.chunk ? 1 : 0);
  }

  /**
   * Wait at most `timeoutMs` (default: no limit) for something to receive (Pyacq's poll): true
   * when recv() will return at once, with a chunk or because the stream ended (or a chunk failed
   * its checks), false after the timeout. The chunk it waited for stays for recv().
   */
  async poll(timeoutMs = Infinity): Promise<boolean> {
    const receiver = this.#requireReceiver();
    if (this.#ahead?.settled === true || (this.#ahead === null && receiver.queued() > 0)) return true;
    if (this.#ahead === null) {
      const ahead = { got: receiver.recv(), settled: false, chunk: false };
      ahead.got.then(
        (r) => ((ahead.settled = true), (ahead.chunk = r !== null)),
        () => (ahead.settled = true),
      );
      this.#ahead = ahead;
    }
    const ahead = this.#ahead;
    if (timeoutMs <= 0) {
      await Promise.resolve();
      return ahead.settled;
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = Number.isFinite(timeoutMs) ? new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs))) : null;
    try {
      await Promise.race(timeout ? [ahead.got.then(nothing, nothing), timeout] : [ahead.got.then(nothing, nothing)]);
    } finally {
      clearTimeout(timer);
    }
    return ahead.settled;
  }

  #requireReceiver(): StreamReceiver {
    if (!this.#receiver) throw new SluiceError('ERR_INVALID_ARGUMENT', 'stream input: connect() first');
    return this.#receiver;
  }

  /**
   * Throw away the chunks that arrived and were not received yet (Pyacq's empty_queue), e.g.
   * those queued before a node starts reading; returns how many (also counted in
   * stats().discarded). Chunks still on the way are not touched; the end of the stream is kept.
   * Discarded chunks do not reach the buffer of setBuffer().
   */
  emptyQueue(): number {
    const receiver = this.#requireReceiver();
    let n = 0;
    if (this.#ahead?.settled === true && this.#ahead.chunk) {
      this.#ahead = null;
      n++;
    }
    n += receiver.discardQueued();
    this.#discarded += n;
    return n;
  }

  stats(): InputStats {
    const s = this.#receiver?.stats?.() ?? this.#lastStats;
    return { received: s.received, dropped: s.dropped, discarded: this.#discarded };
  }

  async close(): Promise<void> {
    const r = this.#receiver;
    this.#receiver = null;
    this.#ahead = null;
    if (r?.stats) this.#lastStats = { ...r.stats() };
    await r?.close();
  }
}

function nothing(): void {}
