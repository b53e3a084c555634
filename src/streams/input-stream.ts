// The receiving end of a stream: connect() to an output (a local OutputStream, its params, or
// anything with `params`, such as a proxy to a remote output), then recv() -> [index, chunk] or
// `for await (const [index, chunk] of input)`. Chunks pass through the post-filters (stage 5).
import { ConnectionError, InvalidArgumentError, SluiceError } from '../errors.js';
import type { NdChunk, ConnectParams, ReaderPolicy, StreamReceiver, StreamSpec } from './transfer.js';
import { applyFilters, type StreamFilter } from './filters.js';
import { modeOf } from './output-stream.js';
import { shapeMatches } from './spec.js';

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
}

const CHECKED = ['protocol', 'transfermode', 'dtype'] as const;

async function paramsOf(target: StreamTarget): Promise<ConnectParams> {
  const t = await target;
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
    if (!this.#receiver) throw new SluiceError('ERR_INVALID_ARGUMENT', 'stream input: connect() first');
    const got = await this.#receiver.recv();
    if (got === null) return null;
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
  }

  stats(): InputStats {
    return this.#receiver?.stats?.() ?? { received: 0, dropped: 0 };
  }

  async close(): Promise<void> {
    const r = this.#receiver;
    this.#receiver = null;
    await r?.close();
  }
}
