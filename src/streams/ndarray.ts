// Small n-d array helpers for ring buffers and shared-memory chunks: typed array classes by
// dtype, C-order strides, a strided copy, fill values. Strides are in elements.
import { InvalidArgumentError } from '../errors.js';
import type { PVTypedArray } from '../pvdata/values.js';
import type { NdChunk, StreamDType } from './transfer.js';

type TypedArrayClass = {
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): PVTypedArray;
  new (length: number): PVTypedArray;
  readonly BYTES_PER_ELEMENT: number;
};

const CLASSES: Record<StreamDType, TypedArrayClass> = {
  int8: Int8Array,
  uint8: Uint8Array,
  int16: Int16Array,
  uint16: Uint16Array,
  int32: Int32Array,
  uint32: Uint32Array,
  int64: BigInt64Array,
  uint64: BigUint64Array,
  float32: Float32Array,
  float64: Float64Array,
} as unknown as Record<StreamDType, TypedArrayClass>;

export function typedArrayClass(dtype: StreamDType): TypedArrayClass {
  const c = CLASSES[dtype];
  if (c === undefined)
    throw new InvalidArgumentError(`unknown stream dtype ${JSON.stringify(dtype)} (one of ${Object.keys(CLASSES).join(', ')})`);
  return c;
}

/** The dtype of a typed array (by its class). */
export function dtypeOf(a: unknown): StreamDType | undefined {
  if (!ArrayBuffer.isView(a)) return undefined;
  const known = BY_CLASS.get(a.constructor);
  if (known !== undefined) return known;
  for (const [name, c] of Object.entries(CLASSES)) if (a instanceof (c as unknown as typeof Int8Array)) return name as StreamDType; // subclasses (Buffer)
  return undefined;
}

const BY_CLASS = new Map<unknown, StreamDType>(Object.entries(CLASSES).map(([name, c]) => [c, name as StreamDType]));

/** A typed array over `buffer` (or a new one when buffer is null). */
export function makeTypedArray(dtype: StreamDType, buffer: ArrayBufferLike | null, byteOffset: number, length: number): PVTypedArray {
  const C = typedArrayClass(dtype);
  return buffer === null ? new C(length) : new C(buffer, byteOffset, length);
}

/** Product of all dimensions (the elements of a chunk, or of one frame given its shape). */
export function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function cOrderStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let k = shape.length - 1; k >= 0; k--) {
    strides[k] = s;
    s *= shape[k] as number;
  }
  return strides;
}

/** Pyacq's fill: null means NaN for floats and 0 otherwise; 64-bit integer rings take bigints. */
export function fillValueFor(dtype: StreamDType, fill: number | bigint | null): number | bigint {
  const big = dtype === 'int64' || dtype === 'uint64';
  if (fill === null) return big ? 0n : dtype.startsWith('float') ? NaN : 0;
  if (big) {
    if (typeof fill === 'number' && !Number.isInteger(fill))
      throw new InvalidArgumentError(`fill ${fill} is not an integer for dtype ${dtype}`);
    return BigInt(fill);
  }
  return Number(fill);
}

/**
 * The number of samples of `chunk` after checking that its trailing shape is `frameShape` and
 * that its data covers the shape (with its strides).
 */
export function chunkFrames(chunk: NdChunk, frameShape: readonly number[], size: number): number {
  const { shape, data } = chunk;
  const n = shape[0];
  if (n === undefined || !Number.isSafeInteger(n) || n < 0)
    throw new InvalidArgumentError(`chunk shape ${JSON.stringify(shape)} has no sample count`);
  if (shape.length !== frameShape.length + 1 || frameShape.some((d, k) => shape[k + 1] !== d)) {
    throw new InvalidArgumentError(`chunk shape ${JSON.stringify(shape)} does not end with the frame shape ${JSON.stringify(frameShape)}`);
  }
  if (chunk.strides === undefined) {
    if (data.length !== n * size)
      throw new InvalidArgumentError(`chunk data has ${data.length} elements, shape ${JSON.stringify(shape)} needs ${n * size}`);
    return n;
  }
  if (chunk.strides.length !== shape.length)
    throw new InvalidArgumentError(`chunk strides ${JSON.stringify(chunk.strides)} do not match shape ${JSON.stringify(shape)}`);
  let last = 0;
  for (let k = 0; k < shape.length; k++) {
    const s = chunk.strides[k] as number;
    if (!Number.isSafeInteger(s) || s < 0) throw new InvalidArgumentError(`chunk stride ${s} is not a non-negative integer`);
    last += ((shape[k] as number) - 1) * s;
  }
  if (n > 0 && size > 0 && last >= data.length) {
    throw new InvalidArgumentError(
      `chunk strides ${JSON.stringify(chunk.strides)} reach element ${last}, beyond its ${data.length} elements`,
    );
  }
  return n;
}

/** Copy an n-d block element by element between two strided layouts. */
export function stridedCopy(
  dst: PVTypedArray,
  dstOffset: number,
  dstStrides: readonly number[],
  src: PVTypedArray,
  srcOffset: number,
  srcStrides: readonly number[],
  shape: readonly number[],
): void {
  const d = dst as Float64Array;
  const s = src as Float64Array;
  const ndim = shape.length;
  if (ndim === 0) {
    d[dstOffset] = s[srcOffset] as number;
    return;
  }
  const last = ndim - 1;
  const n = shape[last] as number;
  const ds = dstStrides[last] as number;
  const ss = srcStrides[last] as number;
  const walk = (axis: number, dOff: number, sOff: number): void => {
    if (axis === last) {
      for (let i = 0; i < n; i++) d[dOff + i * ds] = s[sOff + i * ss] as number;
      return;
    }
    const m = shape[axis] as number;
    const dsa = dstStrides[axis] as number;
    const ssa = srcStrides[axis] as number;
    for (let i = 0; i < m; i++) walk(axis + 1, dOff + i * dsa, sOff + i * ssa);
  };
  walk(0, dstOffset, srcOffset);
}
