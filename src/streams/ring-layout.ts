// Where a ring's samples live in memory, shared by the two rings that hold Pyacq's layout: the
// RingBuffer (an ArrayBuffer or SharedArrayBuffer, read through views) and the sharedmem ring
// file between processes (read and written with positional I/O). Both lay out `capacity`
// samples (size, or 2 size when double: every sample is written at i and i + size, so any
// window of up to size samples is contiguous) with the axes in `axisorder` (null: C order).
import { InvalidArgumentError } from '../errors.js';
import type { PVTypedArray } from '../pvdata/values.js';
import { cOrderStrides, elementCount } from './ndarray.js';
import type { NdChunk } from './transfer.js';

export interface RingLayoutOptions {
  /** shape[0]: the ring size in samples; shape.slice(1): the frame shape. */
  shape: readonly number[];
  double?: boolean;
  /** Memory order of the axes (a permutation of 0..ndim-1; null: C order). */
  axisorder?: readonly number[] | null;
}

/** A piece of a range of samples: `count` samples at memory position `pos`, `offset` samples into the range. */
export interface RingSpan {
  pos: number;
  offset: number;
  count: number;
}

export class RingLayout {
  readonly size: number;
  readonly frameShape: readonly number[];
  /** Elements per frame. */
  readonly frameSize: number;
  readonly double: boolean;
  /** Samples in memory (size, or 2 size when double). */
  readonly capacity: number;
  readonly axisorder: readonly number[] | null;
  /** The memory is C order (no axisorder, or the identity). */
  readonly cOrder: boolean;
  /** Element strides of the memory, per logical axis (axis 0 is time). */
  readonly strides: readonly number[];
  /** The axes, slowest first, as laid out in memory. */
  readonly #order: readonly number[];

  constructor(options: RingLayoutOptions) {
    const { shape } = options;
    const size = shape[0];
    if (size === undefined || !Number.isSafeInteger(size) || size <= 0) {
      throw new InvalidArgumentError(`ring size (shape[0]) must be a positive integer, not ${String(size)}`);
    }
    for (const d of shape) {
      if (!Number.isSafeInteger(d) || d <= 0)
        throw new InvalidArgumentError(`ring shape ${JSON.stringify(shape)} has a dimension that is not a positive integer`);
    }
    const order = options.axisorder ?? null;
    if (order !== null) {
      const sorted = [...order].sort((a, b) => a - b);
      if (order.length !== shape.length || sorted.some((a, i) => a !== i)) {
        throw new InvalidArgumentError(
          `axisorder ${JSON.stringify(order)} is not a permutation of the ${shape.length} axes of shape ${JSON.stringify(shape)}`,
        );
      }
    }
    this.size = size;
    this.frameShape = shape.slice(1);
    this.frameSize = elementCount(this.frameShape);
    this.double = options.double ?? false;
    this.capacity = this.double ? 2 * size : size;
    this.axisorder = order;
    this.cOrder = order === null || order.every((a, i) => a === i);
    this.#order = this.cOrder ? shape.map((_, i) => i) : (order as readonly number[]);
    this.strides = this.blockStrides(this.capacity);
  }

  /** Memory position of absolute sample i (in the first copy). */
  pos(i: number): number {
    return ((i % this.size) + this.size) % this.size;
  }

  /** Element strides, per logical axis, of `n` samples laid out in the ring's axis order. */
  blockStrides(n: number): number[] {
    const shape = [n, ...this.frameShape];
    if (this.cOrder) return cOrderStrides(shape);
    const strides = new Array<number>(shape.length).fill(0);
    let s = 1;
    for (let k = this.#order.length - 1; k >= 0; k--) {
      const axis = this.#order[k] as number;
      strides[axis] = s;
      s *= shape[axis] as number;
    }
    return strides;
  }

  /** Where samples [start, start + n) are read: one span when double or when they do not wrap. */
  readSpans(start: number, n: number): RingSpan[] {
    const pos = this.pos(start);
    if (this.double || pos + n <= this.size) return [{ pos, offset: 0, count: n }];
    const first = this.size - pos;
    return [
      { pos, offset: 0, count: first },
      { pos: 0, offset: first, count: n - first },
    ];
  }

  /** Where samples [start, start + n) are written: wrapping, and again one size further when double. */
  writeSpans(start: number, n: number): RingSpan[] {
    const pos = this.pos(start);
    const first = Math.min(n, this.size - pos);
    const spans: RingSpan[] = [{ pos, offset: 0, count: first }];
    if (first < n) spans.push({ pos: 0, offset: first, count: n - first });
    if (this.double) {
      spans.push({ pos: pos + this.size, offset: 0, count: first });
      if (first < n) spans.push({ pos: this.size, offset: first, count: n - first });
    }
    return spans;
  }

  /**
   * The contiguous element runs of a span, for I/O that cannot stride (the ring file): calls
   * `fn(memoryOffset, blockOffset, length)` in elements, where the block is `blockN` samples laid
   * out as blockStrides(blockN) and the span starts `span.offset` samples into it. C order: one run.
   */
  runs(span: RingSpan, blockN: number, fn: (memoryOffset: number, blockOffset: number, length: number) => void): void {
    const order = this.#order;
    const block = this.blockStrides(blockN);
    const dims = order.map((a) => (a === 0 ? span.count : (this.frameShape[a - 1] as number)));
    // Innermost axes that the span covers whole in memory make one run, up to the time axis included.
    const t = order.indexOf(0);
    const whole = span.count === this.capacity && span.count === blockN;
    const outer = whole ? 0 : t;
    let length = 1;
    for (let k = outer; k < dims.length; k++) length *= dims[k] as number;
    const mem0 = span.pos * (this.strides[0] as number);
    const block0 = span.offset * (block[0] as number);
    const idx = new Array<number>(outer).fill(0);
    for (;;) {
      let m = mem0;
      let b = block0;
      for (let k = 0; k < outer; k++) {
        const axis = order[k] as number;
        m += (idx[k] as number) * (this.strides[axis] as number);
        b += (idx[k] as number) * (block[axis] as number);
      }
      fn(m, b, length);
      let k = outer - 1;
      while (k >= 0 && (idx[k] = (idx[k] as number) + 1) === dims[k]) idx[k--] = 0;
      if (k < 0) return;
    }
  }

  /**
   * Samples [from, from + n) of `data`, which holds a block laid out with `strides` (per
   * logical axis): a view, with strides unless C order.
   */
  view(data: PVTypedArray, strides: readonly number[], from: number, n: number): NdChunk {
    const shape = [n, ...this.frameShape];
    if (this.cOrder) {
      const f = this.frameSize;
      return { data: data.subarray(from * f, (from + n) * f), shape };
    }
    const offset = from * (strides[0] as number);
    let last = offset;
    shape.forEach((d, k) => (last += (d - 1) * (strides[k] as number)));
    return { data: data.subarray(offset, n === 0 ? offset : last + 1), shape, strides };
  }
}
