// NumPy files as frame sources: `.npy` (format versions 1, 2 and 3) and `.npz` (a zip of .npy
// members, stored or deflated, zip64 included).
//
// An .npy file is a magic string, a version, a header length and a Python dict literal
// (`{'descr': '<u2', 'fortran_order': False, 'shape': (10, 512, 512), }`), then the array's
// bytes. A 2-d array is one frame, a 3-d array a stack of frames along axis 0, a 4-d array a stack
// of colour frames (see framesOfShape). Frames are read one at a time at their offset, never the
// whole array, so a file of any size opens at once and streams in bounded memory (what PvaPy's
// `--mmap-mode` is for). The data size the header declares must be exactly what the file holds.
//
// Fortran-order arrays: a single frame (2-d, or 3-d colour) is reordered to C order; a Fortran
// stack interleaves its frames pixel by pixel and is refused.
import { inflateRawSync, crc32 } from 'node:zlib';
import { FileError, InvalidArgumentError, SluiceError } from '../errors.js';
import {
  checkedProduct,
  fileSize,
  FileBytes,
  framesOfShape,
  MemoryBytes,
  PIXEL_TYPES,
  pixelType,
  swapBytes,
  viewAs,
  type ByteSource,
  type FrameFile,
  type FrameLayout,
  type PixelArray,
  type PixelType,
} from './frame-file.js';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
/** numpy itself refuses headers over 10000 bytes unless told otherwise; we allow more. */
const MAX_HEADER = 1 << 20;

export interface NpyHeader {
  readonly dtype: PixelType;
  readonly littleEndian: boolean;
  readonly fortranOrder: boolean;
  /** C-order shape, slowest axis first, as NumPy prints it. */
  readonly shape: readonly number[];
  /** Offset of the array data from the start of the .npy bytes. */
  readonly dataOffset: number;
  /** Bytes of data the header declares. */
  readonly dataBytes: number;
}

/** True if `head` starts with the .npy magic string. */
export function isNpy(head: Uint8Array): boolean {
  return MAGIC.every((b, i) => head[i] === b);
}

/** Parses the header at the start of an .npy byte source; checks the data size against it. */
export async function readNpyHeader(src: ByteSource, path: string, where = ''): Promise<NpyHeader> {
  const at = where ? ` (${where})` : '';
  if (src.size < 10) throw new FileError(path, `too short for a .npy file${at} (${src.size} bytes)`);
  const pre = new Uint8Array(Math.min(12, src.size));
  await src.read(0, pre);
  if (!isNpy(pre)) throw new FileError(path, `not a .npy file${at}: no \\x93NUMPY magic string`);
  const major = pre[6] as number;
  const dv = new DataView(pre.buffer);
  let prefix: number;
  let headerLen: number;
  if (major === 1) {
    prefix = 10;
    headerLen = dv.getUint16(8, true);
  } else if (major === 2 || major === 3) {
    if (pre.length < 12) throw new FileError(path, `truncated .npy header${at}`);
    prefix = 12;
    headerLen = dv.getUint32(8, true);
  } else {
    throw new FileError(path, `.npy format version ${major}.${pre[7]}${at} is not supported (1, 2 and 3 are)`);
  }
  if (headerLen > MAX_HEADER) throw new FileError(path, `.npy header of ${headerLen} bytes${at} is implausibly long`);
  if (prefix + headerLen > src.size)
    throw new FileError(path, `truncated${at}: the .npy header needs ${prefix + headerLen} bytes, the file has ${src.size}`);
  const hbytes = new Uint8Array(headerLen);
  await src.read(prefix, hbytes);
  const text = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(hbytes);
  let dict: unknown;
  try {
    dict = parsePyLiteral(text);
  } catch (err) {
    throw new FileError(path, `malformed .npy header${at}: ${(err as Error).message}`);
  }
  if (typeof dict !== 'object' || dict === null || Array.isArray(dict)) throw new FileError(path, `malformed .npy header${at}: not a dict`);
  const d = dict as Record<string, unknown>;
  const descr = d['descr'];
  if (typeof descr !== 'string') throw new FileError(path, `.npy dtype ${JSON.stringify(descr)}${at}: structured dtypes are not supported`);
  const { dtype, littleEndian } = parseDescr(path, descr, at);
  const fortranOrder = d['fortran_order'];
  if (typeof fortranOrder !== 'boolean') throw new FileError(path, `malformed .npy header${at}: fortran_order is not True or False`);
  const shape = d['shape'];
  if (!Array.isArray(shape) || !shape.every((x) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0)) {
    throw new FileError(path, `malformed .npy header${at}: shape ${JSON.stringify(shape)} is not a tuple of sizes`);
  }
  const dataBytes = checkedProduct(path, [...(shape as number[]), PIXEL_TYPES[dtype].bytes], `.npy shape${at}`);
  const dataOffset = prefix + headerLen;
  const has = src.size - dataOffset;
  if (has !== dataBytes) {
    const declared = `the header declares shape (${(shape as number[]).join(', ')}) of ${descr}, ${dataBytes} bytes of data`;
    throw new FileError(path, `${has < dataBytes ? 'truncated' : 'size mismatch'}${at}: ${declared}, the file has ${has}`);
  }
  return { dtype, littleEndian, fortranOrder, shape: shape as number[], dataOffset, dataBytes };
}

