// Random detector frames as pvapy-ad-sim-server generates them: a NumPy-style datatype name, a
// value range clamped to the type, and an areaDetector colour mode that decides the dimensions.
// Pixels come from a small seeded PRNG (xoshiro128**) writing straight into typed arrays: a
// full-range integer frame is filled 32 bits at a time (~1 GB/s), so even a cache of hundreds
// of megabytes is ready in well under a second, and a seed makes frames reproducible in tests.
import { InvalidArgumentError } from '../errors.js';
import { PIXEL_TYPES, type PixelType } from '../formats/frame-file.js';
import { ColorMode } from '../pvdata/nt/ntndarray.js';
import type { ScalarType } from '../pvdata/types.js';
import { ELEMENT_SIZE, TYPED_ARRAY } from '../pvdata/values.js';

/** PvaPy's `-dt` names (NumPy's, without the 64-bit integers) and the pvData element type each becomes. */
export type SimDatatype = Exclude<PixelType, 'int64' | 'uint64'>;
export const SIM_DATATYPES: Readonly<Record<SimDatatype, ScalarType>> = Object.fromEntries(
  (Object.keys(PIXEL_TYPES) as PixelType[]).filter((p) => p !== 'int64' && p !== 'uint64').map((p) => [p, PIXEL_TYPES[p].scalar]),
) as Record<SimDatatype, ScalarType>;

/** Colour modes PvaPy generates: mono and the three RGB layouts. */
export const SIM_COLOR_MODES: readonly number[] = [ColorMode.Mono, ColorMode.RGB1, ColorMode.RGB2, ColorMode.RGB3];

export type FrameArray = Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | Float32Array | Float64Array;

const FLT_MAX = 3.4028234663852886e38;

/** Limits of each type (PvaPy's iinfo/finfo). */
const TYPE_RANGE: Record<SimDatatype, readonly [number, number]> = {
  int8: [-128, 127],
  uint8: [0, 255],
  int16: [-32768, 32767],
  uint16: [0, 65535],
  int32: [-2147483648, 2147483647],
  uint32: [0, 4294967295],
  float32: [-FLT_MAX, FLT_MAX],
  float64: [-Number.MAX_VALUE, Number.MAX_VALUE],
};

export interface FrameSpec {
  /** Columns (dimension 0 of a mono frame). */
  nx: number;
  /** Rows. */
  ny: number;
  datatype: SimDatatype;
  /** 0 mono, 2 RGB1, 3 RGB2, 4 RGB3 (default 0). */
  colorMode?: number;
  /** Lower bound; default the type's minimum (float types: -FLT_MAX, as PvaPy). */
  minimum?: number;
  /** Upper bound; default the type's maximum (float types: FLT_MAX, as PvaPy). */
  maximum?: number;
}

export function isSimDatatype(name: string): name is SimDatatype {
  return Object.hasOwn(SIM_DATATYPES, name);
}

export function isFloatType(dt: SimDatatype): boolean {
  return dt === 'float32' || dt === 'float64';
}

/** NTNDArray dimensions, fastest-varying first: [nx,ny], [3,nx,ny], [nx,3,ny] or [nx,ny,3]. */
export function frameDims(nx: number, ny: number, colorMode = 0): number[] {
  switch (colorMode) {
    case ColorMode.Mono:
      return [nx, ny];
    case ColorMode.RGB1:
      return [3, nx, ny];
    case ColorMode.RGB2:
      return [nx, 3, ny];
    case ColorMode.RGB3:
      return [nx, ny, 3];
    default:
      throw new InvalidArgumentError(`colour mode ${colorMode} is not one of 0 (mono), 2 (RGB1), 3 (RGB2), 4 (RGB3)`);
  }
}

/** Elements per frame. */
export function frameElements(spec: FrameSpec): number {
  return spec.nx * spec.ny * (spec.colorMode ? 3 : 1);
}

/** Bytes of pixel data per frame (the NTNDArray's uncompressedSize). */
export function frameBytes(spec: FrameSpec): number {
  return frameElements(spec) * ELEMENT_SIZE[SIM_DATATYPES[spec.datatype]];
}

/**
 * The range values are drawn from: the requested bounds clamped to the type's (integers rounded
 * inwards). Values fall in [min, max] (a float reaches max only by rounding to float32).
 */
