// Image files built byte by byte from their specifications, for the readers' tests: NumPy .npy
// (format 1.0/2.0 headers) and .npz (a zip written here), TIFF (classic and BigTIFF, either byte
// order, strips or tiles, uncompressed, PackBits, LZW or Deflate, predictor 2, several pages),
// and raw frames. No library writes them, so the readers are checked against the formats, not
// against a writer that shares their mistakes.
import { crc32, deflateRawSync, deflateSync } from 'node:zlib';
import type { PixelArray } from '../../src/formats/frame-file.js';

/** The bytes of `a` in the given byte order. */
export function bytesOf(a: PixelArray, littleEndian = true): Uint8Array {
  const out = new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
  if (!littleEndian && a.BYTES_PER_ELEMENT > 1) {
    const b = Buffer.from(out.buffer);
    if (a.BYTES_PER_ELEMENT === 2) b.swap16();
    else if (a.BYTES_PER_ELEMENT === 4) b.swap32();
    else b.swap64();
  }
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

// --- NumPy ----------------------------------------------------------------------------------------

const NPY_DESCR: Record<string, string> = {
  Int8Array: 'i1',
  Uint8Array: 'u1',
  Int16Array: 'i2',
  Uint16Array: 'u2',
  Int32Array: 'i4',
  Uint32Array: 'u4',
  BigInt64Array: 'i8',
  BigUint64Array: 'u8',
  Float32Array: 'f4',
  Float64Array: 'f8',
};

export interface NpyOptions {
  littleEndian?: boolean;
  fortran?: boolean;
  /** The dtype text as written (default from the array and byte order). */
  descr?: string;
  version?: 1 | 2 | 3;
  /** Bytes appended after the data (or removed, if negative). */
  extra?: number;
}

/**
 * An .npy file of `shape` holding `data` (its elements in file order: C order unless `fortran`).
 * The header is a Python dict literal padded to a multiple of 64 bytes, as numpy writes it.
 */
export function npyBytes(data: PixelArray, shape: readonly number[], o: NpyOptions = {}): Uint8Array {
  const le = o.littleEndian ?? true;
  const size = data.BYTES_PER_ELEMENT;
  const descr = o.descr ?? `${size === 1 ? '|' : le ? '<' : '>'}${NPY_DESCR[data.constructor.name]}`;
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  const dict = `{'descr': '${descr}', 'fortran_order': ${o.fortran ? 'True' : 'False'}, 'shape': ${shapeText}, }`;
  const version = o.version ?? 1;
  const prefix = version === 1 ? 10 : 12;
  const padded = Math.ceil((prefix + dict.length + 1) / 64) * 64;
  const header = dict + ' '.repeat(padded - prefix - dict.length - 1) + '\n';
  const head = new Uint8Array(prefix);
  head.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const dv = new DataView(head.buffer);
  if (version === 1) dv.setUint16(8, header.length, true);
  else dv.setUint32(8, header.length, true);
  let body = bytesOf(data, le);
  const extra = o.extra ?? 0;
  if (extra > 0) body = concat([body, new Uint8Array(extra)]);
  if (extra < 0) body = body.subarray(0, body.length + extra);
  return concat([head, new TextEncoder().encode(header), body]);
}

/** A zip archive (as numpy's savez writes an .npz): members stored or deflated. */
export function zipBytes(members: { name: string; data: Uint8Array; deflate?: boolean }[]): Uint8Array {
  const locals: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const m of members) {
    const name = new TextEncoder().encode(m.name);
    const packed = m.deflate ? deflateRawSync(m.data) : m.data;
    const crc = crc32(m.data) >>> 0;
    const lh = new Uint8Array(30);
    const l = new DataView(lh.buffer);
    l.setUint32(0, 0x04034b50, true);
    l.setUint16(4, 20, true);
    l.setUint16(8, m.deflate ? 8 : 0, true);
    l.setUint32(14, crc, true);
    l.setUint32(18, packed.length, true);
    l.setUint32(22, m.data.length, true);
    l.setUint16(26, name.length, true);
    locals.push(lh, name, packed);
    const ch = new Uint8Array(46);
    const c = new DataView(ch.buffer);
    c.setUint32(0, 0x02014b50, true);
    c.setUint16(4, 20, true);
    c.setUint16(6, 20, true);
    c.setUint16(10, m.deflate ? 8 : 0, true);
    c.setUint32(16, crc, true);
    c.setUint32(20, packed.length, true);
    c.setUint32(24, m.data.length, true);
    c.setUint16(28, name.length, true);
    c.setUint32(42, offset, true);
    central.push(ch, name);
    offset += 30 + name.length + packed.length;
  }
  const cd = concat(central);
  const end = new Uint8Array(22);
  const e = new DataView(end.buffer);
  e.setUint32(0, 0x06054b50, true);
  e.setUint16(8, members.length, true);
  e.setUint16(10, members.length, true);
  e.setUint32(12, cd.length, true);
  e.setUint32(16, offset, true);
  return concat([...locals, cd, end]);
}

