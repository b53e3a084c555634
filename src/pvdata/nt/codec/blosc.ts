// Blosc (version 1 format, "format version 2" in its header), written from the Blosc format
// description. A 16-byte header:
//   0 format version (2)  1 compressor format version  2 flags  3 type size
//   4 uncompressed bytes (u32 LE)  8 block size (u32 LE)  12 compressed bytes incl. header (u32 LE)
// flags: 0x01 byte shuffle, 0x02 stored uncompressed ("memcpyed", data follows the header),
// 0x04 bit shuffle, 0x10 blocks not split, bits 5-7 compressor (0 BloscLZ, 1 LZ4/LZ4HC, 2 Snappy,
// 3 zlib, 4 Zstd). Then one u32 LE start offset per block; at each start, the block's streams
// (typesize streams when split, else one), each a u32 LE compressed length and its data, stored
// as is when that length equals the stream's size. Shuffles apply per block, after decompression.
import * as zlib from 'node:zlib';
import { codecError } from './errors.js';
import { bitshuffle, bitunshuffle } from './bitshuffle.js';
import { blosclzDecode } from './blosclz.js';
import { lz4Bound, lz4DecodeBlock, lz4EncodeBlock } from './lz4.js';

export const BLOSC_HEADER_BYTES = 16;
const FLAG_SHUFFLE = 0x01;
const FLAG_MEMCPYED = 0x02;
const FLAG_BITSHUFFLE = 0x04;
const FLAG_FUTURE = 0x08;
const FLAG_DONT_SPLIT = 0x10;
const MAX_SPLITS = 16;
const MIN_BUFFERSIZE = 128;
const COMPRESSORS = ['blosclz', 'lz4', 'snappy', 'zlib', 'zstd'];

type Inflate = (src: Uint8Array, start: number, end: number, dst: Uint8Array, at: number, size: number) => number;

function readLE32(a: Uint8Array, i: number): number {
  return ((a[i] as number) | ((a[i + 1] as number) << 8) | ((a[i + 2] as number) << 16) | ((a[i + 3] as number) << 24)) >>> 0;
}

function writeLE32(a: Uint8Array, i: number, v: number): void {
  a[i] = v;
  a[i + 1] = v >>> 8;
  a[i + 2] = v >>> 16;
  a[i + 3] = v >>> 24;
}

function viaNodeZlib(name: string, fn: ((b: Uint8Array, o: zlib.ZlibOptions) => Buffer) | undefined): Inflate {
  return (src, start, end, dst, at, size) => {
    if (!fn) throw codecError(`blosc: ${name} needs a newer Node.js (zlib.zstdDecompressSync, Node >= 22.15)`);
    let out: Buffer;
    try {
      out = fn(src.subarray(start, end), { maxOutputLength: Math.max(size, 1) });
    } catch (e) {
      throw codecError(`blosc: ${name} stream does not decode (${(e as Error).message})`);
    }
    dst.set(out.subarray(0, Math.min(out.length, size)), at);
    return out.length;
  };
}

const zstdSync = (zlib as unknown as { zstdDecompressSync?: (b: Uint8Array, o: zlib.ZlibOptions) => Buffer }).zstdDecompressSync;

function inflaterFor(code: number): Inflate {
  switch (code) {
    case 0:
      return (s, a, b, d, at, n) => blosclzDecode(s, a, b, d, at, at + n);
    case 1:
      return (s, a, b, d, at, n) => lz4DecodeBlock(s, a, b, d, at, at + n);
    case 3:
      return viaNodeZlib('zlib', zlib.inflateSync);
    case 4:
      return viaNodeZlib('zstd', zstdSync);
    default:
      throw codecError(
        `blosc: compressor ${COMPRESSORS[code] ?? `#${code}`} is not supported (blosclz, lz4, lz4hc, zlib${zstdSync ? ', zstd' : ''} are)`,
      );
  }
}

/** Byte-unshuffle a block of `bytes` bytes of `size`-byte elements (trailing partial element as is). */
function unshuffle(src: Uint8Array, dst: Uint8Array, at: number, bytes: number, size: number): void {
  const n = Math.floor(bytes / size);
  for (let j = 0; j < size; j++) {
    const plane = j * n;
    for (let i = 0, d = at + j; i < n; i++, d += size) dst[d] = src[plane + i] as number;
  }
  dst.set(src.subarray(n * size, bytes), at + n * size);
}

