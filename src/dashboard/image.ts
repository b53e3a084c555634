// NTNDArray frames cut down to what a browser can show, packed as one binary web socket message.
// A 2048x2048 uint16 frame is 8 MB; binned to fit 1024 it is 2 MB, and sent at most a few times a
// second per client, so a 500 frames/s stream never reaches the socket at its own rate.
//
// Message layout (little-endian): [u32 header length][header JSON, UTF-8][0-7 spaces so the pixels
// start at a multiple of 8][pixels]. Pixels are row-major, x fastest; colour images are sent
// pixel-interleaved (RGB1 order) whatever the source's colour mode.
import { readTime, timeToSeconds } from '../pvdata/nt/common.js';
import type { PVStructure, PVTypedArray } from '../pvdata/values.js';
import { frameOf, type Frame } from '../processing/nd-image.js';

/** Element types an image is sent as (64-bit integers are sent as float64). */
export type ImageDtype = 'uint8' | 'int8' | 'uint16' | 'int16' | 'uint32' | 'int32' | 'float32' | 'float64';

/** How bins become pixels: the mean of each bin, or its first pixel (cheaper, aliases). */
export type BinMode = 'mean' | 'stride';

export interface ImageHeader {
  type: 'image';
  pv: string;
  uniqueId: number;
  width: number;
  height: number;
  srcWidth: number;
  srcHeight: number;
  dtype: ImageDtype;
  /** 'Mono' or 'RGB1' as sent; srcColorMode is the source's. */
  colorMode: 'Mono' | 'RGB1';
  srcColorMode: string;
  channels: number;
  /** Source pixels per sent pixel along x and y (the same factor for both). */
  binning: number;
  binMode: BinMode;
  /** Seconds since 1970 (dataTimeStamp, else timeStamp), 0 when the frame has none. */
  timeStamp: number;
  /** Frames of this PV not sent to this client since the previous one sent (throttled or congested). */
  dropped: number;
}

export interface DecimatedImage {
  width: number;
  height: number;
  srcWidth: number;
  srcHeight: number;
  channels: number;
  binning: number;
  dtype: ImageDtype;
  srcColorMode: string;
  uniqueId: number;
  timeStamp: number;
  pixels: PVTypedArray;
}

const COLOR_NAMES: Record<number, string> = { 0: 'Mono', 1: 'Bayer', 2: 'RGB1', 3: 'RGB2', 4: 'RGB3' };

type OutCtor =
  | Uint8ArrayConstructor
  | Int8ArrayConstructor
  | Uint16ArrayConstructor
  | Int16ArrayConstructor
  | Uint32ArrayConstructor
  | Int32ArrayConstructor
  | Float32ArrayConstructor
  | Float64ArrayConstructor;

function outputOf(data: PVTypedArray): { dtype: ImageDtype; ctor: OutCtor; integer: boolean } {
  if (data instanceof Uint8Array) return { dtype: 'uint8', ctor: Uint8Array, integer: true };
  if (data instanceof Int8Array) return { dtype: 'int8', ctor: Int8Array, integer: true };
  if (data instanceof Uint16Array) return { dtype: 'uint16', ctor: Uint16Array, integer: true };
  if (data instanceof Int16Array) return { dtype: 'int16', ctor: Int16Array, integer: true };
  if (data instanceof Uint32Array) return { dtype: 'uint32', ctor: Uint32Array, integer: true };
  if (data instanceof Int32Array) return { dtype: 'int32', ctor: Int32Array, integer: true };
  if (data instanceof Float32Array) return { dtype: 'float32', ctor: Float32Array, integer: false };
  return { dtype: 'float64', ctor: Float64Array, integer: false };
}

/** The integer binning that makes the larger side fit `maxSize` (at least 1). */
export function binningFor(width: number, height: number, maxSize: number): number {
  const side = Math.max(width, height);
  return side <= maxSize ? 1 : Math.ceil(side / Math.max(1, maxSize));
}

/**
 * Bin a frame by `b` in x and y. Edge bins that the size does not fill are averaged over the
 * pixels they have, so the sent image covers the whole frame: width = ceil(srcWidth / b).
 */
export function binFrame(f: Frame, b: number, mode: BinMode): { pixels: PVTypedArray; width: number; height: number } {
  const { nx, ny, nz, strides } = f;
  const w = Math.ceil(nx / b);
  const h = Math.ceil(ny / b);
  const out = outputOf(f.data);
  // 64-bit integer frames are read through Number(); everything else indexes directly.
  const src = f.data instanceof BigInt64Array || f.data instanceof BigUint64Array ? Float64Array.from(f.data, Number) : f.data;
  const data = src as Exclude<PVTypedArray, BigInt64Array | BigUint64Array>;
  // Nothing to bin: the frame's own array (packImage copies it into the message).
  if (b === 1 && nz === 1 && strides.x === 1 && strides.y === nx) return { pixels: data, width: w, height: h };
  const pixels = new out.ctor(w * h * nz);
  const { x: sx, y: sy, c: sc } = strides;
  if (mode === 'stride' || b === 1) {
    for (let oy = 0; oy < h; oy++) {
      const rowBase = oy * b * sy;
      for (let ox = 0; ox < w; ox++) {
        const base = rowBase + ox * b * sx;
        const o = (oy * w + ox) * nz;
        for (let c = 0; c < nz; c++) pixels[o + c] = data[base + c * sc] as number;
      }
    }
    return { pixels, width: w, height: h };
  }
  if (nz === 1 && sx === 1) {
    meanMono(data, nx, ny, sy, b, pixels, w, h, out.integer);
    return { pixels, width: w, height: h };
  }
  // Mean: sum each output row's bins in a float accumulator, then divide by the bin's pixel count.
  const acc = new Float64Array(w * nz);
  for (let oy = 0; oy < h; oy++) {
    acc.fill(0);
    const y0 = oy * b;
    const y1 = Math.min(ny, y0 + b);
    for (let c = 0; c < nz; c++) {
      for (let y = y0; y < y1; y++) {
        const row = y * sy + c * sc;
        for (let ox = 0, x = 0; ox < w; ox++) {
          const xEnd = Math.min(nx, x + b);
          let s = 0;
          for (; x < xEnd; x++) s += data[row + x * sx] as number;
          acc[ox * nz + c] = (acc[ox * nz + c] as number) + s;
        }
      }
    }
    const rows = y1 - y0;
    const o = oy * w * nz;
    for (let ox = 0; ox < w; ox++) {
      const n = rows * (Math.min(nx, (ox + 1) * b) - ox * b);
      for (let c = 0; c < nz; c++) {
        const m = (acc[ox * nz + c] as number) / n;
        pixels[o + ox * nz + c] = out.integer ? Math.round(m) : m;
      }
    }
  }
  return { pixels, width: w, height: h };
}