// --- TIFF -----------------------------------------------------------------------------------------

export interface TiffPageSpec {
  width: number;
  height: number;
  /** Samples in file order: rows of width × samples (chunky), or one plane after another (planar). */
  pixels: PixelArray;
  samples?: 1 | 3;
  planar?: 1 | 2;
  /** 1 none, 5 LZW, 8 Deflate, 32773 PackBits. */
  compression?: number;
  predictor?: 1 | 2;
  rowsPerStrip?: number;
  /** [tileWidth, tileLength]: tiles instead of strips. */
  tile?: [number, number];
  photometric?: number;
  newSubfileType?: number;
  /** More entries: [tag, type, values] (values written as the type says). */
  extra?: [number, number, number[]][];
  /** Replace the value of a tag after the layout is done (for lying files). */
  override?: Record<number, number[]>;
}

export interface TiffOptions {
  littleEndian?: boolean;
  bigTiff?: boolean;
}

const SAMPLE_FORMAT: Record<string, number> = {
  Int8Array: 2,
  Uint8Array: 1,
  Int16Array: 2,
  Uint16Array: 1,
  Int32Array: 2,
  Uint32Array: 1,
  BigInt64Array: 2,
  BigUint64Array: 1,
  Float32Array: 3,
  Float64Array: 3,
};