function shuffle(src: Uint8Array, from: number, bytes: number, size: number, dst: Uint8Array): void {
  const n = Math.floor(bytes / size);
  for (let j = 0; j < size; j++) {
    const plane = j * n;
    for (let i = 0, s = from + j; i < n; i++, s += size) dst[plane + i] = src[s] as number;
  }
  dst.set(src.subarray(from + n * size, from + bytes), n * size);
}

/** Blosc's bit unshuffle of a block: whole when its element count is a multiple of 8, else copied. */
function blockBitunshuffle(src: Uint8Array, dst: Uint8Array, at: number, bytes: number, size: number): void {
  const n = Math.floor(bytes / size);
  if (n % 8 === 0) {
    bitunshuffle(src, 0, dst, at, n, size);
    dst.set(src.subarray(n * size, bytes), at + n * size);
  } else {
    dst.set(src.subarray(0, bytes), at);
  }
}

/**
 * Decode a Blosc buffer that must hold exactly `nbytes` uncompressed bytes. The header is checked
 * against `nbytes` and the buffer's length before anything is allocated.
 */
export function bloscDecode(src: Uint8Array, nbytes: number, out: Uint8Array = new Uint8Array(0)): Uint8Array {
  if (src.length < BLOSC_HEADER_BYTES) throw codecError(`blosc: ${src.length} bytes is shorter than the 16-byte header`);
  const version = src[0] as number;
  const flags = src[2] as number;
  const typesize = src[3] as number;
  const size = readLE32(src, 4);
  const blocksize = readLE32(src, 8);
  const cbytes = readLE32(src, 12);
  if (version !== 2) throw codecError(`blosc: format version ${version} is not supported (2 is)`);
  if (size !== nbytes) throw codecError(`blosc: header says ${size} uncompressed bytes, the frame needs ${nbytes}`);
  if (cbytes > src.length) throw codecError(`blosc: header says ${cbytes} compressed bytes, the payload has ${src.length} (truncated)`);
  if (out.length !== nbytes) out = new Uint8Array(nbytes);
  if (nbytes === 0) return out;
  if (flags & FLAG_FUTURE) throw codecError(`blosc: unknown flags 0x${flags.toString(16)}`);
  if (flags & FLAG_MEMCPYED) {
    if (cbytes !== nbytes + BLOSC_HEADER_BYTES)
      throw codecError(`blosc: stored buffer of ${nbytes} bytes needs ${nbytes + BLOSC_HEADER_BYTES}, header says ${cbytes}`);
    out.set(src.subarray(BLOSC_HEADER_BYTES, cbytes));
    return out;
  }
  if (blocksize === 0 || blocksize > nbytes || typesize === 0)
    throw codecError(`blosc: bad block size ${blocksize} or type size ${typesize}`);
  const inflate = inflaterFor(flags >>> 5);
  const nblocks = Math.ceil(nbytes / blocksize);
  if (BLOSC_HEADER_BYTES + 4 * nblocks > cbytes) throw codecError(`blosc: ${nblocks} block offsets do not fit in ${cbytes} bytes`);
  const doShuffle = (flags & FLAG_SHUFFLE) !== 0 && typesize > 1;
  const leftover = nbytes % blocksize;
  const tmp = new Uint8Array(blocksize);
  for (let b = 0; b < nblocks; b++) {
    const last = b === nblocks - 1 && leftover > 0;
    const bytes = last ? leftover : blocksize;
    const doBit = !doShuffle && (flags & FLAG_BITSHUFFLE) !== 0 && bytes >= typesize;
    const split = !(flags & FLAG_DONT_SPLIT) && typesize <= MAX_SPLITS && blocksize / typesize >= MIN_BUFFERSIZE && !last;
    const nsplits = split ? typesize : 1;
    const neblock = Math.floor(bytes / nsplits);
    const target = doShuffle || doBit ? tmp : out;
    let at = doShuffle || doBit ? 0 : b * blocksize;
    let pos = readLE32(src, BLOSC_HEADER_BYTES + 4 * b);
    for (let k = 0; k < nsplits; k++) {
      if (pos < BLOSC_HEADER_BYTES || pos + 4 > cbytes)
        throw codecError(`blosc: block ${b} starts at ${pos}, outside the ${cbytes}-byte buffer`);
      const c = readLE32(src, pos);
      pos += 4;
      if (c > cbytes - pos) throw codecError(`blosc: block ${b} claims ${c} bytes, ${cbytes - pos} remain`);
      if (c === neblock) {
        target.set(src.subarray(pos, pos + c), at);
      } else {
        const got = inflate(src, pos, pos + c, target, at, neblock);
        if (got !== neblock) throw codecError(`blosc: block ${b} decodes to ${got} bytes, not ${neblock}`);
      }
      pos += c;
      at += neblock;
    }
    if (doShuffle) unshuffle(tmp, out, b * blocksize, bytes, typesize);
    else if (doBit) blockBitunshuffle(tmp, out, b * blocksize, bytes, typesize);
  }
  return out;
}

