// BloscLZ decoder (the default compressor of Blosc and of NDPluginCodec's Blosc mode), written from
// the format: a stream of instructions, the first control byte's low 5 bits only.
//   control < 32:  a literal run of control + 1 bytes follows.
//   control >= 32: a match. length = (control >> 5) + 2, and when control >> 5 is 7 more bytes add
//                  to it until one is not 255; then a distance byte d: the match starts
//                  ((control & 31) << 8) + d + 1 bytes back, or, when d is 255 and control & 31 is
//                  31, 8191 + (a 16-bit big-endian distance) + 1 bytes back.
// A stream ends after a literal run or after a match's distance bytes (that last match is not
// copied: BloscLZ encoders always end with literals).
import { codecError } from './errors.js';

const MAX_DISTANCE = 8191;

/** Decode src[start, end) into dst[dstStart, dstEnd); returns the bytes written. */
export function blosclzDecode(src: Uint8Array, start: number, end: number, dst: Uint8Array, dstStart: number, dstEnd: number): number {
  let ip = start;
  let op = dstStart;
  if (end <= start) throw codecError('blosclz: empty stream');
  let ctrl = (src[ip++] as number) & 31;
  for (;;) {
    if (ctrl >= 32) {
      let len = (ctrl >>> 5) - 1;
      let ofs = (ctrl & 31) << 8;
      let code: number;
      if (len === 6) {
        do {
          if (ip + 1 >= end) throw codecError('blosclz: truncated match length');
          code = src[ip++] as number;
          len += code;
        } while (code === 255);
      } else if (ip + 1 >= end) {
        throw codecError('blosclz: truncated match');
      }
      code = src[ip++] as number;
      len += 3;
      let distance = ofs + code + 1;
      if (code === 255 && ofs === 31 << 8) {
        if (ip + 1 >= end) throw codecError('blosclz: truncated far distance');
        ofs = ((src[ip] as number) << 8) | (src[ip + 1] as number);
        ip += 2;
        distance = ofs + MAX_DISTANCE + 1;
      }
      if (len > dstEnd - op) throw codecError('blosclz: output larger than the declared size');
      if (distance > op - dstStart) throw codecError(`blosclz: match distance ${distance} points before the start of the output`);
      if (ip >= end) break;
      ctrl = src[ip++] as number;
      let ref = op - distance;
      if (distance >= len && len >= 32) {
        dst.copyWithin(op, ref, ref + len);
        op += len;
      } else {
        const stop = op + len;
        while (op < stop) dst[op++] = dst[ref++] as number;
      }
    } else {
      const lit = ctrl + 1;
      if (lit > dstEnd - op) throw codecError('blosclz: output larger than the declared size');
      if (lit > end - ip) throw codecError('blosclz: literal run past the end of the stream');
      for (let k = 0; k < lit; k++) dst[op + k] = src[ip + k] as number;
      op += lit;
      ip += lit;
      if (ip >= end) break;
      ctrl = src[ip++] as number;
    }
  }
  return op - dstStart;
}
