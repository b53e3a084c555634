// LZ4 block format (the raw blocks of LZ4_compress_default / LZ4_decompress_safe, no frame), written
// from the LZ4 block format description. A sequence is a token (literal length << 4 | match length
// - 4, 15 meaning "more length bytes follow, each added, until one is not 255"), the literals, a
// 2-byte little-endian offset and the match; the last sequence has literals only.
import { codecError } from './errors.js';

const MIN_MATCH = 4;
/** The last 5 bytes are always literals, and the last match starts at least 12 bytes before the end. */
const LAST_LITERALS = 5;
const MF_LIMIT = 12;
const MAX_OFFSET = 65535;
const HASH_LOG = 14;

/** Most bytes the compressed form of `n` bytes can take. */
export function lz4Bound(n: number): number {
  return n + Math.floor(n / 255) + 16;
}

/**
 * Decode one LZ4 block from src[srcStart, srcEnd) into dst[dstStart, dstEnd). Returns the number
 * of bytes written. Every length and offset is checked against both buffers: corrupt or hostile
 * input throws ERR_CODEC, it never reads or writes out of bounds.
 */
export function lz4DecodeBlock(
  src: Uint8Array,
  srcStart: number,
  srcEnd: number,
  dst: Uint8Array,
  dstStart: number,
  dstEnd: number,
): number {
  let ip = srcStart;
  let op = dstStart;
  if (srcEnd <= srcStart) throw codecError('lz4: empty block');
  for (;;) {
    const token = src[ip++] as number;
    let lit = token >>> 4;
    if (lit === 15) {
      let b: number;
      do {
        if (ip >= srcEnd) throw codecError('lz4: truncated literal length');
        b = src[ip++] as number;
        lit += b;
      } while (b === 255);
    }
    if (lit > srcEnd - ip) throw codecError(`lz4: ${lit} literals run past the end of the block`);
    if (lit > dstEnd - op) throw codecError('lz4: output larger than the declared size');
    if (lit < 16) {
      for (let k = 0; k < lit; k++) dst[op + k] = src[ip + k] as number;
    } else {
      dst.set(src.subarray(ip, ip + lit), op);
    }
    ip += lit;
    op += lit;
    if (ip === srcEnd) return op - dstStart; // the last sequence has no match
    if (srcEnd - ip < 2) throw codecError('lz4: truncated match offset');
    const offset = (src[ip] as number) | ((src[ip + 1] as number) << 8);
    ip += 2;
    if (offset === 0 || offset > op - dstStart) throw codecError(`lz4: match offset ${offset} points before the start of the output`);
    let len = token & 15;
    if (len === 15) {
      let b: number;
      do {
        if (ip >= srcEnd) throw codecError('lz4: truncated match length');
        b = src[ip++] as number;
        len += b;
      } while (b === 255);
    }
    len += MIN_MATCH;
    if (len > dstEnd - op) throw codecError('lz4: output larger than the declared size');
    let ref = op - offset;
    if (offset >= len && len >= 32) {
      dst.copyWithin(op, ref, ref + len);
      op += len;
    } else {
      const end = op + len;
      while (op < end) dst[op++] = dst[ref++] as number;
    }
    if (ip >= srcEnd) throw codecError('lz4: block ends with a match (the last sequence must be literals)');
  }
}

// Hash table shared by all calls: entries hold `epoch + position`; raising the epoch past every
// stored value invalidates them all without clearing (cheap for the many small blocks of bslz4).
const table = new Int32Array(1 << HASH_LOG);
let epoch = 0;

function read32(a: Uint8Array, i: number): number {
  return ((a[i] as number) | ((a[i + 1] as number) << 8) | ((a[i + 2] as number) << 16) | ((a[i + 3] as number) << 24)) >>> 0;
}

function writeLength(dst: Uint8Array, op: number, n: number): number {
  while (n >= 255) {
    dst[op++] = 255;
    n -= 255;
  }
  dst[op++] = n;
  return op;
}

function writeSequence(
  dst: Uint8Array,
  op: number,
  src: Uint8Array,
  anchor: number,
  lit: number,
  offset: number,
  matchLen: number,
): number {
  const ml = matchLen - MIN_MATCH;
  const tokenAt = op++;
  dst[tokenAt] = ((lit >= 15 ? 15 : lit) << 4) | (ml >= 15 ? 15 : ml);
  if (lit >= 15) op = writeLength(dst, op, lit - 15);
  if (lit < 32) {
    for (let k = 0; k < lit; k++) dst[op + k] = src[anchor + k] as number;
  } else {
    dst.set(src.subarray(anchor, anchor + lit), op); // a view per long run only
  }
  op += lit;
  dst[op++] = offset & 255;
  dst[op++] = offset >>> 8;
  if (ml >= 15) op = writeLength(dst, op, ml - 15);
  return op;
}

/**
 * Compress src[start, end) as one LZ4 block into dst at dstStart (dst needs lz4Bound(end - start)
 * bytes there); returns the compressed length. Greedy single-probe hashing: fast, and readable
 * by any LZ4 decoder.
 */
export function lz4EncodeBlock(src: Uint8Array, start: number, end: number, dst: Uint8Array, dstStart: number): number {
  const n = end - start;
  if (epoch > 0x3fffffff - n) {
    table.fill(0);
    epoch = 0;
  }
  const base = epoch + 1 - start; // stored value = base + position, always > every older entry
  epoch += n + 1;
  let op = dstStart;
  let anchor = start;
  if (n >= MF_LIMIT + 1) {
    const matchLimit = end - LAST_LITERALS;
    const ipLimit = end - MF_LIMIT;
    let ip = start;
    while (ip <= ipLimit) {
      const seq = read32(src, ip);
      const h = Math.imul(seq, 2654435761) >>> (32 - HASH_LOG);
      const ref = (table[h] as number) - base;
      table[h] = base + ip;
      if (ref >= start && ip - ref <= MAX_OFFSET && read32(src, ref) === seq) {
        let len = MIN_MATCH;
        while (ip + len < matchLimit && src[ref + len] === src[ip + len]) len++;
        op = writeSequence(dst, op, src, anchor, ip - anchor, ip - ref, len);
        ip += len;
        anchor = ip;
        if (ip - 2 >= start && ip - 2 <= ipLimit) {
          table[Math.imul(read32(src, ip - 2), 2654435761) >>> (32 - HASH_LOG)] = base + ip - 2;
        }
      } else {
        ip += 1 + ((ip - anchor) >>> 6); // skip faster through data that does not compress
      }
    }
  }
  const lit = end - anchor;
  dst[op++] = (lit >= 15 ? 15 : lit) << 4;
  if (lit >= 15) op = writeLength(dst, op, lit - 15);
  dst.set(src.subarray(anchor, end), op);
  return op + lit - dstStart;
}

/** One LZ4 block of all of `src`, in a new array of exactly its length. */
export function lz4Compress(src: Uint8Array): Uint8Array {
  const out = new Uint8Array(lz4Bound(src.length));
  const n = lz4EncodeBlock(src, 0, src.length, out, 0);
  return out.slice(0, n);
}
