// Pre- and post-filters: functions `(index, chunk) => [index, chunk]` an output applies before
// chunking and an input after reassembly (Pyacq documents them; its code has no way to add one).
// The built-ins never modify the chunk they get: it may be the sender's own array (inproc) or a
// view of received bytes; they return new arrays.
import { InvalidArgumentError } from '../errors.js';
import type { PVTypedArray } from '../pvdata/values.js';
import { dtypeOf, elementCount, typedArrayClass } from './ndarray.js';
import type { NdChunk, StreamDType } from './transfer.js';
import { isStreamDType } from './spec.js';

export type StreamFilter = (index: number, chunk: NdChunk) => [number, NdChunk];

function isBig(a: PVTypedArray): a is BigInt64Array | BigUint64Array {
  return a instanceof BigInt64Array || a instanceof BigUint64Array;
}

/** A new array of the same class with `f` applied to each element (64-bit integers: through Number). */
function mapArray(a: PVTypedArray, f: (x: number) => number): PVTypedArray {
  const Ctor = a.constructor as new (n: number) => PVTypedArray;
  const out = new Ctor(a.length);
  if (isBig(a)) {
    const o = out as BigInt64Array | BigUint64Array;
    for (let i = 0; i < a.length; i++) o[i] = BigInt(Math.round(f(Number(a[i]))));
  } else {
    const o = out as Float64Array;
    const src = a as Float64Array;
    for (let i = 0; i < a.length; i++) o[i] = f(src[i] as number);
  }
  return out;
}

function finite(name: string, v: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new InvalidArgumentError(`${name} filter: ${String(v)} is not a finite number`);
  return v;
}

/** data * factor, in the chunk's dtype (integers wrap as a typed array stores them). */
export function scale(factor: number): StreamFilter {
  finite('scale', factor);
  return (index, c) => [index, { data: mapArray(c.data, (x) => x * factor), shape: c.shape }];
}

/** data + delta, in the chunk's dtype. */
export function offset(delta: number): StreamFilter {
  finite('offset', delta);
  return (index, c) => [index, { data: mapArray(c.data, (x) => x + delta), shape: c.shape }];
}

/** Convert to `dtype` (as numpy's astype: floats to integers truncate; 64-bit integers go through Number). */
export function cast(dtype: StreamDType): StreamFilter {
  if (!isStreamDType(dtype)) throw new InvalidArgumentError(`cast filter: '${String(dtype)}' is not a stream dtype`);
  const Ctor = typedArrayClass(dtype);
  const toBig = dtype === 'int64' || dtype === 'uint64';
  return (index, c) => {
    if (dtypeOf(c.data) === dtype) return [index, c];
    const src = c.data;
    const out = new Ctor(src.length) as PVTypedArray;
    if (toBig) {
      const o = out as BigInt64Array;
      for (let i = 0; i < src.length; i++) o[i] = isBig(src) ? (src[i] as bigint) : BigInt(Math.trunc(Number(src[i])) || 0);
    } else {
      const o = out as Float64Array;
      for (let i = 0; i < src.length; i++) o[i] = Number(src[i]);
    }
    return [index, { data: out, shape: c.shape }];
  };
}

/** Give each frame the shape `frameShape` (same number of elements; the data is not copied). */
export function reshape(frameShape: readonly number[]): StreamFilter {
  if (!Array.isArray(frameShape) || !frameShape.every((d) => Number.isSafeInteger(d) && d > 0)) {
    throw new InvalidArgumentError(`reshape filter: frame shape must be positive integers, not ${JSON.stringify(frameShape)}`);
  }
  const per = elementCount(frameShape);
  return (index, c) => {
    const frames = c.shape[0] as number;
    if (frames * per !== c.data.length) {
      throw new InvalidArgumentError(
        `reshape filter: ${frames} frames of [${frameShape.join(', ')}] need ${frames * per} elements, the chunk has ${c.data.length}`,
      );
    }
    return [index, { data: c.data, shape: [frames, ...frameShape] }];
  };
}

/** Run `chain` in order; a filter that returns something else than [index, chunk] is an error. */
export function applyFilters(chain: readonly StreamFilter[], index: number, chunk: NdChunk): [number, NdChunk] {
  let i = index;
  let c = chunk;
  for (const f of chain) {
    const r = f(i, c);
    if (!Array.isArray(r) || typeof r[0] !== 'number' || r[1] === null || typeof r[1] !== 'object') {
      throw new InvalidArgumentError('a stream filter must return [index, chunk]');
    }
    [i, c] = r;
  }
  return [i, c];
}

export const filters = { scale, offset, cast, reshape };
