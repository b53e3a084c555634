// Area Detector frames seen as images: NTNDArray ↔ (pixels, geometry) without copying pixels.
// The conventions are areaDetector's (dimension[0] varies fastest) and the shapes PvaPy's
// AdImageUtility gives its NumPy arrays, so that processors ported from Python find the same
// nx/ny/nz and the same row-major shape.
import { SluiceError } from '../errors.js';
import { decompress } from '../pvdata/nt/codec/index.js';
import { ColorMode, ntndarray } from '../pvdata/nt/ntndarray.js';
import type { TimeStamp } from '../pvdata/nt/common.js';
import { t, type FieldDesc, type StructureDesc } from '../pvdata/types.js';
import { ELEMENT_SIZE, scalarTypeOfArray, type PVStructure, type PVTypedArray, type PVValue } from '../pvdata/values.js';
import type { ScalarType } from '../pvdata/types.js';

/** Element offsets of one step along x, y and colour in `Frame.data` (pixel = data[x*sx + y*sy + c*sc]). */
export interface FrameStrides {
  x: number;
  y: number;
  c: number;
}

/**
 * One decoded frame. `data` is the NTNDArray's own array (not a copy), or for a compressed frame
 * the array decompressed from it (once per frame, however often frameOf() is called): do not
 * modify it in place.
 */
export interface Frame {
  /** The frame id (uniqueId). */
  id: number;
  data: PVTypedArray;
  dtype: ScalarType;
  nx: number;
  ny: number;
  /** Colour components per pixel: 1 for mono, usually 3 for RGB. */
  nz: number;
  colorMode: number;
  /** Row-major, slowest first, as NumPy would see it: [ny, nx] mono, [ny, nx, nz] RGB1, [ny, nz, nx] RGB2, [nz, ny, nx] RGB3. */
  shape: number[];
  strides: FrameStrides;
}

/** Geometry of an image to publish; nz defaults to 1 for mono, 3 for RGB. */
export interface ImageGeometry {
  nx: number;
  ny: number;
  nz?: number;
  colorMode?: number;
}

export interface ToNtNdArrayOptions extends ImageGeometry {
  uniqueId: number;
  /** Defaults to now. */
  dataTimeStamp?: TimeStamp;
  /** Extra top-level fields (e.g. tileIndexX); declare them with outputTypeWith() in getOutputType(). */
  extra?: Record<string, PVValue>;
}

function processorError(message: string): SluiceError {
  return new SluiceError('ERR_PROCESSOR', message);
}

function isRgb(colorMode: number): boolean {
  return colorMode === ColorMode.RGB1 || colorMode === ColorMode.RGB2 || colorMode === ColorMode.RGB3;
}

/**
 * NTNDArray dimension sizes (fastest first) for an image: [nx, ny] mono/Bayer, [nz, nx, ny] RGB1
 * (pixel interleaved), [nx, nz, ny] RGB2 (row interleaved), [nx, ny, nz] RGB3 (planar).
 */
export function dimsOf(g: ImageGeometry): number[] {
  const mode = g.colorMode ?? ColorMode.Mono;
  const nz = g.nz ?? (isRgb(mode) ? 3 : 1);
  switch (mode) {
    case ColorMode.Mono:
    case ColorMode.Bayer:
      if (nz !== 1) throw processorError(`a mono image has one component per pixel, not nz=${nz}`);
      return [g.nx, g.ny];
    case ColorMode.RGB1:
      return [nz, g.nx, g.ny];
    case ColorMode.RGB2:
      return [g.nx, nz, g.ny];
    case ColorMode.RGB3:
      return [g.nx, g.ny, nz];
    default:
      throw processorError(`color mode ${mode} is not supported (Mono, Bayer, RGB1, RGB2, RGB3 are)`);
  }
}

/** Strides for a layout; the inverse view of dimsOf(). */
export function stridesOf(g: ImageGeometry): FrameStrides {
  const mode = g.colorMode ?? ColorMode.Mono;
  const nz = g.nz ?? (isRgb(mode) ? 3 : 1);
  switch (mode) {
    case ColorMode.RGB1:
      return { c: 1, x: nz, y: nz * g.nx };
    case ColorMode.RGB2:
      return { x: 1, c: g.nx, y: g.nx * nz };
    case ColorMode.RGB3:
      return { x: 1, y: g.nx, c: g.nx * g.ny };
    default:
      return { x: 1, y: g.nx, c: 0 };
  }
}

