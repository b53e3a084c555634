// NdChunk helpers: from what a user sends to a checked, C-ordered chunk (a view when it already is
// one, a copy only for strided data), and the numpy dtype of a typed array.
import { InvalidArgumentError } from '../errors.js';
import { TYPED_ARRAY, scalarTypeOfArray, type PVTypedArray } from '../pvdata/values.js';
import { frameSize } from './spec.js';
import { STREAM_DTYPES, type NdChunk, type StreamDType } from './transfer.js';

/** A typed array class (Float32Array, ...). */
export type TypedArrayCtor = NonNullable<(typeof TYPED_ARRAY)[keyof typeof TYPED_ARRAY]>;

const DTYPE_OF_SCALAR = Object.fromEntries(Object.entries(STREAM_DTYPES).map(([d, s]) => [s, d])) as Record<string, StreamDType>;

/** The numpy dtype name of a typed array (undefined for anything else). */
export function dtypeOf(a: unknown): StreamDType | undefined {
  const s = scalarTypeOfArray(a);
  return s === undefined ? undefined : DTYPE_OF_SCALAR[s];
}

export function arrayClassOf(dtype: StreamDType): TypedArrayCtor {
  return TYPED_ARRAY[STREAM_DTYPES[dtype]] as TypedArrayCtor;
}

export function isTypedArray(a: unknown): a is PVTypedArray {
  return ArrayBuffer.isView(a) && !(a instanceof DataView) && dtypeOf(a) !== undefined;
}

/** Product of all dimensions (elements of a chunk). */
export function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** The value written into gaps: `fill`, else NaN for floats and 0 for integers. */
export function fillValue(dtype: StreamDType, fill: number | bigint | null): number | bigint {
  const big = dtype === 'int64' || dtype === 'uint64';
  if (fill === null) return big ? 0n : dtype.startsWith('float') ? NaN : 0;
  return big ? BigInt(fill) : Number(fill);
}

function cOrderStrides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let n = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = n;
    n *= shape[i] as number;
  }
  return s;
}

/** A C-ordered copy of strided data (strides in elements, from element 0 of `data`). */
function contiguous(data: PVTypedArray, shape: readonly number[], strides: readonly number[]): PVTypedArray {
  const Ctor = data.constructor as TypedArrayCtor;
  const out = new Ctor(elementCount(shape)) as PVTypedArray;
  const src = data as unknown as ArrayLike<number>;
  const dst = out as unknown as Record<number, number>;
  let k = 0;
  const walk = (dim: number, base: number): void => {
    const n = shape[dim] as number;
    const step = strides[dim] as number;
    if (dim === shape.length - 1) {
      for (let i = 0; i < n; i++) dst[k++] = src[base + i * step] as number;
      return;
    }
    for (let i = 0; i < n; i++) walk(dim + 1, base + i * step);
  };
  if (out.length > 0) walk(0, 0);
  return out;
}

/**
 * A chunk from a typed array (frames of `frameShape`, axis 0 is time) or an NdChunk, checked:
 * whole frames, a shape that agrees with the data length, strides within the data. C-ordered
 * data is kept by reference.
 */
export function toChunk(data: PVTypedArray | NdChunk, frameShape: readonly number[]): NdChunk {
  if (isTypedArray(data)) {
    const per = frameSize([0, ...frameShape]);
    if (data.length % per !== 0) {
      throw new InvalidArgumentError(
        `stream send: ${data.length} elements is not a whole number of frames of shape [${frameShape.join(', ')}]`,
      );
    }
    return { data, shape: [data.length / per, ...frameShape] };
  }
  if (data === null || typeof data !== 'object' || !isTypedArray(data.data) || !Array.isArray(data.shape)) {
    throw new InvalidArgumentError('stream send: data must be a typed array or an NdChunk { data, shape }');
  }
  const shape = data.shape;
  if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0))
    throw new InvalidArgumentError(`stream send: bad shape [${shape.join(', ')}]`);
  if (data.strides === undefined || sameStrides(data.strides, cOrderStrides(shape))) {
    if (elementCount(shape) !== data.data.length) {
      throw new InvalidArgumentError(
        `stream send: shape [${shape.join(', ')}] needs ${elementCount(shape)} elements, the data has ${data.data.length}`,
      );
    }
    return { data: data.data, shape };
  }
  const strides = data.strides;
  if (strides.length !== shape.length || !strides.every((s) => Number.isSafeInteger(s) && s >= 0)) {
    throw new InvalidArgumentError(`stream send: strides [${strides.join(', ')}] do not fit shape [${shape.join(', ')}]`);
  }
  const last = shape.reduce((acc, d, i) => acc + (d - 1) * (strides[i] as number), 0);
  if (elementCount(shape) > 0 && last >= data.data.length) {
    throw new InvalidArgumentError(`stream send: strides [${strides.join(', ')}] reach past the ${data.data.length} elements of the data`);
  }
  return { data: contiguous(data.data, shape, strides), shape };
}

function sameStrides(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
