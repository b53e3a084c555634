// The sending end of a stream. send() runs the first two stages of the pipeline (pre-filters,
// then chunking to chunkSize) and hands each chunk to the transfer mode's sender:
//
//   pre-filter -> chunking -> transfer (tcp | inproc | sharedmem | ...) -> reassembly -> post-filter
//
// Index semantics (Pyacq's): index = absolute index of the last sample + 1; by default the
// previous index plus the chunk's length; it may jump ahead (a gap) but never advance by less
// than the chunk's length.
import { InvalidArgumentError, SluiceError } from '../errors.js';
import { isCodecName } from '../pvdata/nt/codec/index.js';
import type { PVTypedArray } from '../pvdata/values.js';
import { toChunk } from './chunk.js';
import { dtypeOf, fillValueFor } from './ndarray.js';
import { Chunker } from './chunker.js';
import { applyFilters, type StreamFilter } from './filters.js';
import { normalizeSpec, shapeMatches } from './spec.js';
import {
  transferMode,
  transferModes,
  type ConnectParams,
  type NdChunk,
  type StreamSender,
  type StreamSpec,
  type TransferMode,
} from './transfer.js';
import './inproc-mode.js';
import './tcp-mode.js';
import './sharedmem.js';

/** The registered mode a spec names: 'plaindata' means the mode of its protocol (tcp or inproc). */
export function modeOf(spec: Pick<StreamSpec, 'transfermode' | 'protocol'>): TransferMode {
  const name = spec.transfermode === 'plaindata' ? spec.protocol : spec.transfermode;
  const mode = transferMode(name);
  if (!mode)
    throw new InvalidArgumentError(`stream: transfer mode '${name}' is not registered (registered: ${transferModes().join(', ')})`);
  return mode;
}

export interface OutputStats {
  /** Chunks and bytes handed to the transfer mode (after chunking). */
  sent: number;
  bytes: number;
  /** Connected readers. */
  readers: number;
  /** Chunks lost by drop-oldest readers (or by lossless ones whose writer did not wait). */
  dropped: number;
}

export class OutputStream {
  #spec: StreamSpec | null = null;
  #sender: StreamSender | null = null;
  #chunker: Chunker | null = null;
  #preFilters: StreamFilter[] = [];
  /** Index of the last sample sent + 1, as the caller sees it, and after pre-filters. */
  #index = 0;
  #filteredIndex = 0;
  readonly #out: [number, NdChunk][] = [];

  get configured(): boolean {
    return this.#sender !== null;
  }

  /** The spec inputs connect with (the mode's fields included); configure() first. */
  get params(): ConnectParams {
    return this.#requireSender().params;
  }

  /** Index of the last sample sent + 1. */
  get index(): number {
    return this.#index;
  }

  get sender(): StreamSender | null {
    return this.#sender;
  }

  /** Check the parameters, fill in defaults and bind (tcp: listen on `interface`:`port`). */
  async configure(params: Partial<StreamSpec> & Record<string, unknown> = {}): Promise<ConnectParams> {
    if (this.#sender)
      throw new SluiceError('ERR_INVALID_ARGUMENT', 'stream: configure() on an output that is already configured (close() it first)');
    const spec = normalizeSpec(params);
    if (spec.compression !== '' && !isCodecName(spec.compression)) {
      throw new SluiceError(
        'ERR_CODEC',
        `stream: compression '${spec.compression}' is not a codec Sluice has (lz4, lz4hdf5, bslz4, blosc, zlib)`,
      );
    }
    const mode = modeOf(spec);
    const chunkSize = spec.chunkSize > 0 ? spec.chunkSize : Math.max(0, spec.shape[0] as number);
    // A fixed shape[0] is a chunk size too: chunks of other lengths are re-chunked to it.
    this.#chunker = chunkSize > 0 ? new Chunker(chunkSize, fillValueFor(spec.dtype, spec.fill)) : null;
    this.#spec = spec;
    this.#sender = await mode.createSender(spec);
    return this.#sender.params;
  }

  /** Add a function `(index, chunk) => [index, chunk]` run on every chunk before chunking. */
  addPreFilter(filter: StreamFilter): void {
    if (typeof filter !== 'function')
      throw new InvalidArgumentError('addPreFilter: a filter is a function (index, chunk) => [index, chunk]');
    this.#preFilters.push(filter);
  }

  /**
   * Send `data` (frames of the configured shape, axis 0 time; or an NdChunk) ending at `index`.
   * Returns false when a lossless reader is behind: wait for drained() before sending more.
   */
  send(data: PVTypedArray | NdChunk, index?: number): boolean {
    const sender = this.#requireSender();
    const spec = this.#spec as StreamSpec;
    let chunk = toChunk(data, spec.shape.slice(1));
    const n = chunk.shape[0] as number;
    const end = index ?? this.#index + n;
    if (!Number.isSafeInteger(end) || end < this.#index + n) {
      throw new InvalidArgumentError(
        `stream send: index ${String(index)} is less than the previous index ${this.#index} + the chunk's ${n} samples`,
      );
    }
    let at = end;
    if (this.#preFilters.length > 0) {
      [at, chunk] = applyFilters(this.#preFilters, end, chunk);
      const m = chunk.shape[0] as number;
      if (!Number.isSafeInteger(at) || at < this.#filteredIndex + m) {
        throw new InvalidArgumentError(
          `stream send: a pre-filter returned index ${at}, less than the previous ${this.#filteredIndex} + ${m} samples`,
        );
      }
    }
    const dtype = dtypeOf(chunk.data);
    if (dtype !== spec.dtype)
      throw new InvalidArgumentError(`stream send: data is ${String(dtype)}, the stream carries ${spec.dtype} (add a cast filter?)`);
    if (!shapeMatches([-1, ...spec.shape.slice(1)], chunk.shape)) {
      throw new InvalidArgumentError(
        `stream send: chunk shape [${chunk.shape.join(', ')}] does not fit the stream's [${spec.shape.join(', ')}]`,
      );
    }
    this.#index = end;
    this.#filteredIndex = at;
    if (!this.#chunker) return sender.send(at, chunk);
    const out = this.#chunker.push(at, chunk, this.#out);
    let room = true;
    try {
      for (const [i, c] of out) if (!sender.send(i, c)) room = false;
    } finally {
      out.length = 0; // never sent twice, even after a sender error
    }
    return room;
  }

  /** Resolves when every lossless reader has room again (at once if they have). */
  drained(): Promise<void> {
    return this.#requireSender().drained();
  }

  /** Start counting samples from 0 again (Node.start() does this); a pending partial chunk is dropped. */
  resetIndex(): void {
    this.#index = 0;
    this.#filteredIndex = 0;
    this.#chunker?.reset();
  }

  stats(): OutputStats {
    return this.#requireSender().stats();
  }

  /** Stop sending: readers get what was queued for them, then their streams end. */
  async close(): Promise<void> {
    const s = this.#sender;
    this.#sender = null;
    this.#spec = null;
    this.#chunker = null;
    await s?.close();
  }

  #requireSender(): StreamSender {
    if (!this.#sender) throw new SluiceError('ERR_INVALID_ARGUMENT', 'stream: the output is not configured (await configure() first)');
    return this.#sender;
  }
}
