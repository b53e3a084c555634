// A baseline TIFF reader for frame sources: every full-resolution page of a file is a frame.
//
// Supported: classic TIFF and BigTIFF, little- ('II') and big-endian ('MM'); strips and tiles;
// uncompressed, PackBits, LZW and Deflate (Adobe and old-style codes), with or without
// horizontal differencing (Predictor 2, for floats on their bits as libtiff does it); 8-, 16-, 32- and 64-bit unsigned, signed and
// floating-point samples (SampleFormat 1, 2, 3); mono (PhotometricInterpretation 0 or 1, one
// sample; WhiteIsZero values are passed on as stored) and RGB (three samples), chunky
// (PlanarConfiguration 1, frames [3, nx, ny], colour mode RGB1) or planar (2, [nx, ny, 3], RGB3).
// Reduced-resolution pages (NewSubfileType bit 0: thumbnails, pyramids) are skipped. All other
// pages must have the same size and type.
//
// Anything else (JPEG, CCITT, palettes, 1- or 12-bit samples, alpha channels, the floating-point
// predictor) is refused with a FileError that names the file, the page and the tag.
//
// The directory of every page is parsed when the file is opened; a page's pixels are read when
// its frame is asked for. Every offset and count is checked against the file's size first, and
// compressed strips against the most their codec can expand, so a lying header cannot make us
// allocate more than the file could hold.
import { inflateSync } from 'node:zlib';
import { FileError, InvalidArgumentError } from '../errors.js';
import {
  checkFrame,
  fileSize,
  FileBytes,
  PIXEL_TYPES,
  pixelType,
  swapBytes,
  viewAs,
  type FrameFile,
  type FrameLayout,
  type PixelArray,
  type PixelType,
} from './frame-file.js';

export const TAG = {
  NewSubfileType: 254,
  ImageWidth: 256,
  ImageLength: 257,
  BitsPerSample: 258,
  Compression: 259,
  PhotometricInterpretation: 262,
  FillOrder: 266,
  StripOffsets: 273,
  SamplesPerPixel: 277,
  RowsPerStrip: 278,
  StripByteCounts: 279,
  PlanarConfiguration: 284,
  Predictor: 317,
  TileWidth: 322,
  TileLength: 323,
  TileOffsets: 324,
  TileByteCounts: 325,
  ExtraSamples: 338,
  SampleFormat: 339,
} as const;

const TAG_NAME = new Map<number, string>(Object.entries(TAG).map(([k, v]) => [v, k]));

export const COMPRESSION = { None: 1, LZW: 5, Deflate: 8, AdobeDeflate: 32946, PackBits: 32773 } as const;

const COMPRESSION_NAME: Record<number, string> = {
  1: 'none',
  2: 'CCITT RLE',
  3: 'CCITT Group 3',
  4: 'CCITT Group 4',
  5: 'LZW',
  6: 'old-style JPEG',
  7: 'JPEG',
  8: 'Deflate',
  32946: 'Deflate',
  32773: 'PackBits',
  34712: 'JPEG 2000',
  34925: 'LZMA',
  50000: 'Zstandard',
  50001: 'WebP',
};

/** Most bytes one compressed byte can decode to, per codec (PackBits 2 → 128; LZW 12-bit codes). */
const MAX_RATIO: Record<number, number> = { 1: 1, 5: 4096, 8: 1032, 32946: 1032, 32773: 64 };

/** Bytes per value of each TIFF field type. */
const TYPE_SIZE: Record<number, number> = {
  1: 1,
  2: 1,
  3: 2,
  4: 4,
  5: 8,
  6: 1,
  7: 1,
  8: 2,
  9: 4,
  10: 8,
  11: 4,
  12: 8,
  13: 4,
  16: 8,
  17: 8,
  18: 8,
};
const INTEGER_TYPES = new Set([1, 3, 4, 6, 8, 9, 13, 16, 17, 18]);
/** Tags whose values we read; others (descriptions, private tags) are skipped unread. */
const WANTED = new Set<number>(Object.values(TAG));

