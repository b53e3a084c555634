// PNG writer: 8- or 16-bit grey (colour type 0) or RGB (colour type 2), not interlaced, one IDAT
// chunk compressed with node:zlib. 16-bit samples are stored big-endian, as PNG requires.
// encodePngAsync() deflates on the libuv thread pool, so large images do not hold the event loop.
import { deflate, deflateSync, type ZlibOptions } from 'node:zlib';
import * as zlib from 'node:zlib';
import { InvalidArgumentError } from '../errors.js';
import { checkRaster, sampleBytes, sampleFormatOf, type RasterImage } from './raster-image.js';

export type PngFilter = 'none' | 'sub' | 'up' | 'paeth';

export interface PngOptions {
  /** zlib level 0-9 (default 6, zlib's and PIL's default). */
  level?: number;
  /** Scanline filter, the same for every row (default 'none': fastest; 'up' or 'paeth' compress smooth images better). */
  filter?: PngFilter;
}

const SIGNATURE = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);
const FILTER_CODE: Record<PngFilter, number> = { none: 0, sub: 1, up: 2, paeth: 4 };

let crcTable: Uint32Array | null = null;

/** CRC-32 (ISO-HDLC, the one of PNG and zlib), with node:zlib's native crc32 when Node has it (>= 20.15). */
export function crc32(bytes: Uint8Array, seed = 0): number {
  const native = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;
  if (native) return native(bytes, seed);
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = ~seed;
  for (let i = 0; i < bytes.length; i++) c = (crcTable[(c ^ (bytes[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return ~c >>> 0;
}

/** A chunk as [length and type, data, CRC]: the data is not copied. */
function chunk(type: string, data: Uint8Array): Uint8Array[] {
  if (data.length > 0x7fffffff) throw new InvalidArgumentError(`PNG: a ${type} chunk cannot hold ${data.length} bytes`);
  const head = Buffer.allocUnsafe(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const tail = Buffer.allocUnsafe(4);
  tail.writeUInt32BE(crc32(data, crc32(head.subarray(4, 8))), 0);
  return [head, data, tail];
}

interface Prepared {
  header: Uint8Array[];
  /** The filtered scanlines, to deflate. */
  rows: Buffer;
  zlib: ZlibOptions;
}

function prepare(img: RasterImage, opts: PngOptions): Prepared {
  checkRaster(img, 'PNG', [1, 3]);
  const { bits, format } = sampleFormatOf(img.data);
  if (format !== 'uint' || (bits !== 8 && bits !== 16)) {
    const kind = format === 'float' ? `${bits}-bit float` : `${bits}-bit ${format === 'int' ? 'signed' : 'unsigned'} integer`;
    throw new InvalidArgumentError(`PNG holds 8- and 16-bit unsigned samples, not ${kind} ones (TIFF takes them)`);
  }
  const level = opts.level ?? 6;
  if (!Number.isInteger(level) || level < 0 || level > 9)
    throw new InvalidArgumentError(`PNG: compression level must be 0-9, not ${level}`);
  const filter = opts.filter ?? 'none';
  if (!(filter in FILTER_CODE)) throw new InvalidArgumentError(`PNG: unknown filter '${filter}' (none, sub, up, paeth)`);
  const { width, height, samples } = img;
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = bits;
  ihdr[9] = samples === 3 ? 2 : 0; // colour type: RGB or grey
  // compression 0 (deflate), filter method 0, interlace 0: already zero
  const src = sampleBytes(img.data, false); // big-endian samples
  const rowBytes = width * samples * (bits / 8);
  const bpp = samples * (bits / 8);
  const rows = Buffer.allocUnsafe(height * (rowBytes + 1));
  const code = FILTER_CODE[filter];
  for (let y = 0; y < height; y++) {
    const o = y * (rowBytes + 1);
    rows[o] = code;
    const line = src.subarray(y * rowBytes, (y + 1) * rowBytes);
    if (code === 0) {
      rows.set(line, o + 1);
      continue;
    }
    const prev = y > 0 ? src.subarray((y - 1) * rowBytes, y * rowBytes) : null;
    for (let i = 0; i < rowBytes; i++) {
      const a = i >= bpp ? (line[i - bpp] as number) : 0;
      const b = prev ? (prev[i] as number) : 0;
      let predictor: number;
      if (code === 1) predictor = a;
      else if (code === 2) predictor = b;
      else {
        const c = prev && i >= bpp ? (prev[i - bpp] as number) : 0;
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        predictor = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      rows[o + 1 + i] = ((line[i] as number) - predictor) & 0xff;
    }
  }
  return { header: chunk('IHDR', ihdr), rows, zlib: { level } };
}

function assemble(header: Uint8Array[], compressed: Uint8Array): Buffer {
  return Buffer.concat([SIGNATURE, ...header, ...chunk('IDAT', compressed), ...chunk('IEND', new Uint8Array(0))]);
}

/** The PNG file, compressed on this thread. */
export function encodePng(img: RasterImage, opts: PngOptions = {}): Buffer {
  const p = prepare(img, opts);
  return assemble(p.header, deflateSync(p.rows, p.zlib));
}

/** The PNG file, compressed on the libuv thread pool (the filtering runs here, and is cheap). */
export async function encodePngAsync(img: RasterImage, opts: PngOptions = {}): Promise<Buffer> {
  const p = prepare(img, opts);
  const compressed = await new Promise<Buffer>((resolve, reject) =>
    deflate(p.rows, p.zlib, (err, out) => (err ? reject(err) : resolve(out))),
  );
  return assemble(p.header, compressed);
}
