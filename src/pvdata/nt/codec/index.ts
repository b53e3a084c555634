// Compressed NTNDArray payloads, as areaDetector's NDPluginCodec writes them and PvaPy reads them:
// `codec.name` names the codec, `codec.parameters` holds the element type of the decoded array
// (a pvData ScalarType code, as an int), `uncompressedSize` its size in bytes, and the compressed
// bytes travel in `value` (as ubyteValue). The bytes are the producer's memory, little-endian.
//
//   lz4      one raw LZ4 block (LZ4_compress_default)
//   lz4hdf5  the HDF5 LZ4 filter's framing: 8-byte BE size, 4-byte BE block size, blocks each with
//            a 4-byte BE length (stored raw when that equals the block size)
//   bslz4    bitshuffle + LZ4, bare (NDPluginCodec) or with the HDF5 filter's 12-byte header
//   blosc    a Blosc 1 buffer (BloscLZ, LZ4, LZ4HC, zlib, and Zstd where Node has it)
//   zlib     a zlib stream (compress2)
// NDPluginCodec's jpeg is not handled: it is lossy and needs a JPEG decoder Sluice does not ship.
import { deflateSync, inflateSync } from 'node:zlib';
import type { ScalarType } from '../../types.js';
import { ELEMENT_SIZE, TYPED_ARRAY, type PVTypedArray } from '../../values.js';
import { codecError } from './errors.js';
import { bloscDecode, bloscEncode, type BloscEncodeOptions } from './blosc.js';
import { bslz4Decode, bslz4Encode } from './bitshuffle.js';
import { lz4Bound, lz4DecodeBlock, lz4EncodeBlock } from './lz4.js';

export { codecError } from './errors.js';

/** Codec names Sluice decodes and encodes. */
export const CODECS = ['lz4', 'lz4hdf5', 'bslz4', 'blosc', 'zlib'] as const;
export type CodecName = (typeof CODECS)[number];

/** Largest array a compressed payload may decode to, whatever its header says. */
export const MAX_DECODED_BYTES = 1 << 30;

export function isCodecName(name: string): name is CodecName {
  return (CODECS as readonly string[]).includes(name);
}

/**
 * The bytes of a typed array, as a view (no copy). Always a plain Uint8Array (never a Buffer),
 * so that the decoders' element accesses see one array class.
 */