const MAX_PAGES = 1_000_000;
const MAX_ENTRIES = 10_000;
/** Bytes of the file read at once while parsing directories (they are small and often close). */
const BLOCK = 64 * 1024;

/** One page: where its pixels are and how they are stored. */
export interface TiffPage {
  /** Position in the file's chain of pages (0-based, reduced-resolution pages included). */
  readonly page: number;
  readonly width: number;
  readonly height: number;
  readonly samples: number;
  readonly dtype: PixelType;
  readonly compression: number;
  readonly predictor: number;
  /** 1 chunky (RGBRGB...), 2 planar (RR..GG..BB..). */
  readonly planar: number;
  /** Strips or tiles, plane by plane for planar pages. */
  readonly offsets: readonly number[];
  readonly counts: readonly number[];
  /** Strip: [width, rowsPerStrip]; tile: [tileWidth, tileLength]. */
  readonly blockWidth: number;
  readonly blockHeight: number;
  readonly tiled: boolean;
}

export interface TiffInfo {
  readonly littleEndian: boolean;
  readonly bigTiff: boolean;
  /** Full-resolution pages, in file order. */
  readonly pages: readonly TiffPage[];
}

/** True if `head` starts with a TIFF or BigTIFF header. */
export function isTiff(head: Uint8Array): boolean {
  const le = head[0] === 0x49 && head[1] === 0x49 && (head[2] === 42 || head[2] === 43) && head[3] === 0;
  const be = head[0] === 0x4d && head[1] === 0x4d && head[2] === 0 && (head[3] === 42 || head[3] === 43);
  return le || be;
}