export interface BloscEncodeOptions {
  /** 'shuffle' (bytes, the default), 'bitshuffle' or 'none'. */
  shuffle?: 'shuffle' | 'bitshuffle' | 'none';
  /** Bytes per block; rounded down to a multiple of the type size. Default 64 KiB. */
  blocksize?: number;
}

/**
 * Blosc with the LZ4 compressor, unsplit blocks: readable by c-blosc 1.x (and python-blosc,
 * numcodecs) and by bloscDecode(). Stored uncompressed when that is smaller.
 */
export function bloscEncode(src: Uint8Array, typesize: number, opts: BloscEncodeOptions = {}): Uint8Array {
  if (typesize < 1 || typesize > 255) throw codecError(`blosc: type size ${typesize} is not 1-255`);
  const nbytes = src.length;
  const mode = opts.shuffle ?? 'shuffle';
  let blocksize = Math.min(opts.blocksize ?? 65536, Math.max(nbytes, 1));
  if (blocksize >= typesize) blocksize -= blocksize % typesize;
  const nblocks = Math.ceil(nbytes / blocksize);
  let flags = FLAG_DONT_SPLIT | (1 << 5);
  if (mode === 'shuffle' && typesize > 1) flags |= FLAG_SHUFFLE;
  if (mode === 'bitshuffle') flags |= FLAG_BITSHUFFLE;
  const out = new Uint8Array(BLOSC_HEADER_BYTES + 4 * nblocks + nblocks * (4 + lz4Bound(blocksize)));
  const tmp = new Uint8Array(blocksize);
  let pos = BLOSC_HEADER_BYTES + 4 * nblocks;
  for (let b = 0; b < nblocks; b++) {
    const from = b * blocksize;
    const bytes = Math.min(blocksize, nbytes - from);
    let block = src;
    let start = from;
    if (flags & FLAG_SHUFFLE) {
      shuffle(src, from, bytes, typesize, tmp);
      block = tmp;
      start = 0;
    } else if (flags & FLAG_BITSHUFFLE && bytes >= typesize) {
      const n = Math.floor(bytes / typesize);
      if (n % 8 === 0) {
        bitshuffle(src, from, tmp, 0, n, typesize);
        tmp.set(src.subarray(from + n * typesize, from + bytes), n * typesize);
        block = tmp;
        start = 0;
      }
    }
    writeLE32(out, BLOSC_HEADER_BYTES + 4 * b, pos);
    let c = lz4EncodeBlock(block, start, start + bytes, out, pos + 4);
    if (c >= bytes) {
      out.set(block.subarray(start, start + bytes), pos + 4); // stored: length equals the size
      c = bytes;
    }
    writeLE32(out, pos, c);
    pos += 4 + c;
  }
  if (pos >= nbytes + BLOSC_HEADER_BYTES) {
    flags = FLAG_MEMCPYED | (flags & (FLAG_SHUFFLE | FLAG_BITSHUFFLE | FLAG_DONT_SPLIT)) | (1 << 5);
    out.set(src, BLOSC_HEADER_BYTES);
    pos = nbytes + BLOSC_HEADER_BYTES;
  }
  out[0] = 2;
  out[1] = 1;
  out[2] = flags;
  out[3] = typesize;
  writeLE32(out, 4, nbytes);
  writeLE32(out, 8, blocksize);
  writeLE32(out, 12, pos);
  return out.slice(0, pos);
}