/**
 * Read an NTNDArray as an image. The colour mode comes from the `ColorMode` attribute; without
 * one, two dimensions mean mono and three are told apart by which one has size 3. An empty frame
 * (no dimensions, like a simulator's initial record) gives nx = ny = 0 and an empty array.
 */
export function frameOf(value: PVStructure): Frame {
  const nd = ntndarray.read(value);
  const id = nd.uniqueId;
  if (nd.data !== null && !ArrayBuffer.isView(nd.data)) {
    throw processorError(`frame ${id}: boolean images are not supported`);
  }
  const data = nd.codec === '' ? (nd.data ?? new Uint8Array(0)) : decompressed(value, nd);
  const dtype = scalarTypeOfArray(data) ?? 'ubyte';
  const dims = nd.dims;
  if (dims.length === 0 && data.length === 0) {
    return {
      id,
      data,
      dtype,
      nx: 0,
      ny: 0,
      nz: 1,
      colorMode: nd.colorMode ?? ColorMode.Mono,
      shape: [0, 0],
      strides: { x: 1, y: 0, c: 0 },
    };
  }
  const colorMode = nd.colorMode ?? guessColorMode(dims, id);
  let nx: number, ny: number, nz: number, shape: number[];
  const need = (n: number) => {
    if (dims.length !== n) throw processorError(`frame ${id}: color mode ${colorMode} needs ${n} dimensions, got [${dims.join(', ')}]`);
  };
  switch (colorMode) {
    case ColorMode.Mono:
    case ColorMode.Bayer:
      need(2);
      [nx, ny] = dims as [number, number];
      nz = 1;
      shape = [ny, nx];
      break;
    case ColorMode.RGB1:
      need(3);
      [nz, nx, ny] = dims as [number, number, number];
      shape = [ny, nx, nz];
      break;
    case ColorMode.RGB2:
      need(3);
      [nx, nz, ny] = dims as [number, number, number];
      shape = [ny, nz, nx];
      break;
    case ColorMode.RGB3:
      need(3);
      [nx, ny, nz] = dims as [number, number, number];
      shape = [nz, ny, nx];
      break;
    default:
      throw processorError(`frame ${id}: color mode ${colorMode} is not supported (Mono, Bayer, RGB1, RGB2, RGB3 are)`);
  }
  if (nx * ny * nz !== data.length) {
    throw processorError(`frame ${id}: dimensions [${dims.join(', ')}] need ${nx * ny * nz} elements, data has ${data.length}`);
  }
  return { id, data, dtype, nx, ny, nz, colorMode, shape, strides: stridesOf({ nx, ny, nz, colorMode }) };
}

// Decoded arrays of compressed frames, kept as long as the frame's value union is alive.
const decodedCache = new WeakMap<object, PVTypedArray>();

/**
 * The pixels of a compressed frame (codec lz4, lz4hdf5, bslz4, blosc or zlib, as NDPluginCodec
 * writes them): the element type comes from codec.parameters, the size from the dimensions, and
 * uncompressedSize must agree. Errors are ERR_CODEC and name the frame.
 */
function decompressed(value: PVStructure, nd: ReturnType<typeof ntndarray.read>): PVTypedArray {
  const key = value['value'];
  const cached = typeof key === 'object' && key !== null ? decodedCache.get(key) : undefined;
  if (cached) return cached;
  const id = nd.uniqueId;
  const fail = (why: string) => new SluiceError('ERR_CODEC', `frame ${id}: ${why}`);
  if (nd.data === null || nd.data.length === 0) throw fail(`codec ${nd.codec} but no data`);
  const dtype = nd.uncompressedType;
  if (dtype === null || dtype === 'boolean' || dtype === 'string') throw fail(`codec ${nd.codec}: element type ${dtype} cannot be decoded`);
  if (nd.dims.some((d) => !Number.isSafeInteger(d) || d < 0)) throw fail(`bad dimensions [${nd.dims.join(', ')}]`);
  const nbytes = nd.dims.reduce((a, b) => a * b, nd.dims.length ? 1 : 0) * ELEMENT_SIZE[dtype];
  if (nd.uncompressedSize !== 0 && nd.uncompressedSize !== nbytes) {
    throw fail(`uncompressedSize ${nd.uncompressedSize} disagrees with dimensions [${nd.dims.join(', ')}] of ${dtype} (${nbytes} bytes)`);
  }
  let data: PVTypedArray;
  try {
    data = decompress(nd.codec, nd.data as PVTypedArray, dtype, nbytes);
  } catch (e) {
    if (e instanceof SluiceError) throw fail(e.message);
    throw e;
  }
  if (typeof key === 'object' && key !== null) decodedCache.set(key, data);
  return data;
}

