// A ring of frames with Pyacq's semantics (RingBuffer of pyacq/core/stream/ringbuffer.py): one
// writer, readers that may live in other threads. Two int64 counters at the start of the buffer,
// the write index (end of the region being overwritten) and the read index (end of what is fully
// written), are published in order, so a reader that checks them knows what it read was whole.
// Frames are `shape.slice(1)` of `dtype`; axis 0 is time; indices are absolute sample numbers.
import { InvalidArgumentError } from '../errors.js';
import { RingLayout } from './ring-layout.js';
import type { PVTypedArray } from '../pvdata/values.js';
import type { NdChunk, StreamDType } from './transfer.js';
import {
  chunkFrames,
  cOrderStrides,
  dtypeOf,
  fillValueFor,
  elementCount,
  makeTypedArray,
  stridedCopy,
  typedArrayClass,
} from './ndarray.js';

/** A read outside the readable window (Pyacq raises IndexError; it is never clipped). */
export class RingIndexError extends InvalidArgumentError {
  constructor(message: string) {
    super(message);
    this.name = 'RingIndexError';
  }
}

export interface RingBufferOptions {
  /** shape[0]: the ring size in samples; shape.slice(1): the frame shape. */
  shape: readonly number[];
  dtype: StreamDType;
  /** Double buffering: 2x memory, every sample written twice, every window one contiguous view. */
  double?: boolean;
  /** Value of gaps and of the initial contents (null: NaN for floats, 0 otherwise). */
  fill?: number | bigint | null;
  /** Memory order of the axes (a permutation of 0..ndim-1; null: C order). The shape seen is unchanged. */
  axisorder?: readonly number[] | null;
  /** Allocate the ring in a SharedArrayBuffer (so other threads can attach to it). */
  shared?: boolean;
  /** Attach to an existing ring's buffer (another thread's): the contents are kept, not filled. */
  buffer?: ArrayBuffer | SharedArrayBuffer;
  /** Where the data starts in the buffer (default 16, after the counters); room for a caller's header. */
  dataOffset?: number;
}

export interface ReadOptions {
  /** Return a fresh C-order array instead of a view of the ring. */
  copy?: boolean;
}

const WRITE = 0;
const READ = 1;
export const RING_COUNTERS_BYTES = 16;

export class RingBuffer {
  readonly size: number;
  readonly dtype: StreamDType;
  readonly frameShape: readonly number[];
  readonly double: boolean;
  readonly fill: number | bigint;
  readonly axisorder: readonly number[] | null;
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  readonly dataOffset: number;
  /** Samples in memory (size, or 2 size when double). */
  readonly capacity: number;
  readonly #counters: BigInt64Array;
  readonly #data: PVTypedArray;
  readonly #layout: RingLayout;
  /** Element strides of the memory, per logical axis (axis 0 is time). */
  readonly #strides: readonly number[];
  readonly #frameSize: number;
  readonly #cOrder: boolean;

  constructor(options: RingBufferOptions) {
    const { dtype } = options;
    const layout = new RingLayout(options);
    this.#layout = layout;
    this.size = layout.size;
    this.dtype = dtype;
    this.frameShape = layout.frameShape;
    this.double = layout.double;
    this.fill = fillValueFor(dtype, options.fill ?? null);
    this.#frameSize = layout.frameSize;
    this.capacity = layout.capacity;
    this.axisorder = layout.axisorder;
    this.#cOrder = layout.cOrder;
    this.#strides = layout.strides;
    const Ctor = typedArrayClass(dtype);
    const dataOffset = options.dataOffset ?? RING_COUNTERS_BYTES;
    if (dataOffset < RING_COUNTERS_BYTES || dataOffset % 8 !== 0) {
      throw new InvalidArgumentError(`ring dataOffset ${dataOffset} must be a multiple of 8, at least ${RING_COUNTERS_BYTES}`);
    }
    this.dataOffset = dataOffset;
    const bytes = dataOffset + this.capacity * this.#frameSize * Ctor.BYTES_PER_ELEMENT;
    const attached = options.buffer !== undefined;
    if (options.buffer !== undefined) {
      if (options.buffer.byteLength < bytes) {
        throw new InvalidArgumentError(
          `ring buffer of ${options.buffer.byteLength} bytes is smaller than the ${bytes} bytes the ring needs`,
        );
      }
      this.buffer = options.buffer;
    } else {
      this.buffer = options.shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes);
    }
    this.#counters = new BigInt64Array(this.buffer, 0, 2);
    this.#data = makeTypedArray(dtype, this.buffer, dataOffset, this.capacity * this.#frameSize);
    if (!attached) (this.#data as { fill(v: number | bigint): unknown }).fill(this.fill);
  }

