// Raw binary frames described by a small YAML (or JSON) config, as pvapy-ad-sim-server's
// `-cfg/--config-file` has it (there read with fabio's BinaryImage):
//
//   file_info:
//     datatype: uint16        # a NumPy dtype: uint16, '<u2', 'H', ...
//     width: 512              # columns
//     height: 512             # rows
//     header_offset: 0        # bytes before the first frame (default 0)
//     endian: '<'             # '<' / 'little' (default) or '>' / 'big'
//     between_frames: 0       # bytes between two frames (default 0)
//     n_images: 100           # frames per file (default: as many as the file holds)
//     ordered_files: [a.raw, b.raw]   # the input files, in this order (relative to the config)
//
// The keys may also stand at the top level, without `file_info`. Frames follow each other as
// header_offset, frame, gap, frame, gap, ... Without n_images the bytes after the header must be
// a whole number of frames (a gap after the last frame allowed); with it the file must hold at
// least that many. Sizes are checked before anything is read, so a wrong width cannot make us
// allocate more than the file has.
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { FileError, InvalidArgumentError } from '../errors.js';
import {
  checkedProduct,
  checkFrame,
  fileSize,
  FileBytes,
  fileSystemError,
  PIXEL_TYPES,
  pixelType,
  swapBytes,
  viewAs,
  type FrameFile,
  type FrameLayout,
  type PixelArray,
  type PixelType,
} from './frame-file.js';

export interface RawConfig {
  /** The config file, for messages. */
  readonly source: string;
  readonly datatype: PixelType;
  readonly littleEndian: boolean;
  readonly width: number;
  readonly height: number;
  readonly headerOffset: number;
  readonly betweenFrames: number;
  readonly nImages: number | undefined;
  /** Absolute paths (relative ones are taken from the config file's directory). */
  readonly orderedFiles: readonly string[] | undefined;
}

const KEYS = ['datatype', 'width', 'height', 'header_offset', 'endian', 'between_frames', 'n_images', 'ordered_files'] as const;

/** NumPy one-letter type codes with a fixed size. */
const CHAR_CODES: Record<string, PixelType> = {
  b: 'int8',
  B: 'uint8',
  h: 'int16',
  H: 'uint16',
  i: 'int32',
  I: 'uint32',
  q: 'int64',
  Q: 'uint64',
  f: 'float32',
  d: 'float64',
};

/** Reads and checks a raw-data config (YAML, or JSON, which YAML includes). */
export async function readRawConfig(path: string): Promise<RawConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw fileSystemError(path, err);
  }
  const { parse } = await import('yaml');
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new FileError(path, `not valid YAML or JSON: ${(err as Error).message.split('\n')[0]}`, { cause: err });
  }
  return rawConfigOf(doc, path);
}

/** Checks a parsed config; `path` names it in messages and anchors relative ordered_files. */
export function rawConfigOf(doc: unknown, path: string): RawConfig {
  const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
  if (!isObj(doc)) throw new FileError(path, 'a raw-data config must be a mapping with a file_info section');
  const info = doc['file_info'] ?? doc;
  if (!isObj(info)) throw new FileError(path, 'file_info must be a mapping');
  const inSection = doc['file_info'] !== undefined ? 'file_info.' : '';
  for (const k of Object.keys(info)) {
    if (!(KEYS as readonly string[]).includes(k) && !(k === 'file_info' && !inSection)) {
      throw new FileError(path, `unknown key '${inSection}${k}' (known: ${KEYS.join(', ')})`);
    }
  }
  const int = (k: string, dflt?: number, min = 0): number => {
    const v = info[k] ?? dflt;
    if (v === undefined) throw new FileError(path, `${inSection}${k} is missing`);
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) {
      throw new FileError(path, `${inSection}${k} must be an integer >= ${min}, not ${JSON.stringify(v)}`);
    }
    return v;
  };
  const dt = info['datatype'];
  if (typeof dt !== 'string') throw new FileError(path, `${inSection}datatype must be a NumPy dtype name such as uint16 or '<u2'`);
  const { datatype, order } = parseDatatype(path, dt);
  const endian = info['endian'];
  let little: boolean | undefined;
  if (endian !== undefined && endian !== null) {
    const e = String(endian).toLowerCase();
    if (e === '<' || e === 'little') little = true;
    else if (e === '>' || e === 'big') little = false;
    else if (!['=', '|', 'native'].includes(e)) {
      throw new FileError(path, `${inSection}endian must be '<' (little) or '>' (big), not ${JSON.stringify(endian)}`);
    }
  }
  if (order !== undefined && little !== undefined && order !== little && PIXEL_TYPES[datatype].bytes > 1) {
    throw new FileError(path, `${inSection}datatype '${dt}' and endian '${String(endian)}' disagree`);
  }
  const files = info['ordered_files'];
  let orderedFiles: string[] | undefined;
  if (files !== undefined && files !== null) {
    if (!Array.isArray(files) || !files.every((f) => typeof f === 'string' && f !== '')) {
      throw new FileError(path, `${inSection}ordered_files must be a list of file names`);
    }
    orderedFiles = files.map((f) => resolve(dirname(path), f as string));
  }
  const n = info['n_images'];
  return {
    source: path,
    datatype,
    littleEndian: order ?? little ?? true,
    width: int('width', undefined, 1),
    height: int('height', undefined, 1),
    headerOffset: int('header_offset', 0),
    betweenFrames: int('between_frames', 0),
    nImages: n === undefined || n === null ? undefined : int('n_images', undefined, 1),
    orderedFiles,
  };
}