export function bytesOf(a: PVTypedArray): Uint8Array {
  return a.constructor === Uint8Array ? (a as Uint8Array) : new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
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

/** Bytes one compressed byte can at most turn into, per codec (LZ4 and BloscLZ 255, zlib 1032). */
function maxRatio(codec: CodecName, src: Uint8Array): number {
  if (codec === 'zlib') return 1040;
  if (codec === 'blosc' && src.length >= 16) {
    const compressor = (src[2] as number) >>> 5;
    if (compressor === 3) return 1040;
    if (compressor === 4) return Infinity; // zstd: only MAX_DECODED_BYTES bounds it
  }
  return 256;
}

function lz4hdf5Decode(src: Uint8Array, nbytes: number, out: Uint8Array): void {
  if (src.length < 12) throw codecError(`lz4hdf5: ${src.length} bytes is shorter than the 12-byte header`);
  const size = readBE32(src, 0) * 2 ** 32 + readBE32(src, 4);
  if (size !== nbytes) throw codecError(`lz4hdf5: header says ${size} uncompressed bytes, the frame needs ${nbytes}`);
  let block = readBE32(src, 8);
  if (block === 0) throw codecError('lz4hdf5: block size 0');
  if (block > nbytes) block = nbytes;
  let pos = 12;
  for (let done = 0; done < nbytes;) {
    const bytes = Math.min(block, nbytes - done);
    if (src.length - pos < 4) throw codecError(`lz4hdf5: truncated at byte ${done} of ${nbytes}`);
    const c = readBE32(src, pos);
    pos += 4;
    if (c > src.length - pos) throw codecError(`lz4hdf5: block at byte ${pos - 4} claims ${c} bytes, ${src.length - pos} remain`);
    if (c === bytes) out.set(src.subarray(pos, pos + c), done);
    else if (lz4DecodeBlock(src, pos, pos + c, out, done, done + bytes) !== bytes)
      throw codecError(`lz4hdf5: block at byte ${pos - 4} decodes short`);
    pos += c;
    done += bytes;
  }
  if (pos !== src.length) throw codecError(`lz4hdf5: ${src.length - pos} bytes after the last block`);
}

function lz4hdf5Encode(src: Uint8Array, block = Math.max(src.length, 1)): Uint8Array {
  const blocks = Math.ceil(src.length / block);
  const out = new Uint8Array(12 + blocks * 4 + blocks * lz4Bound(block));
  writeBE32(out, 0, Math.floor(src.length / 2 ** 32));
  writeBE32(out, 4, src.length >>> 0);
  writeBE32(out, 8, block);
  let pos = 12;
  for (let done = 0; done < src.length; done += block) {
    const bytes = Math.min(block, src.length - done);
    let c = lz4EncodeBlock(src, done, done + bytes, out, pos + 4);
    if (c >= bytes) {
      out.set(src.subarray(done, done + bytes), pos + 4);
      c = bytes;
    }
    writeBE32(out, pos, c);
    pos += 4 + c;
  }
  return out.slice(0, pos);
}

/**
 * Decode a compressed NTNDArray payload into a new array of `dtype` holding `nbytes` bytes.
 * `nbytes` must come from the frame's dimensions (and agree with its uncompressedSize): it is
 * checked against the payload's own headers, against the most the payload could expand to, and
 * against MAX_DECODED_BYTES before anything is allocated.
 */
export function decompress(codec: string, payload: PVTypedArray, dtype: ScalarType, nbytes: number): PVTypedArray {
  if (!isCodecName(codec)) {
    const why = codec === 'jpeg' ? ' (jpeg is lossy and needs a JPEG decoder Sluice does not ship)' : '';
    throw codecError(`codec '${codec}' is not supported${why}; supported: ${CODECS.join(', ')}`);
  }
  const Ctor = TYPED_ARRAY[dtype];
  if (!Ctor) throw codecError(`${codec}: element type '${dtype}' cannot be decoded`);
  const size = ELEMENT_SIZE[dtype];
  if (!Number.isSafeInteger(nbytes) || nbytes < 0 || nbytes % size !== 0)
    throw codecError(`${codec}: ${nbytes} bytes is not a whole number of ${dtype} elements`);
  const src = bytesOf(payload);
  if (nbytes > MAX_DECODED_BYTES) throw codecError(`${codec}: ${nbytes} decoded bytes is more than the ${MAX_DECODED_BYTES}-byte limit`);
  if (nbytes > src.length * maxRatio(codec, src) + 64) {
    throw codecError(`${codec}: ${src.length} compressed bytes cannot hold ${nbytes} bytes of data (truncated payload or lying sizes)`);
  }
  const out = new Uint8Array(nbytes);
  switch (codec) {
    case 'lz4': {
      if (nbytes === 0 && src.length <= 1) break;
      const got = lz4DecodeBlock(src, 0, src.length, out, 0, nbytes);
      if (got !== nbytes) throw codecError(`lz4: payload decodes to ${got} bytes, the frame needs ${nbytes}`);
      break;
    }
    case 'lz4hdf5':
      lz4hdf5Decode(src, nbytes, out);
      break;
    case 'bslz4':
      bslz4Decode(src, nbytes, size, out);
      break;
    case 'blosc':
      bloscDecode(src, nbytes, out);
      break;
    case 'zlib': {
      let inflated: Buffer;
      try {
        inflated = inflateSync(src, { maxOutputLength: Math.max(nbytes, 1) });
      } catch (e) {
        throw codecError(`zlib: payload does not decode to ${nbytes} bytes (${(e as Error).message})`);
      }
      if (inflated.length !== nbytes) throw codecError(`zlib: payload decodes to ${inflated.length} bytes, the frame needs ${nbytes}`);
      out.set(inflated);
      break;
    }
  }
  return dtype === 'ubyte' ? out : new Ctor(out.buffer as ArrayBuffer, 0, nbytes / size);
}

export interface CompressOptions {
  /** zlib level 0-9 (default 6). */
  level?: number;
  /** blosc: shuffle mode and block size. */
  blosc?: BloscEncodeOptions;
  /** bslz4: add the HDF5 filter's 12-byte header (NDPluginCodec does not). */
  bslz4Header?: boolean;
}

/** Compress an array's bytes as NDPluginCodec would for `codec`; the result goes in ubyteValue. */
export function compress(codec: string, data: PVTypedArray, opts: CompressOptions = {}): Uint8Array {
  if (!isCodecName(codec)) throw codecError(`codec '${codec}' cannot be produced; supported: ${CODECS.join(', ')}`);
  const src = bytesOf(data);
  const size = data.BYTES_PER_ELEMENT;
  switch (codec) {
    case 'lz4': {
      const out = new Uint8Array(lz4Bound(src.length));
      return out.slice(0, lz4EncodeBlock(src, 0, src.length, out, 0));
    }
    case 'lz4hdf5':
      return lz4hdf5Encode(src);
    case 'bslz4':
      return bslz4Encode(src, size, opts.bslz4Header ?? false);
    case 'blosc':
      return bloscEncode(src, size, opts.blosc);
    case 'zlib':
      return new Uint8Array(deflateSync(src, { level: opts.level ?? 6 }));
  }
}
