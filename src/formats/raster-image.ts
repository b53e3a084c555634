// The input of the image encoders (tiff-write.ts, png-write.ts): a row-major, pixel-interleaved
// raster, sample c of pixel (x, y) at data[(y * width + x) * samples + c], in host byte order.
import { endianness } from 'node:os';
import { InvalidArgumentError } from '../errors.js';

export type SampleArray = Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array | Float32Array | Float64Array;

export interface RasterImage {
  width: number;
  height: number;
  /** Samples per pixel: 1 for grey, 3 for RGB. */
  samples: number;
  data: SampleArray;
}

export type SampleFormat = 'uint' | 'int' | 'float';

/** Bits and kind of the samples of an array (throws for arrays an encoder cannot take, e.g. BigInt64Array). */
export function sampleFormatOf(data: unknown): { bits: number; format: SampleFormat } {
  if (data instanceof Uint8Array) return { bits: 8, format: 'uint' };
  if (data instanceof Int8Array) return { bits: 8, format: 'int' };
  if (data instanceof Uint16Array) return { bits: 16, format: 'uint' };
  if (data instanceof Int16Array) return { bits: 16, format: 'int' };
  if (data instanceof Uint32Array) return { bits: 32, format: 'uint' };
  if (data instanceof Int32Array) return { bits: 32, format: 'int' };
  if (data instanceof Float32Array) return { bits: 32, format: 'float' };
  if (data instanceof Float64Array) return { bits: 64, format: 'float' };
  const name = (data as { constructor?: { name?: string } } | null)?.constructor?.name ?? typeof data;
  throw new InvalidArgumentError(`image samples must be an 8/16/32-bit integer or 32/64-bit float typed array, not ${name}`);
}

/** Checks the geometry against the data; `what` names the format in messages. */
export function checkRaster(img: RasterImage, what: string, samples: readonly number[]): void {
  const { width, height } = img;
  for (const [k, v] of [
    ['width', width],
    ['height', height],
  ] as const) {
    if (!Number.isSafeInteger(v) || v < 1) throw new InvalidArgumentError(`${what}: image ${k} must be a positive integer, not ${v}`);
  }
  if (!samples.includes(img.samples)) {
    throw new InvalidArgumentError(`${what}: ${img.samples} samples per pixel are not supported (${samples.join(' or ')})`);
  }
  const need = width * height * img.samples;
  if (img.data.length !== need) {
    throw new InvalidArgumentError(`${what}: a ${width}x${height}x${img.samples} image needs ${need} samples, data has ${img.data.length}`);
  }
}

export const HOST_LITTLE_ENDIAN = endianness() === 'LE';

/** The bytes of `data`, with each sample in the requested byte order (a view when no swap is needed). */
export function sampleBytes(data: SampleArray, littleEndian: boolean): Uint8Array {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const size = data.BYTES_PER_ELEMENT;
  if (size === 1 || littleEndian === HOST_LITTLE_ENDIAN) return bytes;
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i += size) for (let k = 0; k < size; k++) out[i + k] = bytes[i + size - 1 - k] as number;
  return out;
}