function parseDatatype(path: string, text: string): { datatype: PixelType; order: boolean | undefined } {
  const t = text.trim();
  if (t in PIXEL_TYPES) return { datatype: t as PixelType, order: undefined };
  const m = /^([<>|=]?)(?:([iuf])(\d+)|([bBhHiIqQfd]))$/.exec(t);
  let dtype: PixelType | undefined;
  if (m?.[4]) dtype = CHAR_CODES[m[4]];
  else if (m) dtype = pixelType(({ i: 'int', u: 'uint', f: 'float' } as const)[m[2] as 'i' | 'u' | 'f'], Number(m[3]));
  if (!m || !dtype) {
    throw new FileError(path, `datatype '${text}' is not one of ${Object.keys(PIXEL_TYPES).join(', ')} (or a NumPy code such as '<u2')`);
  }
  return { datatype: dtype, order: m[1] === '<' ? true : m[1] === '>' ? false : undefined };
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

class RawFrames implements FrameFile {
  readonly path: string;
  readonly format = 'raw';
  readonly layout: FrameLayout;
  readonly frames: number;
  readonly #cfg: RawConfig;
  readonly #src: FileBytes;
  readonly #frameBytes: number;

  constructor(path: string, cfg: RawConfig, layout: FrameLayout, frames: number, frameBytes: number, src: FileBytes) {
    this.path = path;
    this.#cfg = cfg;
    this.layout = layout;
    this.frames = frames;
    this.#frameBytes = frameBytes;
    this.#src = src;
  }

  async read(index: number): Promise<PixelArray> {
    if (!Number.isInteger(index) || index < 0 || index >= this.frames) throw new InvalidArgumentError(`frame ${index} of ${this.frames}`);
    const buf = new ArrayBuffer(this.#frameBytes);
    await this.#src.read(this.#cfg.headerOffset + index * (this.#frameBytes + this.#cfg.betweenFrames), new Uint8Array(buf));
    if (this.#cfg.littleEndian !== LITTLE_ENDIAN_HOST) swapBytes(new Uint8Array(buf), PIXEL_TYPES[this.layout.dtype].bytes);
    return viewAs(this.layout.dtype, buf);
  }

  async readMany(first: number, count: number): Promise<PixelArray[]> {
    if (this.#cfg.betweenFrames !== 0 || count === 1) return [await this.read(first)];
    if (!Number.isInteger(first) || first < 0 || count < 1 || first + count > this.frames)
      throw new InvalidArgumentError(`frames ${first}+${count} of ${this.frames}`);
    const n = this.#frameBytes;
    const buf = new ArrayBuffer(n * count);
    await this.#src.read(this.#cfg.headerOffset + first * n, new Uint8Array(buf));
    const size = PIXEL_TYPES[this.layout.dtype].bytes;
    if (this.#cfg.littleEndian !== LITTLE_ENDIAN_HOST) swapBytes(new Uint8Array(buf), size);
    return Array.from({ length: count }, (_, k) => new PIXEL_TYPES[this.layout.dtype].array(buf, k * n, n / size));
  }

  close(): Promise<void> {
    return this.#src.close();
  }
}

/**
 * A raw file as frames of `cfg`: mono [width, height], or with `colorMode` 2, 3 or 4 colour
 * frames of 3 samples per pixel in that mode's layout.
 */
export async function openRaw(path: string, cfg: RawConfig, colorMode = 0): Promise<FrameFile> {
  const size = await fileSize(path);
  const { width: nx, height: ny } = cfg;
  const dims = colorMode === 2 ? [3, nx, ny] : colorMode === 3 ? [nx, 3, ny] : colorMode === 4 ? [nx, ny, 3] : [nx, ny];
  checkFrame(path, dims, `frame of ${cfg.source}`);
  const frameBytes = checkedProduct(path, [...dims, PIXEL_TYPES[cfg.datatype].bytes], 'frame size');
  const stride = frameBytes + cfg.betweenFrames;
  const what = `${nx}x${ny}${colorMode ? 'x3' : ''} ${cfg.datatype} frames (${frameBytes} bytes each, ${cfg.betweenFrames} between, after a header of ${cfg.headerOffset}, as ${cfg.source} says)`;
  let frames: number;
  if (cfg.nImages !== undefined) {
    frames = cfg.nImages;
    const need = cfg.headerOffset + frames * frameBytes + (frames - 1) * cfg.betweenFrames;
    if (need > size) throw new FileError(path, `truncated: ${frames} ${what} need ${need} bytes, the file has ${size}`);
  } else {
    frames = Math.floor((size - cfg.headerOffset + cfg.betweenFrames) / stride);
    const exact = cfg.headerOffset + frames * frameBytes + (frames - 1) * cfg.betweenFrames;
    if (frames < 1 || (size !== exact && size !== exact + cfg.betweenFrames)) {
      throw new FileError(path, `size mismatch: ${size} bytes are not a whole number of ${what}`);
    }
  }
  return new RawFrames(path, cfg, { dtype: cfg.datatype, dims, colorMode }, frames, frameBytes, new FileBytes(path, size));
}