function guessColorMode(dims: number[], id: number): number {
  if (dims.length === 2) return ColorMode.Mono;
  if (dims.length === 3) {
    if (dims[0] === 3) return ColorMode.RGB1;
    if (dims[1] === 3) return ColorMode.RGB2;
    if (dims[2] === 3) return ColorMode.RGB3;
  }
  throw processorError(`frame ${id}: cannot tell the color mode of dimensions [${dims.join(', ')}] without a ColorMode attribute`);
}

function checkSize(data: PVTypedArray, dims: number[]): void {
  const count = dims.reduce((a, b) => a * b, 1);
  if (count !== data.length) {
    throw processorError(`image dimensions [${dims.join(', ')}] need ${count} elements, data has ${data.length}`);
  }
}

/** A new NTNDArray holding `data` (referenced, not copied), with the ColorMode attribute set. */
export function toNtNdArray(data: PVTypedArray, opts: ToNtNdArrayOptions): PVStructure {
  const colorMode = opts.colorMode ?? ColorMode.Mono;
  const dims = dimsOf({ ...opts, colorMode });
  checkSize(data, dims);
  const init = { data, dims, uniqueId: opts.uniqueId, colorMode, ...(opts.dataTimeStamp ? { dataTimeStamp: opts.dataTimeStamp } : {}) };
  const value = ntndarray.build(init);
  if (opts.extra) {
    for (const [k, v] of Object.entries(opts.extra)) {
      if (k in value) throw processorError(`extra field '${k}' would replace an NTNDArray field`);
      value[k] = v;
    }
  }
  return value;
}

const extendedTypes = new Map<string, StructureDesc>();

/**
 * The full NTNDArray type plus extra top-level fields, for getOutputType() of processors that
 * publish extended frames. Cached by field list, so repeated calls return the same description.
 */
export function outputTypeWith(extraFields: Record<string, FieldDesc>): StructureDesc {
  const base = ntndarray.type();
  const entries = Object.entries(extraFields);
  for (const [name] of entries) {
    if (base.fields.some((m) => m.name === name)) throw processorError(`extra field '${name}' would replace an NTNDArray field`);
  }
  const key = JSON.stringify(entries);
  let type = extendedTypes.get(key);
  if (!type) {
    type = t.struct([...base.fields, ...entries.map(([name, type]) => ({ name, type }))], base.id);
    extendedTypes.set(key, type);
  }
  return type;
}

/**
 * A copy of `value` with the image replaced: other fields (time stamps, attributes, extra
 * fields) are shared, not rebuilt, which is what makes this cheaper than toNtNdArray(). The input
 * is left untouched because the framework may still look at it after process() returns.
 * `dims` are NTNDArray sizes, fastest first (see dimsOf()).
 */
export function replaceImage(value: PVStructure, data: PVTypedArray, dims: number[]): PVStructure {
  const dtype = scalarTypeOfArray(data);
  if (!dtype) throw processorError('replaceImage needs a TypedArray');
  checkSize(data, dims);
  const bytes = BigInt(data.length * ELEMENT_SIZE[dtype]);
  return {
    ...value,
    value: { field: `${dtype}Value`, value: data },
    codec: { name: '', parameters: null },
    compressedSize: bytes,
    uncompressedSize: bytes,
    dimension: dims.map((size) => ({ size, offset: 0, fullSize: size, binning: 1, reverse: false })),
  };
}
