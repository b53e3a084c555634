// NdChunk helpers: from what a user sends to a checked, C-ordered chunk (a view when it already is
// one, a copy only for strided data), and the numpy dtype of a typed array.
import { InvalidArgumentError } from '../errors.js';
import type { PVTypedArray } from '../pvdata/values.js';
import { cOrderStrides, dtypeOf, elementCount, typedArrayClass } from './ndarray.js';
import type { NdChunk, StreamDType } from './transfer.js';

export function isTypedArray(a: unknown): a is PVTypedArray {
  return ArrayBuffer.isView(a) && !(a instanceof DataView) && dtypeOf(a) !== undefined;
}

/** A C-ordered copy of strided data (strides in elements, from element 0 of `data`). */
function contiguous(data: PVTypedArray, shape: readonly number[], strides: readonly number[]): PVTypedArray {
  const Ctor = typedArrayClass(dtypeOf(data) as StreamDType);
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
    const per = elementCount(frameShape);
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