/** Reads ranges of a file through a one-block cache (directories sit close together). */
class BlockReader {
  readonly #src: FileBytes;
  #at = -1;
  #block = new Uint8Array(0);
  constructor(src: FileBytes) {
    this.#src = src;
  }
  get size(): number {
    return this.#src.size;
  }
  async bytes(offset: number, length: number, what: () => string): Promise<DataView> {
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + length > this.#src.size) {
      throw new FileError(
        this.#src.path,
        `${what()}: bytes ${offset}..${offset + length} are past the end of the file (${this.#src.size} bytes)`,
      );
    }
    if (this.#at < 0 || offset < this.#at || offset + length > this.#at + this.#block.length) {
      const n = Math.max(length, Math.min(BLOCK, this.#src.size - offset));
      this.#block = new Uint8Array(n);
      await this.#src.read(offset, this.#block);
      this.#at = offset;
    }
    return new DataView(this.#block.buffer, this.#block.byteOffset + offset - this.#at, length);
  }
}

/** Parses the header and every page directory of a TIFF file. */
export async function readTiffInfo(path: string, src?: FileBytes): Promise<TiffInfo> {
  const file = src ?? new FileBytes(path, await fileSize(path));
  try {
    return await parse(path, new BlockReader(file));
  } finally {
    if (!src) await file.close();
  }
}

async function parse(path: string, r: BlockReader): Promise<TiffInfo> {
  if (r.size < 8) throw new FileError(path, `too short for a TIFF file (${r.size} bytes)`);
  const h = await r.bytes(0, Math.min(16, r.size), () => 'header');
  const order = h.getUint16(0, false);
  if (order !== 0x4949 && order !== 0x4d4d) throw new FileError(path, 'not a TIFF file (no II or MM byte-order mark)');
  const le = order === 0x4949;
  const magic = h.getUint16(2, le);
  if (magic !== 42 && magic !== 43) throw new FileError(path, `not a TIFF file (magic number ${magic}, not 42 or 43)`);
  const big = magic === 43;
  if (big && (r.size < 16 || h.getUint16(4, le) !== 8)) throw new FileError(path, 'malformed BigTIFF header');
  const off = (v: DataView, at: number): number => (big ? Number(v.getBigUint64(at, le)) : v.getUint32(at, le));
  let next = big ? off(h, 8) : off(h, 4);
  const seen = new Set<number>();
  const pages: TiffPage[] = [];
  for (let page = 0; next !== 0; page++) {
    if (seen.has(next)) throw new FileError(path, `page ${page}: the chain of directories loops back to offset ${next}`);
    if (seen.size >= MAX_PAGES) throw new FileError(path, `more than ${MAX_PAGES} pages`);
    seen.add(next);
    const where = (): string => `page ${page}: directory at ${next}`;
    const countSize = big ? 8 : 2;
    const entrySize = big ? 20 : 12;
    const cv = await r.bytes(next, countSize, where);
    const n = big ? Number(cv.getBigUint64(0, le)) : cv.getUint16(0, le);
    if (n === 0 || n > MAX_ENTRIES) throw new FileError(path, `${where()} has ${n} entries`);
    const dir = await r.bytes(next + countSize, n * entrySize + (big ? 8 : 4), where);
    const tags = new Map<number, number[]>();
    for (let k = 0; k < n; k++) {
      const e = k * entrySize;
      const tag = dir.getUint16(e, le);
      if (!WANTED.has(tag)) continue;
      const type = dir.getUint16(e + 2, le);
      const count = big ? Number(dir.getBigUint64(e + 4, le)) : dir.getUint32(e + 4, le);
      const tsize = TYPE_SIZE[type];
      const name = `${TAG_NAME.get(tag)} (tag ${tag})`;
      if (tsize === undefined || !INTEGER_TYPES.has(type))
        throw new FileError(path, `page ${page}: ${name} has field type ${type}, not an integer type`);
      const bytes = count * tsize;
      if (!Number.isSafeInteger(bytes) || bytes > r.size)
        throw new FileError(path, `page ${page}: ${name} claims ${count} values, more than the file holds`);
      const inline = bytes <= (big ? 8 : 4);
      const valueAt = e + (big ? 12 : 8);
      const v = inline
        ? new DataView(dir.buffer, dir.byteOffset + valueAt, bytes)
        : await r.bytes(off(dir, valueAt), bytes, () => `page ${page}: ${name}`);
      const values: number[] = new Array(count);
      for (let j = 0; j < count; j++) values[j] = readInt(v, type, j * tsize, le);
      tags.set(tag, values);
    }
    const following = off(dir, n * entrySize);
    const subfile = tags.get(TAG.NewSubfileType)?.[0] ?? 0;
    if ((subfile & 1) === 0) pages.push(pageOf(path, page, tags, r.size));
    next = following;
  }
  if (pages.length === 0) throw new FileError(path, 'has no full-resolution page');
  return { littleEndian: le, bigTiff: big, pages };
}

function readInt(v: DataView, type: number, at: number, le: boolean): number {
  switch (type) {
    case 1:
      return v.getUint8(at);
    case 6:
      return v.getInt8(at);
    case 3:
      return v.getUint16(at, le);
    case 8:
      return v.getInt16(at, le);
    case 4:
    case 13:
      return v.getUint32(at, le);
    case 9:
      return v.getInt32(at, le);
    case 17:
      return Number(v.getBigInt64(at, le));
    default:
      return Number(v.getBigUint64(at, le));
  }
}

/** Checks a page's tags and says where its pixels are; refuses what we cannot decode. */
function pageOf(path: string, page: number, tags: Map<number, number[]>, fileBytes: number): TiffPage {
  const name = (tag: number): string => `${TAG_NAME.get(tag)} (tag ${tag})`;
  const refuse = (tag: number, value: unknown, why: string): never => {
    throw new FileError(path, `page ${page}: ${name(tag)} = ${value} ${why}`);
  };
  const one = (tag: number, dflt?: number): number => {
    const v = tags.get(tag);
    if (v === undefined || v.length === 0) {
      if (dflt === undefined) throw new FileError(path, `page ${page}: ${name(tag)} is missing`);
      return dflt;
    }
    return v[0] as number;
  };
  const width = one(TAG.ImageWidth);
  const height = one(TAG.ImageLength);
  if (width < 1 || height < 1) refuse(TAG.ImageWidth, `${width}x${height}`, 'is an empty image');
  const samples = one(TAG.SamplesPerPixel, 1);
  const bitsList = tags.get(TAG.BitsPerSample) ?? [1];
  const bits = bitsList[0] as number;
  if (!bitsList.every((b) => b === bits)) refuse(TAG.BitsPerSample, bitsList.join(','), 'mixes sample sizes');
  const formats = tags.get(TAG.SampleFormat) ?? [1];
  const format = formats[0] as number;
  if (!formats.every((f) => f === format)) refuse(TAG.SampleFormat, formats.join(','), 'mixes sample formats');
  const photometric = one(TAG.PhotometricInterpretation, samples === 3 ? 2 : 1);
  if (photometric === 2) {
    if (samples !== 3) refuse(TAG.SamplesPerPixel, samples, 'is not supported for RGB (3 samples are; no alpha channel)');
  } else if (photometric === 0 || photometric === 1) {
    if (samples !== 1) refuse(TAG.SamplesPerPixel, samples, 'is not supported for a grey image (1 sample is; no alpha channel)');
  } else {
    refuse(TAG.PhotometricInterpretation, photometric, 'is not supported (0 and 1 grey, 2 RGB are; no palettes, CMYK or YCbCr)');
  }
  if (tags.has(TAG.ExtraSamples))
    refuse(TAG.ExtraSamples, (tags.get(TAG.ExtraSamples) ?? []).join(','), 'is not supported (no alpha channels)');
  if (![8, 16, 32, 64].includes(bits)) refuse(TAG.BitsPerSample, bits, 'is not supported (8, 16, 32 and 64 bits per sample are)');
  const kind = format === 2 ? 'int' : format === 3 ? 'float' : format === 1 || format === 4 ? 'uint' : undefined;
  const dtype = kind && pixelType(kind, bits / 8);
  if (!dtype)
    refuse(
      TAG.SampleFormat,
      `${format} with ${bits} bits`,
      'is not supported (unsigned, signed and IEEE floating point of 32 or 64 bits are)',
    );
  const compression = one(TAG.Compression, 1);
  if (MAX_RATIO[compression] === undefined) {
    const known = COMPRESSION_NAME[compression] ? ` (${COMPRESSION_NAME[compression]})` : '';
    refuse(TAG.Compression, `${compression}${known}`, 'is not supported (1 none, 5 LZW, 8 and 32946 Deflate, 32773 PackBits are)');
  }
  const predictor = one(TAG.Predictor, 1);
  if (predictor !== 1 && predictor !== 2) {
    refuse(TAG.Predictor, predictor, 'is not supported (1 none and 2 horizontal differencing are; 3 floating point is not)');
  }
  if (one(TAG.FillOrder, 1) !== 1) refuse(TAG.FillOrder, one(TAG.FillOrder), 'is not supported (1 is)');
  const planar = samples === 1 ? 1 : one(TAG.PlanarConfiguration, 1);
  if (planar !== 1 && planar !== 2) refuse(TAG.PlanarConfiguration, planar, 'is not 1 (chunky) or 2 (planar)');
  checkFrame(path, [samples, width, height], `page ${page}`);

  const tiled = tags.has(TAG.TileWidth) || tags.has(TAG.TileOffsets);
  const offTag = tiled ? TAG.TileOffsets : TAG.StripOffsets;
  const cntTag = tiled ? TAG.TileByteCounts : TAG.StripByteCounts;
  const blockWidth = tiled ? one(TAG.TileWidth) : width;
  const blockHeight = tiled ? one(TAG.TileLength) : Math.min(one(TAG.RowsPerStrip, height), height);
  if (blockWidth < 1 || blockHeight < 1) refuse(tiled ? TAG.TileWidth : TAG.RowsPerStrip, `${blockWidth}x${blockHeight}`, 'is empty');
  const planes = planar === 2 ? samples : 1;
  const perBlockSamples = planar === 2 ? 1 : samples;
  const across = Math.ceil(width / blockWidth);
  const down = Math.ceil(height / blockHeight);
  const blocks = across * down * planes;
  const offsets = tags.get(offTag);
  if (!offsets) throw new FileError(path, `page ${page}: ${name(offTag)} is missing`);
  if (offsets.length !== blocks)
    refuse(offTag, `${offsets.length} values`, `does not match the ${blocks} ${tiled ? 'tiles' : 'strips'} of a ${width}x${height} page`);
  const bytesPer = PIXEL_TYPES[dtype as PixelType].bytes;
  // Decoded bytes of block k: a tile is always whole; the last strip of a plane may be short.
  const decoded = (k: number): number => {
    const rows = tiled ? blockHeight : Math.min(blockHeight, height - (k % down) * blockHeight);
    return rows * blockWidth * perBlockSamples * bytesPer;
  };
  let counts = tags.get(cntTag);
  if (!counts) {
    if (compression !== 1) throw new FileError(path, `page ${page}: ${name(cntTag)} is missing`);
    counts = offsets.map((_, k) => decoded(k)); // tolerated for uncompressed data: the sizes are known
  }
  if (counts.length !== blocks)
    refuse(cntTag, `${counts.length} values`, `does not match the ${blocks} ${tiled ? 'tiles' : 'strips'} of a ${width}x${height} page`);
  const ratio = MAX_RATIO[compression] as number;
  for (let k = 0; k < blocks; k++) {
    const o = offsets[k] as number;
    const c = counts[k] as number;
    const need = decoded(k);
    if (o < 0 || c < 0 || o + c > fileBytes) {
      throw new FileError(
        path,
        `page ${page}: ${name(offTag)}: ${tiled ? 'tile' : 'strip'} ${k} (${c} bytes at ${o}) is past the end of the file (${fileBytes} bytes; truncated?)`,
      );
    }
    if (compression === 1 ? c < need : need > c * ratio + 1024) {
      throw new FileError(
        path,
        `page ${page}: ${name(cntTag)}: ${tiled ? 'tile' : 'strip'} ${k} has ${c} bytes, too few for ${need} bytes of pixels`,
      );
    }
  }
  return {
    page,
    width,
    height,
    samples,
    dtype: dtype as PixelType,
    compression,
    predictor,
    planar,
    offsets,
    counts,
    blockWidth,
    blockHeight,
    tiled,
  };
}

/** Decodes one page's pixels into a new array: [samples, width, height] chunky, or plane by plane. */
export async function readTiffPage(path: string, src: FileBytes, p: TiffPage, littleEndian: boolean): Promise<PixelArray> {
  const size = PIXEL_TYPES[p.dtype].bytes;
  const planes = p.planar === 2 ? p.samples : 1;
  const spb = p.planar === 2 ? 1 : p.samples; // samples per pixel within a block
  const rowBytes = p.width * spb * size; // of the page, one plane
  const planeBytes = rowBytes * p.height;
  const out = new Uint8Array(new ArrayBuffer(planeBytes * planes));
  const across = Math.ceil(p.width / p.blockWidth);
  const down = Math.ceil(p.height / p.blockHeight);
  const swap = littleEndian !== LITTLE_ENDIAN_HOST && size > 1;
  const blockRowBytes = p.blockWidth * spb * size;
  for (let k = 0; k < p.offsets.length; k++) {
    const plane = Math.floor(k / (across * down));
    const inPlane = k % (across * down);
    const bx = inPlane % across;
    const by = Math.floor(inPlane / across);
    const rows = p.tiled ? p.blockHeight : Math.min(p.blockHeight, p.height - by * p.blockHeight);
    const need = rows * blockRowBytes;
    const where = `page ${p.page}, ${p.tiled ? 'tile' : 'strip'} ${k}`;
    let block: Uint8Array;
    if (!p.tiled && p.compression === 1) {
      // Straight into place: a strip is whole rows of the page.
      block = out.subarray(plane * planeBytes + by * p.blockHeight * rowBytes, plane * planeBytes + by * p.blockHeight * rowBytes + need);
      await src.read(p.offsets[k] as number, block);
    } else {
      const packed = new Uint8Array(p.counts[k] as number);
      await src.read(p.offsets[k] as number, packed);
      block = decompress(path, where, p.compression, packed, need);
    }
    if (swap) swapBytes(block, size);
    if (p.predictor === 2) undoHorizontalDifferencing(block, p.dtype, p.blockWidth * spb, spb, rows);
    if (p.tiled) {
      // Copy the part of each tile row that lies inside the page.
      const x0 = bx * p.blockWidth;
      const w = Math.min(p.blockWidth, p.width - x0) * spb * size;
      for (let y = 0; y < rows && by * p.blockHeight + y < p.height; y++) {
        const dst = plane * planeBytes + (by * p.blockHeight + y) * rowBytes + x0 * spb * size;
        out.set(block.subarray(y * blockRowBytes, y * blockRowBytes + w), dst);
      }
    } else if (p.compression !== 1) {
      out.set(block, plane * planeBytes + by * p.blockHeight * rowBytes);
    }
  }
  return viewAs(p.dtype, out.buffer as ArrayBuffer);
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function decompress(path: string, where: string, compression: number, packed: Uint8Array, need: number): Uint8Array {
  let out: Uint8Array;
  switch (compression) {
    case COMPRESSION.None:
      out = packed; // a tile: its byte count was checked to cover it
      break;
    case COMPRESSION.PackBits:
      out = unpackBits(packed, need);
      break;
    case COMPRESSION.LZW:
      out = lzwDecode(packed, need);
      break;
    default:
      try {
        // Some writers pad a block; more than twice the block is not data.
        out = inflateSync(packed, { maxOutputLength: need * 2 + 1024 });
      } catch (err) {
        throw new FileError(path, `${where}: Deflate data does not decode: ${(err as Error).message}`, { cause: err });
      }
  }
  if (out.length < need) throw new FileError(path, `${where} decodes to ${out.length} bytes, ${need} expected (corrupt or truncated data)`);
  return out.length === need ? out : out.subarray(0, need);
}

/** PackBits (Apple): n >= 0 copies n + 1 bytes, n < 0 repeats the next byte 1 - n times, -128 is a no-op. */
export function unpackBits(src: Uint8Array, need: number): Uint8Array {
  const out = new Uint8Array(need);
  let i = 0;
  let o = 0;
  while (o < need && i < src.length) {
    const n = ((src[i++] as number) << 24) >> 24;
    if (n >= 0) {
      const len = Math.min(n + 1, need - o, src.length - i);
      out.set(src.subarray(i, i + len), o);
      i += n + 1;
      o += len;
    } else if (n !== -128) {
      const len = Math.min(1 - n, need - o);
      out.fill(src[i++] as number, o, o + len);
      o += len;
    }
  }
  return out.subarray(0, o);
}

/**
 * TIFF LZW: codes of 9 to 12 bits, most significant bit first, 256 clears the table, 257 ends
 * the data, and the code width grows one code early (at 511, 1023, 2047), as libtiff writes it.
 * Decodes at most `need` bytes.
 */
export function lzwDecode(src: Uint8Array, need: number): Uint8Array {
  const out = new Uint8Array(need);
  const prefix = new Int16Array(4096);
  const suffix = new Uint8Array(4096);
  const length = new Uint16Array(4096);
  for (let c = 0; c < 256; c++) {
    suffix[c] = c;
    length[c] = 1;
    prefix[c] = -1;
  }
  let width = 9;
  let next = 258;
  let old = -1;
  let o = 0;
  let bitPos = 0;
  const totalBits = src.length * 8;
  // Writes code's string at o (walking its prefixes back to front); returns its first byte.
  const emit = (code: number): number => {
    const len = length[code] as number;
    let c = code;
    for (let k = len - 1; k >= 0; k--) {
      if (o + k < need) out[o + k] = suffix[c] as number;
      c = prefix[c] as number;
    }
    const first = o < need ? (out[o] as number) : firstByte(code);
    o += len;
    return first;
  };
  const firstByte = (code: number): number => {
    let c = code;
    while ((prefix[c] as number) >= 0) c = prefix[c] as number;
    return suffix[c] as number;
  };
  while (o < need && bitPos + width <= totalBits) {
    // Read `width` bits MSB-first.
    let code = 0;
    for (let b = 0; b < width; b++, bitPos++) code = (code << 1) | (((src[bitPos >> 3] as number) >> (7 - (bitPos & 7))) & 1);
    if (code === 257) break;
    if (code === 256) {
      width = 9;
      next = 258;
      old = -1;
      continue;
    }
    if (old < 0) {
      if (code > 255) break; // corrupt: the first code after a clear must be a byte
      emit(code);
      old = code;
      continue;
    }
    let first: number;
    if (code < next) {
      first = emit(code);
    } else if (code === next) {
      // The KwKwK case: the string of `old` plus its own first byte.
      const f = firstByte(old);
      emit(old);
      if (o < need) out[o] = f;
      o++;
      first = f;
    } else {
      break; // corrupt: a code not yet defined
    }
    if (next < 4096) {
      prefix[next] = old;
      suffix[next] = first;
      length[next] = Math.min(0xffff, (length[old] as number) + 1);
      next++;
    }
    old = code;
    if (next + 1 >= 1 << width && width < 12) width++;
  }
  return out.subarray(0, Math.min(o, need));
}

/** Predictor 2: each sample was stored as the difference from the same sample of the pixel before. */
function undoHorizontalDifferencing(block: Uint8Array, dtype: PixelType, rowSamples: number, spp: number, rows: number): void {
  // Floats are differenced as the unsigned integers of their bits (libtiff does so).
  const asInt: PixelType = dtype === 'float32' ? 'uint32' : dtype === 'float64' ? 'uint64' : dtype;
  const a = viewAs(asInt, block.buffer.slice(block.byteOffset, block.byteOffset + block.byteLength) as ArrayBuffer);
  const v = a as unknown as { [i: number]: number | bigint; length: number };
  const big = asInt === 'int64' || asInt === 'uint64';
  for (let y = 0; y < rows; y++) {
    const row = y * rowSamples;
    for (let i = spp; i < rowSamples; i++) {
      if (big) v[row + i] = (v[row + i] as bigint) + (v[row + i - spp] as bigint);
      else v[row + i] = (v[row + i] as number) + (v[row + i - spp] as number);
    }
  }
  block.set(new Uint8Array(a.buffer));
}

class TiffFrames implements FrameFile {
  readonly path: string;
  readonly format = 'tiff';
  readonly layout: FrameLayout;
  readonly frames: number;
  readonly #info: TiffInfo;
  readonly #src: FileBytes;

  constructor(path: string, info: TiffInfo, src: FileBytes) {
    this.path = path;
    this.#info = info;
    this.#src = src;
    const first = info.pages[0] as TiffPage;
    for (const p of info.pages) {
      if (
        p.width !== first.width ||
        p.height !== first.height ||
        p.samples !== first.samples ||
        p.dtype !== first.dtype ||
        p.planar !== first.planar
      ) {
        throw new FileError(
          path,
          `page ${p.page} is ${p.width}x${p.height}x${p.samples} ${p.dtype}, page ${first.page} is ` +
            `${first.width}x${first.height}x${first.samples} ${first.dtype}: all pages must have one shape`,
        );
      }
    }
    const { width: nx, height: ny } = first;
    this.layout =
      first.samples === 1
        ? { dtype: first.dtype, dims: [nx, ny], colorMode: 0 }
        : first.planar === 1
          ? { dtype: first.dtype, dims: [3, nx, ny], colorMode: 2 }
          : { dtype: first.dtype, dims: [nx, ny, 3], colorMode: 4 };
    this.frames = info.pages.length;
  }

  read(index: number): Promise<PixelArray> {
    const p = this.#info.pages[index];
    if (!p) throw new InvalidArgumentError(`frame ${index} of ${this.frames}`);
    return readTiffPage(this.path, this.#src, p, this.#info.littleEndian);
  }

  close(): Promise<void> {
    return this.#src.close();
  }
}

/** A TIFF file as frames, one per full-resolution page. */
export async function openTiff(path: string): Promise<FrameFile> {
  const src = new FileBytes(path, await fileSize(path));
  try {
    return new TiffFrames(path, await readTiffInfo(path, src), src);
  } finally {
    await src.close(); // reopened by the first read
  }
}