/** '<u2' → uint16 little-endian; bool, float16, complex, strings and objects are refused. */
function parseDescr(path: string, descr: string, at: string): { dtype: PixelType; littleEndian: boolean } {
  const m = /^([<>|=]?)([iuf])(\d+)$/.exec(descr);
  const kind = m ? ({ i: 'int', u: 'uint', f: 'float' } as const)[m[2] as 'i' | 'u' | 'f'] : undefined;
  const dtype = m && kind ? pixelType(kind, Number(m[3])) : undefined;
  if (!m || !dtype) {
    throw new FileError(
      path,
      `.npy dtype '${descr}'${at} is not supported (int8/16/32/64, uint8/16/32/64, float32/64 are: pvData has no bool, float16 or complex arrays)`,
    );
  }
  return { dtype, littleEndian: m[1] !== '>' };
}

/** The frames of one .npy array held by `src`. */
class NpyFrames implements FrameFile {
  readonly path: string;
  readonly format: string;
  readonly detail: string | undefined;
  readonly layout: FrameLayout;
  readonly frames: number;
  readonly #src: ByteSource;
  readonly #h: NpyHeader;
  readonly #frameBytes: number;

  constructor(path: string, format: string, detail: string | undefined, h: NpyHeader, src: ByteSource, colorMode: number | undefined) {
    this.path = path;
    this.format = format;
    this.detail = detail;
    this.#h = h;
    this.#src = src;
    const what = detail ? `array ${detail}` : 'array';
    const f = framesOfShape(path, h.shape, colorMode, what);
    if (h.fortranOrder && f.frames > 1) {
      throw new FileError(
        path,
        `${what} of shape (${h.shape.join(', ')}) is in Fortran order, which interleaves its frames: ` +
          'save it in C order (numpy.ascontiguousarray) to stream it',
      );
    }
    this.layout = { dtype: h.dtype, dims: f.dims, colorMode: f.colorMode };
    this.frames = f.frames;
    this.#frameBytes = h.dataBytes / f.frames;
  }