/** A TIFF file of `pages`, the pixels first and each page's directory after them. */
export function tiffBytes(pages: TiffPageSpec[], o: TiffOptions = {}): Uint8Array {
  const le = o.littleEndian ?? true;
  const big = o.bigTiff ?? false;
  const chunks: Uint8Array[] = [];
  let at = big ? 16 : 8;
  const push = (b: Uint8Array): number => {
    const pos = at;
    chunks.push(b);
    at += b.length;
    if (at % 2) {
      chunks.push(new Uint8Array(1)); // word alignment, as the specification asks
      at++;
    }
    return pos;
  };
  const header = new Uint8Array(big ? 16 : 8);
  const hv = new DataView(header.buffer);
  hv.setUint16(0, le ? 0x4949 : 0x4d4d, false);
  hv.setUint16(2, big ? 43 : 42, le);
  if (big) hv.setUint16(4, 8, le);
  const ifdOffsets: number[] = [];
  const nextFields: number[] = []; // where each directory's next-offset goes
  for (const p of pages) {
    const samples = p.samples ?? 1;
    const planar = samples === 1 ? 1 : (p.planar ?? 1);
    const size = p.pixels.BYTES_PER_ELEMENT;
    const spb = planar === 2 ? 1 : samples;
    const planes = planar === 2 ? samples : 1;
    const compression = p.compression ?? 1;
    const [bw, bh] = p.tile ?? [p.width, Math.min(p.rowsPerStrip ?? p.height, p.height)];
    const across = Math.ceil(p.width / bw);
    const down = Math.ceil(p.height / bh);
    const offsets: number[] = [];
    const counts: number[] = [];
    const Ctor = p.pixels.constructor as new (n: number) => PixelArray;
    for (let plane = 0; plane < planes; plane++) {
      for (let by = 0; by < down; by++) {
        for (let bx = 0; bx < across; bx++) {
          const rows = p.tile ? bh : Math.min(bh, p.height - by * bh);
          const block = new Ctor(rows * bw * spb) as unknown as { [i: number]: number | bigint; length: number };
          const src = p.pixels as unknown as { [i: number]: number | bigint };
          for (let y = 0; y < rows; y++) {
            for (let x = 0; x < bw * spb; x++) {
              const py = by * bh + y;
              const px = bx * bw * spb + x;
              if (py < p.height && px < p.width * spb)
                block[y * bw * spb + x] = src[plane * p.width * p.height + py * p.width * spb + px] as number;
            }
          }
          if (p.predictor === 2) {
            // Floats are differenced as the unsigned integers of their bits, as libtiff does.
            const ints =
              block instanceof Float32Array
                ? new Uint32Array(block.buffer)
                : block instanceof Float64Array
                  ? new BigUint64Array(block.buffer)
                  : block;
            const d = ints as unknown as { [i: number]: number | bigint };
            for (let y = 0; y < rows; y++) {
              for (let x = bw * spb - 1; x >= spb; x--) {
                const i = y * bw * spb + x;
                if (typeof d[i] === 'bigint') d[i] = (d[i] as bigint) - (d[i - spb] as bigint);
                else d[i] = (d[i] as number) - (d[i - spb] as number);
              }
            }
          }
          const raw = bytesOf(block as unknown as PixelArray, le);
          const rowBytes = bw * spb * size;
          const packed =
            compression === 8
              ? new Uint8Array(deflateSync(raw))
              : compression === 32773 // row by row: TIFF's PackBits never crosses a row
                ? concat(Array.from({ length: rows }, (_, y) => packBits(raw.subarray(y * rowBytes, (y + 1) * rowBytes))))
                : compression === 5
                  ? lzwEncode(raw)
                  : raw;
          offsets.push(push(packed));
          counts.push(packed.length);
        }
      }
    }
    const bits = Array(samples).fill(size * 8) as number[];
    const format = Array(samples).fill(SAMPLE_FORMAT[p.pixels.constructor.name]) as number[];
    const entries: [number, number, number[]][] = [
      [256, 4, [p.width]],
      [257, 4, [p.height]],
      [258, 3, bits],
      [259, 3, [compression]],
      [262, 3, [p.photometric ?? (samples === 3 ? 2 : 1)]],
      [277, 3, [samples]],
      [284, 3, [planar]],
      [339, 3, format],
    ];
    if (p.newSubfileType !== undefined) entries.push([254, 4, [p.newSubfileType]]);
    if (p.predictor) entries.push([317, 3, [p.predictor]]);
    if (p.tile) entries.push([322, 4, [bw]], [323, 4, [bh]], [324, big ? 16 : 4, offsets], [325, 4, counts]);
    else entries.push([273, big ? 16 : 4, offsets], [278, 4, [bh]], [279, 4, counts]);
    entries.push(...(p.extra ?? []));
    for (const [tag, values] of Object.entries(p.override ?? {})) {
      const e = entries.find((x) => x[0] === Number(tag));
      if (e) e[2] = values;
      else entries.push([Number(tag), 4, values]);
    }
    entries.sort((a, b) => a[0] - b[0]);
    // Values too long for their entry go before the directory.
    const inline = big ? 8 : 4;
    const typeSize: Record<number, number> = { 1: 1, 3: 2, 4: 4, 16: 8 };
    const valueOffsets = entries.map(([, type, values]) => {
      const n = values.length * (typeSize[type] as number);
      return n <= inline ? -1 : push(encodeValues(type, values, le));
    });
    const entrySize = big ? 20 : 12;
    const dir = new Uint8Array((big ? 8 : 2) + entries.length * entrySize + (big ? 8 : 4));
    const dv = new DataView(dir.buffer);
    if (big) dv.setBigUint64(0, BigInt(entries.length), le);
    else dv.setUint16(0, entries.length, le);
    entries.forEach(([tag, type, values], k) => {
      const e = (big ? 8 : 2) + k * entrySize;
      dv.setUint16(e, tag, le);
      dv.setUint16(e + 2, type, le);
      if (big) dv.setBigUint64(e + 4, BigInt(values.length), le);
      else dv.setUint32(e + 4, values.length, le);
      const v = e + (big ? 12 : 8);
      const off = valueOffsets[k] as number;
      if (off < 0) dir.set(encodeValues(type, values, le), v);
      else if (big) dv.setBigUint64(v, BigInt(off), le);
      else dv.setUint32(v, off, le);
    });
    const pos = push(dir);
    ifdOffsets.push(pos);
    nextFields.push(pos + dir.length - (big ? 8 : 4));
  }
  const out = concat([header, ...chunks]);
  const ov = new DataView(out.buffer);
  const setOffset = (where: number, value: number): void => {
    if (big) ov.setBigUint64(where, BigInt(value), le);
    else ov.setUint32(where, value, le);
  };
  setOffset(big ? 8 : 4, ifdOffsets[0] ?? 0);
  for (let k = 0; k < pages.length; k++) setOffset(nextFields[k] as number, ifdOffsets[k + 1] ?? 0);
  return out;
}

