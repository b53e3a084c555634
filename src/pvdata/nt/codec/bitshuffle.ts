// Bitshuffle and bitshuffle+LZ4 ("bslz4"), written from the bitshuffle format description.
//
// Bit transpose of n elements (n a multiple of 8) of s bytes: bit k of byte j of element i goes to
// bit plane p = 8j + k, which holds n/8 bytes, element i at byte i/8, bit i%8 (least significant
// first). bslz4 cuts the elements into blocks (default 8192 bytes' worth, rounded down to a
// multiple of 8 elements, at least 128), bit-transposes each block and LZ4-compresses it, writing a
// 4-byte big-endian compressed length before each; a last shorter block holds the remaining
// multiple of 8, and the final n % 8 elements are copied as they are.
// NDPluginCodec writes that stream bare; the HDF5 filter (32008) and Dectris streams put a 12-byte
// header in front: the uncompressed size (8 bytes, big-endian) and the block size in bytes (4).
import { codecError } from './errors.js';
import { lz4Bound, lz4DecodeBlock, lz4EncodeBlock } from './lz4.js';

const TARGET_BLOCK_BYTES = 8192;
const MIN_BLOCK = 128;
const BLOCK_MULT = 8;
export const BSLZ4_HEADER_BYTES = 12;

/** bitshuffle's default block size, in elements, for elements of `size` bytes. */
export function defaultBlockSize(size: number): number {
  const b = Math.floor(TARGET_BLOCK_BYTES / size / BLOCK_MULT) * BLOCK_MULT;
  return Math.max(b, MIN_BLOCK);
}

// 8×8 bit-matrix transpose (rows are bytes): x holds rows 0-3, y rows 4-7, most significant first.
// Returns the transposed rows the same way, in [xOut, yOut] through the shared pair below.
let tx = 0;
let ty = 0;
function transpose8(x: number, y: number): void {
  let t = (x ^ (x >>> 7)) & 0x00aa00aa;
  x = x ^ t ^ (t << 7);
  t = (y ^ (y >>> 7)) & 0x00aa00aa;
  y = y ^ t ^ (t << 7);
  t = (x ^ (x >>> 14)) & 0x0000cccc;
  x = x ^ t ^ (t << 14);
  t = (y ^ (y >>> 14)) & 0x0000cccc;
  y = y ^ t ^ (t << 14);
  tx = (x & 0xf0f0f0f0) | ((y >>> 4) & 0x0f0f0f0f);
  ty = ((x << 4) & 0xf0f0f0f0) | (y & 0x0f0f0f0f);
}

/** Bit-transpose n elements (n % 8 === 0) of `size` bytes from src[srcAt] into dst[dstAt]. */
export function bitshuffle(src: Uint8Array, srcAt: number, dst: Uint8Array, dstAt: number, n: number, size: number): void {
  if (n % BLOCK_MULT !== 0) throw codecError(`bitshuffle: ${n} elements is not a multiple of 8`);
  const m = n >>> 3; // bytes per bit plane
  const step = size;
  for (let j = 0; j < size; j++) {
    let s = srcAt + j;
    let d = dstAt + j * 8 * m;
    for (let g = 0; g < m; g++, s += 8 * step, d++) {
      // rows (most significant first) are elements 7..0 of this group, so bit r of each output
      // byte comes from element r
      const y =
        (src[s] as number) |
        ((src[s + step] as number) << 8) |
        ((src[s + 2 * step] as number) << 16) |
        ((src[s + 3 * step] as number) << 24);
      const x =
        (src[s + 4 * step] as number) |
        ((src[s + 5 * step] as number) << 8) |
        ((src[s + 6 * step] as number) << 16) |
        ((src[s + 7 * step] as number) << 24);
      transpose8(x, y);
      dst[d] = ty;
      dst[d + m] = ty >>> 8;
      dst[d + 2 * m] = ty >>> 16;
      dst[d + 3 * m] = ty >>> 24;
      dst[d + 4 * m] = tx;
      dst[d + 5 * m] = tx >>> 8;
      dst[d + 6 * m] = tx >>> 16;
      dst[d + 7 * m] = tx >>> 24;
    }
  }
}

/** The inverse of bitshuffle(). */
export function bitunshuffle(src: Uint8Array, srcAt: number, dst: Uint8Array, dstAt: number, n: number, size: number): void {
  if (n % BLOCK_MULT !== 0) throw codecError(`bitshuffle: ${n} elements is not a multiple of 8`);
  const m = n >>> 3;
  const step = size;
  for (let j = 0; j < size; j++) {
    let s = srcAt + j * 8 * m;
    let d = dstAt + j;
    for (let g = 0; g < m; g++, s++, d += 8 * step) {
      const y =
        (src[s] as number) | ((src[s + m] as number) << 8) | ((src[s + 2 * m] as number) << 16) | ((src[s + 3 * m] as number) << 24);
      const x =
        (src[s + 4 * m] as number) |
        ((src[s + 5 * m] as number) << 8) |
        ((src[s + 6 * m] as number) << 16) |
        ((src[s + 7 * m] as number) << 24);
      transpose8(x, y);
      dst[d] = ty;
      dst[d + step] = ty >>> 8;
      dst[d + 2 * step] = ty >>> 16;
      dst[d + 3 * step] = ty >>> 24;
      dst[d + 4 * step] = tx;
      dst[d + 5 * step] = tx >>> 8;
      dst[d + 6 * step] = tx >>> 16;
      dst[d + 7 * step] = tx >>> 24;
    }
  }
}