  async read(index: number): Promise<PixelArray> {
    if (!Number.isInteger(index) || index < 0 || index >= this.frames) throw new InvalidArgumentError(`frame ${index} of ${this.frames}`);
    const n = this.#frameBytes;
    const buf = new ArrayBuffer(n);
    await this.#src.read(this.#h.dataOffset + index * n, new Uint8Array(buf));
    const size = PIXEL_TYPES[this.#h.dtype].bytes;
    if (this.#h.littleEndian !== LITTLE_ENDIAN_HOST) swapBytes(new Uint8Array(buf), size);
    const a = viewAs(this.#h.dtype, buf);
    return this.#h.fortranOrder ? fortranToC(a, this.#h.shape) : a;
  }

  async readMany(first: number, count: number): Promise<PixelArray[]> {
    if (this.#h.fortranOrder || count === 1) return [await this.read(first)];
    if (!Number.isInteger(first) || first < 0 || count < 1 || first + count > this.frames)
      throw new InvalidArgumentError(`frames ${first}+${count} of ${this.frames}`);
    const n = this.#frameBytes;
    const buf = new ArrayBuffer(n * count);
    await this.#src.read(this.#h.dataOffset + first * n, new Uint8Array(buf));
    if (this.#h.littleEndian !== LITTLE_ENDIAN_HOST) swapBytes(new Uint8Array(buf), PIXEL_TYPES[this.#h.dtype].bytes);
    const size = PIXEL_TYPES[this.#h.dtype].bytes;
    return Array.from({ length: count }, (_, k) => new PIXEL_TYPES[this.#h.dtype].array(buf, k * n, n / size));
  }

  close(): Promise<void> {
    return this.#src.close();
  }
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The elements of a Fortran-order array of (C-order) `shape`, in C order. */
function fortranToC(a: PixelArray, shape: readonly number[]): PixelArray {
  const out = new (a.constructor as new (n: number) => PixelArray)(a.length);
  const nd = shape.length;
  // Fortran strides: axis 0 fastest.
  const stride: number[] = [];
  let s = 1;
  for (let k = 0; k < nd; k++) {
    stride.push(s);
    s *= shape[k] as number;
  }
  const idx = new Array<number>(nd).fill(0);
  const src = a as unknown as ArrayLike<number | bigint>;
  const dst = out as unknown as { [i: number]: number | bigint };
  let off = 0; // Fortran offset of the C-order element `i`
  for (let i = 0; i < a.length; i++) {
    dst[i] = src[off] as number | bigint;
    // Next C-order index: the last axis fastest.
    for (let k = nd - 1; k >= 0; k--) {
      idx[k] = (idx[k] as number) + 1;
      off += stride[k] as number;
      if ((idx[k] as number) < (shape[k] as number)) break;
      off -= (idx[k] as number) * (stride[k] as number);
      idx[k] = 0;
    }
  }
  return out;
}

/** An .npy file as frames. */
export async function openNpy(path: string, colorMode?: number): Promise<FrameFile> {
  const src = new FileBytes(path, await fileSize(path));
  try {
    const h = await readNpyHeader(src, path);
    return new NpyFrames(path, 'npy', undefined, h, src, colorMode);
  } finally {
    await src.close(); // reopened by the first read
  }
}

// --- .npz: a zip archive of .npy members --------------------------------------------------------

interface ZipEntry {
  name: string;
  method: number;
  flags: number;
  crc: number;
  compressedSize: number;
  size: number;
  localOffset: number;
}

/** Deflated members are inflated in memory: at most this many bytes each. */
export const MAX_INFLATED_MEMBER = 1 << 30;

/** True if `head` starts like a zip archive. */
export function isZip(head: Uint8Array): boolean {
  return head[0] === 0x50 && head[1] === 0x4b && head[2] === 3 && head[3] === 4;
}

/**
 * The arrays of an .npz archive, one FrameFile each, in archive order (np.savez writes them in
 * argument order). Stored members (np.savez) are read frame by frame at their offset; deflated
 * ones (np.savez_compressed) are inflated in memory, up to 1 GiB each, and their CRC checked.
 */
export async function openNpz(path: string, colorMode?: number): Promise<FrameFile[]> {
  const size = await fileSize(path);
  const file = new FileBytes(path, size);
  try {
    const entries = await readZipDirectory(file, path);
    const out: FrameFile[] = [];
    for (const e of entries) {
      if (!e.name.endsWith('.npy')) continue;
      const where = `member ${e.name}`;
      if (e.flags & 1) throw new FileError(path, `${where} is encrypted`);
      const local = new Uint8Array(30);
      if (e.localOffset + 30 > size) throw new FileError(path, `${where}: its local header is past the end of the file`);
      await file.read(e.localOffset, local);
      const lv = new DataView(local.buffer);
      if (lv.getUint32(0, true) !== 0x04034b50) throw new FileError(path, `${where}: no local header at offset ${e.localOffset}`);
      const start = e.localOffset + 30 + lv.getUint16(26, true) + lv.getUint16(28, true);
      if (start + e.compressedSize > size)
        throw new FileError(path, `truncated: ${where} needs bytes up to ${start + e.compressedSize}, the file has ${size}`);
      let src: ByteSource;
      if (e.method === 0) {
        if (e.compressedSize !== e.size)
          throw new FileError(path, `${where}: stored member with different sizes (${e.compressedSize}, ${e.size})`);
        src = new FileBytes(path, e.size, start);
      } else if (e.method === 8) {
        if (e.size > MAX_INFLATED_MEMBER || e.compressedSize > MAX_INFLATED_MEMBER) {
          throw new FileError(
            path,
            `${where}: a deflated member of ${e.size} bytes is too large to inflate in memory (save with numpy.savez, not savez_compressed)`,
          );
        }
        const packed = new Uint8Array(e.compressedSize);
        await file.read(start, packed);
        let bytes: Uint8Array;
        try {
          bytes = inflateRawSync(packed, { maxOutputLength: Math.max(1, e.size) });
        } catch (err) {
          throw new FileError(path, `${where} does not inflate to the ${e.size} bytes the archive declares: ${(err as Error).message}`, {
            cause: err,
          });
        }
        if (bytes.length !== e.size)
          throw new FileError(path, `${where} inflates to ${bytes.length} bytes, the archive declares ${e.size}`);
        if (crc32(bytes) >>> 0 !== e.crc) throw new FileError(path, `${where}: CRC mismatch (corrupt archive)`);
        src = new MemoryBytes(path, bytes);
      } else {
        throw new FileError(path, `${where}: zip compression method ${e.method} is not supported (stored and deflate are)`);
      }
      const h = await readNpyHeader(src, path, where);
      out.push(new NpyFrames(path, 'npz', e.name.slice(0, -4), h, src, colorMode));
      await src.close();
    }
    if (out.length === 0) throw new FileError(path, 'the archive has no .npy members');
    return out;
  } finally {
    await file.close();
  }
}

async function readZipDirectory(file: FileBytes, path: string): Promise<ZipEntry[]> {
  const size = file.size;
  if (size < 22) throw new FileError(path, 'too short for a zip archive');
  const tailLen = Math.min(size, 22 + 0xffff);
  const tail = new Uint8Array(tailLen);
  await file.read(size - tailLen, tail);
  const tv = new DataView(tail.buffer);
  let eocd = -1;
  for (let i = tailLen - 22; i >= 0; i--) {
    if (tv.getUint32(i, true) === 0x06054b50 && i + 22 + tv.getUint16(i + 20, true) === tailLen) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new FileError(path, 'not a zip archive (no end of central directory record; truncated?)');
  let count = tv.getUint16(eocd + 10, true);
  let cdSize = tv.getUint32(eocd + 12, true);
  let cdOffset = tv.getUint32(eocd + 16, true);
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    // zip64: the locator sits just before the end record.
    const loc = eocd - 20;
    if (loc < 0 || tv.getUint32(loc, true) !== 0x07064b50) throw new FileError(path, 'zip64 archive without its locator');
    const at = Number(tv.getBigUint64(loc + 8, true));
    if (at + 56 > size) throw new FileError(path, 'zip64 end record past the end of the file');
    const rec = new Uint8Array(56);
    await file.read(at, rec);
    const rv = new DataView(rec.buffer);
    if (rv.getUint32(0, true) !== 0x06064b50) throw new FileError(path, 'bad zip64 end record');
    count = Number(rv.getBigUint64(32, true));
    cdSize = Number(rv.getBigUint64(40, true));
    cdOffset = Number(rv.getBigUint64(48, true));
  }
  if (cdOffset + cdSize > size || cdSize > 64 << 20 || count * 46 > cdSize) {
    throw new FileError(
      path,
      `corrupt zip archive: central directory of ${count} entries, ${cdSize} bytes at ${cdOffset}, in a file of ${size}`,
    );
  }
  const cd = new Uint8Array(cdSize);
  await file.read(cdOffset, cd);
  const v = new DataView(cd.buffer);
  const entries: ZipEntry[] = [];
  let p = 0;
  for (let k = 0; k < count; k++) {
    if (p + 46 > cdSize || v.getUint32(p, true) !== 0x02014b50) throw new FileError(path, `corrupt zip central directory (entry ${k})`);
    const nameLen = v.getUint16(p + 28, true);
    const extraLen = v.getUint16(p + 30, true);
    const commentLen = v.getUint16(p + 32, true);
    if (p + 46 + nameLen + extraLen + commentLen > cdSize) throw new FileError(path, `corrupt zip central directory (entry ${k})`);
    const e: ZipEntry = {
      name: new TextDecoder().decode(cd.subarray(p + 46, p + 46 + nameLen)),
      flags: v.getUint16(p + 8, true),
      method: v.getUint16(p + 10, true),
      crc: v.getUint32(p + 16, true),
      compressedSize: v.getUint32(p + 20, true),
      size: v.getUint32(p + 24, true),
      localOffset: v.getUint32(p + 42, true),
    };
    // zip64 extra field: the 64-bit values of the fields that are 0xFFFFFFFF, in this order.
    for (let x = p + 46 + nameLen; x + 4 <= p + 46 + nameLen + extraLen;) {
      const id = v.getUint16(x, true);
      const len = v.getUint16(x + 2, true);
      if (id === 1) {
        let q = x + 4;
        const next = (): number => {
          if (q + 8 > x + 4 + len) throw new FileError(path, `corrupt zip64 field of ${e.name}`);
          const val = Number(v.getBigUint64(q, true));
          q += 8;
          return val;
        };
        if (e.size === 0xffffffff) e.size = next();
        if (e.compressedSize === 0xffffffff) e.compressedSize = next();
        if (e.localOffset === 0xffffffff) e.localOffset = next();
      }
      x += 4 + len;
    }
    entries.push(e);
    p += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

// --- the Python literals of .npy headers ---------------------------------------------------------

/** Parses a Python literal: dict, tuple/list (both as arrays), str, int, True/False/None. */
export function parsePyLiteral(text: string): unknown {
  let i = 0;
  const ws = (): void => {
    while (i < text.length && /\s/.test(text[i] as string)) i++;
  };
  const fail = (what: string): never => {
    throw new SluiceError('ERR_FILE', `${what} at character ${i}`);
  };
  const value = (depth: number): unknown => {
    if (depth > 16) fail('nesting too deep');
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const out: Record<string, unknown> = {};
      for (;;) {
        ws();
        if (text[i] === '}') return (i++, out);
        const k = value(depth + 1);
        if (typeof k !== 'string') fail('a dict key that is not a string');
        ws();
        if (text[i] !== ':') fail("expected ':'");
        i++;
        out[k as string] = value(depth + 1);
        ws();
        if (text[i] === ',') i++;
        else if (text[i] !== '}') fail("expected ',' or '}'");
      }
    }
    if (c === '(' || c === '[') {
      const close = c === '(' ? ')' : ']';
      i++;
      const out: unknown[] = [];
      for (;;) {
        ws();
        if (text[i] === close) return (i++, out);
        out.push(value(depth + 1));
        ws();
        if (text[i] === ',') i++;
        else if (text[i] !== close) fail(`expected ',' or '${close}'`);
      }
    }
    if (c === "'" || c === '"') {
      const end = text.indexOf(c, i + 1);
      if (end < 0) fail('unterminated string');
      const s = text.slice(i + 1, end);
      i = end + 1;
      return s;
    }
    const m = /^(True|False|None|-?\d+L?)/.exec(text.slice(i, i + 32));
    if (!m) return fail('unexpected text');
    const tok = (m as RegExpExecArray)[1] as string;
    i += tok.length;
    if (tok === 'True') return true;
    if (tok === 'False') return false;
    if (tok === 'None') return null;
    return Number(tok.replace(/L$/, ''));
  };
  const v = value(0);
  ws();
  if (i !== text.length) fail('trailing text');
  return v;
}