function encodeValues(type: number, values: number[], le: boolean): Uint8Array {
  const size = ({ 1: 1, 3: 2, 4: 4, 16: 8 } as Record<number, number>)[type] as number;
  const out = new Uint8Array(values.length * size);
  const v = new DataView(out.buffer);
  values.forEach((x, i) => {
    if (size === 1) v.setUint8(i, x);
    else if (size === 2) v.setUint16(i * 2, x, le);
    else if (size === 4) v.setUint32(i * 4, x, le);
    else v.setBigUint64(i * 8, BigInt(x), le);
  });
  return out;
}

/** PackBits: runs of 3 or more equal bytes as repeats, the rest as literals. */
export function packBits(src: Uint8Array): Uint8Array {
  const out: number[] = [];
  let i = 0;
  while (i < src.length) {
    let run = 1;
    while (i + run < src.length && run < 128 && src[i + run] === src[i]) run++;
    if (run >= 3) {
      out.push(257 - run, src[i] as number);
      i += run;
      continue;
    }
    const start = i;
    while (i < src.length && i - start < 128) {
      if (i + 2 < src.length && src[i] === src[i + 1] && src[i] === src[i + 2]) break;
      i++;
    }
    out.push(i - start - 1, ...src.subarray(start, i));
  }
  return new Uint8Array(out);
}

/** TIFF LZW (MSB first, 9 to 12 bits, early change, Clear first and EndOfInformation last). */
export function lzwEncode(src: Uint8Array): Uint8Array {
  const out: number[] = [];
  let acc = 0;
  let nacc = 0;
  let width = 9;
  const put = (code: number): void => {
    acc = (acc << width) | code;
    nacc += width;
    while (nacc >= 8) {
      out.push((acc >>> (nacc - 8)) & 0xff);
      nacc -= 8;
    }
    acc &= (1 << nacc) - 1;
  };
  let table = new Map<string, number>();
  let next = 258;
  const reset = (): void => {
    table = new Map();
    next = 258;
  };
  put(256);
  let w = -1; // current string: a code
  for (const byte of src) {
    if (w < 0) {
      w = byte;
      continue;
    }
    const key = `${w},${byte}`;
    const found = table.get(key);
    if (found !== undefined) {
      w = found;
      continue;
    }
    put(w);
    table.set(key, next++);
    w = byte;
    // The decoder, one table entry behind, widens "early" at 511, 1023, 2047: the same code.
    if (next >= 1 << width && width < 12) width++;
    if (next >= 4094) {
      put(256);
      reset();
      width = 9;
    }
  }
  if (w >= 0) put(w);
  put(257);
  if (nacc > 0) out.push((acc << (8 - nacc)) & 0xff);
  return new Uint8Array(out);
}