  /** Bytes a ring of these options needs (its buffer may be larger). */
  static byteLength(options: Pick<RingBufferOptions, 'shape' | 'dtype' | 'double' | 'dataOffset'>): number {
    const size = options.shape[0] ?? 0;
    const cap = options.double ? 2 * size : size;
    return (
      (options.dataOffset ?? RING_COUNTERS_BYTES) +
      cap * elementCount(options.shape.slice(1)) * typedArrayClass(options.dtype).BYTES_PER_ELEMENT
    );
  }

  /** End of the readable window: the last fully written sample + 1. */
  index(): number {
    return Number(Atomics.load(this.#counters, READ));
  }

  /** End of the region being written (equal to index() between writes). */
  writeIndex(): number {
    return Number(Atomics.load(this.#counters, WRITE));
  }

  /** Start of the readable window: index() - size (negative at first: those samples read as fill). */
  firstIndex(): number {
    return Math.max(this.index(), this.writeIndex()) - this.size;
  }

  /**
   * Write `data` ending at absolute sample `index` (default: right after the current index). An
   * index that jumps ahead leaves a gap that reads as the fill value. Counters are published in
   * Pyacq's order; if a step throws both are rolled back (the oldest samples of the window may
   * then hold parts of the failed chunk, as in Pyacq).
   */
  write(data: NdChunk | PVTypedArray, index?: number): number {
    const chunk: NdChunk = ArrayBuffer.isView(data) ? { data, shape: [data.length / this.#frameSize, ...this.frameShape] } : data;
    if (dtypeOf(chunk.data) !== this.dtype) {
      throw new InvalidArgumentError(`chunk dtype ${dtypeOf(chunk.data) ?? 'unknown'} does not match the ring's ${this.dtype}`);
    }
    const n = chunkFrames(chunk, this.frameShape, this.#frameSize);
    if (n > this.size) throw new InvalidArgumentError(`chunk of ${n} samples is larger than the ring of ${this.size}`);
    const oldWrite = Atomics.load(this.#counters, WRITE);
    const oldRead = Atomics.load(this.#counters, READ);
    const before = Number(oldRead);
    const end = index ?? before + n;
    if (!Number.isSafeInteger(end)) throw new InvalidArgumentError(`ring index ${String(end)} is not a safe integer`);
    if (end - before < n) {
      throw new InvalidArgumentError(
        `ring index ${end} advances by ${end - before}, less than the chunk's ${n} samples (index is the last sample + 1)`,
      );
    }
    try {
      Atomics.store(this.#counters, WRITE, BigInt(end));
      const start = end - n;
      const gapStart = Math.max(before, end - this.size);
      if (start > gapStart) this.#fillRange(gapStart, start);
      if (n > 0) this.#put(chunk, start, n);
      Atomics.store(this.#counters, READ, BigInt(end));
    } catch (e) {
      Atomics.store(this.#counters, WRITE, oldWrite);
      Atomics.store(this.#counters, READ, oldRead);
      throw e;
    }
    return end;
  }

  /** Set both counters (a stream restarting at `index`); the contents read as they are. */
  reset(index = 0): void {
    Atomics.store(this.#counters, WRITE, BigInt(index));
    Atomics.store(this.#counters, READ, BigInt(index));
  }

  /** Start again at `index` with nothing written: every sample of the window reads as the fill value. */
  clear(index = 0): void {
    // The write counter first, as write() does: a reader that looks meanwhile sees the old window as invalid.
    Atomics.store(this.#counters, WRITE, BigInt(Math.max(this.index(), index) + this.size));
    (this.#data as { fill(v: number | bigint): unknown }).fill(this.fill);
    Atomics.store(this.#counters, WRITE, BigInt(index));
    Atomics.store(this.#counters, READ, BigInt(index));
  }

  /**
   * Samples [start, stop) by absolute index, one chunk: a view of the ring when it is contiguous
   * (always when double), a copy when a single ring wraps or `copy` is set.
   */
  getData(start: number, stop: number, options?: ReadOptions & { join?: true }): NdChunk;
  /** With join false: one piece, or two when a single ring wraps (no copy unless `copy`). */
  getData(start: number, stop: number, options: ReadOptions & { join: false }): NdChunk[];
  getData(start: number, stop: number, options: ReadOptions & { join?: boolean } = {}): NdChunk | NdChunk[] {
    this.#checkWindow(start, stop);
    const pieces = this.#pieces(start, stop);
    if (options.join === false) return options.copy ? pieces.map((p) => this.#copyOf(p)) : pieces;
    if (pieces.length === 1) {
      const only = pieces[0] as NdChunk;
      return options.copy ? this.#copyOf(only) : only;
    }
    return this.#join(pieces, stop - start);
  }

  /**
   * Pyacq's ring[start:stop:step]: negative bounds are relative to index() (ring.slice(-10) is
   * the last ten samples); positive ones are absolute. A step > 1 is a strided view.
   */
  slice(start?: number, stop?: number, step = 1, options: ReadOptions = {}): NdChunk {
    if (!Number.isSafeInteger(step) || step <= 0) throw new InvalidArgumentError(`slice step must be a positive integer, not ${step}`);
    const now = this.index();
    const a = start === undefined ? this.firstIndex() : start < 0 ? now + start : start;
    const b = stop === undefined ? now : stop < 0 ? now + stop : stop;
    const whole = this.getData(a, Math.max(a, b), options);
    if (step === 1) return whole;
    const strides = whole.strides ?? cOrderStrides(whole.shape);
    const frames = Math.ceil((whole.shape[0] ?? 0) / step);
    const picked: NdChunk = {
      data: whole.data,
      shape: [frames, ...whole.shape.slice(1)],
      strides: [(strides[0] ?? 0) * step, ...strides.slice(1)],
    };
    return options.copy ? this.#copyOf(picked) : picked;
  }

  /** One frame (shape = frameShape) at absolute index i (negative: relative to index()). */
  at(i: number, options: ReadOptions = {}): NdChunk {
    const abs = i < 0 ? this.index() + i : i;
    const one = this.getData(abs, abs + 1, options);
    return { data: one.data, shape: one.shape.slice(1), ...(one.strides ? { strides: one.strides.slice(1) } : {}) };
  }

  #checkWindow(start: number, stop: number): void {
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(stop) || stop < start) {
      throw new RingIndexError(`ring read [${start}, ${stop}) is not a range of integers`);
    }
    const first = this.firstIndex();
    const last = this.index();
    if (start < first || stop > last) {
      throw new RingIndexError(`ring read [${start}, ${stop}) is outside the readable window [${first}, ${last})`);
    }
  }

  #pieces(start: number, stop: number): NdChunk[] {
    return this.#layout.readSpans(start, stop - start).map((s) => this.#layout.view(this.#data, this.#strides, s.pos, s.count));
  }

  #copyOf(c: NdChunk): NdChunk {
    const out = makeTypedArray(this.dtype, null, 0, elementCount(c.shape));
    stridedCopy(out, 0, cOrderStrides(c.shape), c.data, 0, c.strides ?? cOrderStrides(c.shape), c.shape);
    return { data: out, shape: [...c.shape] };
  }

  #join(pieces: NdChunk[], n: number): NdChunk {
    const shape = [n, ...this.frameShape];
    const out = makeTypedArray(this.dtype, null, 0, n * this.#frameSize);
    const outStrides = cOrderStrides(shape);
    let at = 0;
    for (const p of pieces) {
      stridedCopy(out, at * this.#frameSize, outStrides, p.data, 0, p.strides ?? cOrderStrides(p.shape), p.shape);
      at += p.shape[0] as number;
    }
    return { data: out, shape };
  }

  /** Copy a chunk into [start, start+n), wrapping, and again one size further when double. */
  #put(chunk: NdChunk, start: number, n: number): void {
    const srcStrides = chunk.strides ?? null;
    const s0 = srcStrides === null ? this.#frameSize : (srcStrides[0] as number);
    for (const s of this.#layout.writeSpans(start, n)) this.#copyIn(chunk.data, s.offset * s0, srcStrides, s.pos, s.count);
  }

  #copyIn(src: PVTypedArray, srcOffset: number, srcStrides: readonly number[] | null, pos: number, n: number): void {
    const f = this.#frameSize;
    const contiguous = this.#cOrder && (srcStrides === null || isCOrder(srcStrides, [n, ...this.frameShape]));
    if (contiguous) {
      (this.#data as Float64Array).set(src.subarray(srcOffset, srcOffset + n * f) as Float64Array, pos * f);
      return;
    }
    const shape = [n, ...this.frameShape];
    stridedCopy(this.#data, pos * (this.#strides[0] as number), this.#strides, src, srcOffset, srcStrides ?? cOrderStrides(shape), shape);
  }

  #fillRange(from: number, to: number): void {
    for (const s of this.#layout.writeSpans(from, to - from)) this.#fillAt(s.pos, s.count);
  }

  #fillAt(pos: number, n: number): void {
    if (this.#cOrder) {
      const f = this.#frameSize;
      (this.#data as { fill(v: number | bigint, a: number, b: number): unknown }).fill(this.fill, pos * f, (pos + n) * f);
      return;
    }
    const filler = makeTypedArray(this.dtype, null, 0, 1);
    (filler as { fill(v: number | bigint): unknown }).fill(this.fill);
    const shape = [n, ...this.frameShape];
    stridedCopy(
      this.#data,
      pos * (this.#strides[0] as number),
      this.#strides,
      filler,
      0,
      shape.map(() => 0),
      shape,
    );
  }
}

function isCOrder(strides: readonly number[], shape: readonly number[]): boolean {
  const c = cOrderStrides(shape);
  return strides.every((s, k) => s === c[k] || (shape[k] as number) <= 1);
}