export function valueRange(spec: FrameSpec): { min: number; max: number } {
  const [lo, hi] = TYPE_RANGE[spec.datatype];
  // PvaPy's default float range is float32's, for float64 too (a wider one overflows max-min).
  const dflt = isFloatType(spec.datatype) ? [-FLT_MAX, FLT_MAX] : [lo, hi];
  for (const [what, v] of [
    ['minimum', spec.minimum],
    ['maximum', spec.maximum],
  ] as const) {
    if (v !== undefined && Number.isNaN(v)) throw new InvalidArgumentError(`the ${what} is not a number`);
  }
  let min = Math.max(lo, spec.minimum ?? (dflt[0] as number));
  let max = Math.min(hi, spec.maximum ?? (dflt[1] as number));
  if (!isFloatType(spec.datatype)) {
    min = Math.ceil(min);
    max = Math.floor(max);
  }
  if (!(min <= max)) {
    throw new InvalidArgumentError(`empty value range [${spec.minimum ?? min}, ${spec.maximum ?? max}] for ${spec.datatype}`);
  }
  return { min, max };
}

/** xoshiro128** (Blackman and Vigna): 32-bit output, 2^128 - 1 period, a few ns per number. */
export class Prng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  constructor(seed: number = (Math.random() * 2 ** 32) >>> 0) {
    // splitmix32 spreads any seed (0 included) over the four state words.
    let s = seed >>> 0;
    const next = (): number => {
      s = (s + 0x9e3779b9) | 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.#a = next();
    this.#b = next();
    this.#c = next();
    this.#d = next() | 1; // never all zero
  }

  /** Uniform in [0, 2^32). */
  u32(): number {
    const r = Math.imul(rotl(Math.imul(this.#b, 5), 7), 9) >>> 0;
    const t = this.#b << 9;
    this.#c ^= this.#a;
    this.#d ^= this.#b;
    this.#b ^= this.#c;
    this.#a ^= this.#d;
    this.#c ^= t;
    this.#d = rotl(this.#d, 11);
    return r;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  double(): number {
    return ((this.u32() >>> 5) * 67108864 + (this.u32() >>> 6)) / 9007199254740992;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** Fill `out` with values of `range` (see valueRange) drawn from `rng`. */
export function fillRandom(out: FrameArray, datatype: SimDatatype, range: { min: number; max: number }, rng: Prng): void {
  const { min, max } = range;
  const n = out.length;
  if (isFloatType(datatype)) {
    const span = max - min;
    if (Number.isFinite(span)) for (let i = 0; i < n; i++) out[i] = min + span * rng.double();
    else {
      // max - min overflows (float64 bounds near ±MAX_VALUE): interpolate instead.
      for (let i = 0; i < n; i++) {
        const r = rng.double();
        out[i] = min * (1 - r) + max * r;
      }
    }
    return;
  }
  const [lo, hi] = TYPE_RANGE[datatype];
  if (min === lo && max === hi) {
    // Every bit pattern is a valid value: fill the bytes a word at a time.
    const words = new Uint32Array(out.buffer, out.byteOffset, out.byteLength >>> 2);
    for (let i = 0; i < words.length; i++) words[i] = rng.u32();
    const bytes = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
    for (let i = words.length * 4; i < bytes.length; i++) bytes[i] = rng.u32() & 0xff;
    return;
  }
  const span = max - min + 1; // at most 2^32
  const scale = span / 4294967296;
  for (let i = 0; i < n; i++) out[i] = min + Math.min(span - 1, Math.floor(rng.u32() * scale));
}

/** One new random frame's pixels, flattened, x fastest. */
export function randomFrame(spec: FrameSpec, rng: Prng, range = valueRange(spec)): FrameArray {
  const out = new (TYPED_ARRAY[SIM_DATATYPES[spec.datatype]] as new (n: number) => FrameArray)(frameElements(spec));
  fillRandom(out, spec.datatype, range, rng);
  return out;
}

/** Checks what a command line could get wrong; throws InvalidArgumentError with a sentence. */
export function checkFrameSpec(spec: FrameSpec): void {
  for (const [what, v] of [
    ['nx', spec.nx],
    ['ny', spec.ny],
  ] as const) {
    if (!Number.isSafeInteger(v) || v < 1) throw new InvalidArgumentError(`${what} must be a positive integer, not ${v}`);
  }
  if (!isSimDatatype(spec.datatype)) {
    throw new InvalidArgumentError(`datatype '${spec.datatype}' is not one of ${Object.keys(SIM_DATATYPES).join(', ')}`);
  }
  frameDims(spec.nx, spec.ny, spec.colorMode ?? 0);
  valueRange(spec);
  // A frame must fit one typed array (and one pvAccess array: < 2^31 elements).
  if (frameElements(spec) >= 2 ** 31) throw new InvalidArgumentError(`a ${spec.nx}x${spec.ny} frame has too many elements`);
}