/** The mean path for mono frames with contiguous rows (the usual detector frame): plain loops. */
function meanMono(
  data: ArrayLike<number>,
  nx: number,
  ny: number,
  sy: number,
  b: number,
  pixels: { [i: number]: number },
  w: number,
  h: number,
  integer: boolean,
): void {
  const full = Math.floor(nx / b);
  const acc = new Float64Array(w);
  for (let oy = 0; oy < h; oy++) {
    acc.fill(0);
    const y0 = oy * b;
    const y1 = Math.min(ny, y0 + b);
    for (let y = y0; y < y1; y++) {
      let i = y * sy;
      if (b === 2) {
        for (let ox = 0; ox < full; ox++, i += 2) acc[ox] = (acc[ox] as number) + (data[i] as number) + (data[i + 1] as number);
      } else {
        for (let ox = 0; ox < full; ox++) {
          let s = 0;
          for (let k = 0; k < b; k++) s += data[i++] as number;
          acc[ox] = (acc[ox] as number) + s;
        }
      }
      if (full < w) {
        let s = 0;
        for (let x = full * b; x < nx; x++) s += data[y * sy + x] as number;
        acc[full] = (acc[full] as number) + s;
      }
    }
    const rows = y1 - y0;
    const o = oy * w;
    const n = rows * b;
    for (let ox = 0; ox < full; ox++) pixels[o + ox] = integer ? Math.round((acc[ox] as number) / n) : (acc[ox] as number) / n;
    if (full < w) {
      const m = (acc[full] as number) / (rows * (nx - full * b));
      pixels[o + full] = integer ? Math.round(m) : m;
    }
  }
}

/** Decode (decompressing if needed) and bin an NTNDArray so its larger side is at most maxSize. */
export function decimate(value: PVStructure, maxSize: number, mode: BinMode): DecimatedImage {
  const f = frameOf(value);
  const binning = binningFor(f.nx, f.ny, maxSize);
  const { pixels, width, height } = binFrame(f, binning, mode);
  const ts = readTime(value['dataTimeStamp']) ?? readTime(value['timeStamp']);
  const seconds = ts ? timeToSeconds(ts) : 0;
  return {
    width,
    height,
    srcWidth: f.nx,
    srcHeight: f.ny,
    channels: f.nz,
    binning,
    dtype: outputOf(pixels).dtype,
    srcColorMode: COLOR_NAMES[f.colorMode] ?? String(f.colorMode),
    uniqueId: f.id,
    timeStamp: seconds > 0 ? seconds : 0,
    pixels,
  };
}

/** The binary web socket message of one image (see the layout at the top of this file). */
export function packImage(pv: string, img: DecimatedImage, binMode: BinMode, dropped: number): Buffer {
  const header: ImageHeader = {
    type: 'image',
    pv,
    uniqueId: img.uniqueId,
    width: img.width,
    height: img.height,
    srcWidth: img.srcWidth,
    srcHeight: img.srcHeight,
    dtype: img.dtype,
    colorMode: img.channels === 1 ? 'Mono' : 'RGB1',
    srcColorMode: img.srcColorMode,
    channels: img.channels,
    binning: img.binning,
    binMode,
    timeStamp: img.timeStamp,
    dropped,
  };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const start = Math.ceil((4 + json.length) / 8) * 8;
  const px = img.pixels;
  const msg = Buffer.allocUnsafe(start + px.byteLength);
  msg.writeUInt32LE(json.length, 0);
  json.copy(msg, 4);
  msg.fill(0x20, 4 + json.length, start);
  // Pixels in host order: little-endian on every platform Node ships for but s390x/ppc64.
  Buffer.from(px.buffer, px.byteOffset, px.byteLength).copy(msg, start);
  return msg;
}

/** Read a message built by packImage (tests and the bench use it; the page has its own). */
export function unpackImage(msg: Buffer): { header: ImageHeader; pixels: Buffer } {
  const len = msg.readUInt32LE(0);
  const header = JSON.parse(msg.subarray(4, 4 + len).toString('utf8')) as ImageHeader;
  const start = Math.ceil((4 + len) / 8) * 8;
  return { header, pixels: msg.subarray(start) };
}