function readBE32(a: Uint8Array, i: number): number {
  return (((a[i] as number) << 24) | ((a[i + 1] as number) << 16) | ((a[i + 2] as number) << 8) | (a[i + 3] as number)) >>> 0;
}

function writeBE32(a: Uint8Array, i: number, v: number): void {
  a[i] = v >>> 24;
  a[i + 1] = v >>> 16;
  a[i + 2] = v >>> 8;
  a[i + 3] = v;
}

/** True when `src` starts with the 12-byte header of the HDF5 filter for a payload of `nbytes`. */
function hasHeader(src: Uint8Array, nbytes: number, size: number): boolean {
  if (src.length < BSLZ4_HEADER_BYTES) return false;
  const n = nbytes / size;
  // A bare stream of 8 or more elements starts with a block length, never 0; one of fewer is raw.
  if (n < BLOCK_MULT && src.length !== nbytes + BSLZ4_HEADER_BYTES) return false;
  const hi = readBE32(src, 0);
  const lo = readBE32(src, 4);
  const block = readBE32(src, 8);
  return hi * 2 ** 32 + lo === nbytes && block > 0 && block % (size * BLOCK_MULT) === 0;
}

/**
 * Decode a bslz4 payload of `nbytes` uncompressed bytes (elements of `size` bytes), with or
 * without the 12-byte HDF5-filter header (told apart by its content). Into `out` when given.
 */
export function bslz4Decode(src: Uint8Array, nbytes: number, size: number, out: Uint8Array = new Uint8Array(nbytes)): Uint8Array {
  if (nbytes % size !== 0) throw codecError(`bslz4: ${nbytes} bytes is not a whole number of ${size}-byte elements`);
  const n = nbytes / size;
  let pos = 0;
  let block = defaultBlockSize(size);
  if (hasHeader(src, nbytes, size)) {
    block = readBE32(src, 8) / size;
    pos = BSLZ4_HEADER_BYTES;
  }
  const tmp = new Uint8Array(Math.min(block, n) * size);
  let done = 0;
  const whole = n - (n % BLOCK_MULT);
  while (done < whole) {
    const count = Math.min(block, whole - done);
    const bytes = count * size;
    if (src.length - pos < 4) throw codecError(`bslz4: truncated at element ${done} of ${n} (no block length at byte ${pos})`);
    const c = readBE32(src, pos);
    pos += 4;
    if (c > src.length - pos) throw codecError(`bslz4: block at byte ${pos - 4} claims ${c} bytes, ${src.length - pos} remain`);
    const got = lz4DecodeBlock(src, pos, pos + c, tmp, 0, bytes);
    if (got !== bytes) throw codecError(`bslz4: block at byte ${pos - 4} decodes to ${got} bytes, not ${bytes}`);
    bitunshuffle(tmp, 0, out, done * size, count, size);
    pos += c;
    done += count;
  }
  const rest = (n - whole) * size;
  if (src.length - pos !== rest) {
    throw codecError(
      `bslz4: ${src.length - pos} bytes after the last block, expected ${rest} (payload truncated, too long, or not bslz4 of this size)`,
    );
  }
  out.set(src.subarray(pos, pos + rest), whole * size);
  return out;
}

/**
 * Encode as NDPluginCodec does (bshuf_compress_lz4 with the default block size, no header), or
 * with the HDF5-filter header when `header` is true.
 */
export function bslz4Encode(src: Uint8Array, size: number, header = false, block = defaultBlockSize(size)): Uint8Array {
  if (src.length % size !== 0) throw codecError(`bslz4: ${src.length} bytes is not a whole number of ${size}-byte elements`);
  if (block <= 0 || block % BLOCK_MULT !== 0) throw codecError(`bslz4: block size ${block} is not a positive multiple of 8`);
  const n = src.length / size;
  const whole = n - (n % BLOCK_MULT);
  const blocks = Math.ceil(whole / block);
  const out = new Uint8Array((header ? BSLZ4_HEADER_BYTES : 0) + blocks * 4 + lz4Bound(block * size) * blocks + (n - whole) * size);
  let pos = 0;
  if (header) {
    writeBE32(out, 0, Math.floor(src.length / 2 ** 32));
    writeBE32(out, 4, src.length >>> 0);
    writeBE32(out, 8, block * size);
    pos = BSLZ4_HEADER_BYTES;
  }
  const tmp = new Uint8Array(Math.min(block, whole) * size);
  for (let done = 0; done < whole;) {
    const count = Math.min(block, whole - done);
    bitshuffle(src, done * size, tmp, 0, count, size);
    const c = lz4EncodeBlock(tmp, 0, count * size, out, pos + 4);
    writeBE32(out, pos, c);
    pos += 4 + c;
    done += count;
  }
  out.set(src.subarray(whole * size), pos);
  pos += (n - whole) * size;
  return out.slice(0, pos);
}
