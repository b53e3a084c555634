// What the image-file readers (npy.ts, tiff-read.ts, hdf5-read.ts, raw.ts) have in common: a
// file seen as a sequence of equally shaped frames, read one at a time into a typed array of its
// own (native byte order), plus the helpers they share — pixel types, the mapping from an N-d
// array shape to NTNDArray frames, checked sizes, and random access to a byte range of a file.
//
// Every reader checks the sizes a header declares against the bytes the file really has before
// it allocates anything, so a lying header gives a FileError, never a huge allocation.
import { open, stat, type FileHandle } from 'node:fs/promises';
import { FileError, InvalidArgumentError } from '../errors.js';
import type { ScalarType } from '../pvdata/types.js';
import { ELEMENT_SIZE, TYPED_ARRAY } from '../pvdata/values.js';

/** NumPy-style names of the pixel types pvData can carry in an NTNDArray. */
export type PixelType = 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'uint64' | 'float32' | 'float64';

export type PixelArray =
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array
  | Float32Array
  | Float64Array;

type PixelArrayCtor = { new (buffer: ArrayBuffer, byteOffset?: number, length?: number): PixelArray; new (length: number): PixelArray };

interface PixelInfo {
  readonly bytes: 1 | 2 | 4 | 8;
  readonly scalar: ScalarType;
  readonly array: PixelArrayCtor;
  readonly kind: 'int' | 'uint' | 'float';
}

/** A NumPy-style pixel type: its pvData scalar, and the array and size pvData has for it. */
const pixel = (scalar: ScalarType, kind: PixelInfo['kind']): PixelInfo => ({
  bytes: ELEMENT_SIZE[scalar] as PixelInfo['bytes'],
  scalar,
  array: TYPED_ARRAY[scalar] as PixelArrayCtor,
  kind,
});

/** NumPy's names for the pixel types (what files and PvaPy's `-dt` use); the one table of them. */
export const PIXEL_TYPES: Readonly<Record<PixelType, PixelInfo>> = {
  int8: pixel('byte', 'int'),
  uint8: pixel('ubyte', 'uint'),
  int16: pixel('short', 'int'),
  uint16: pixel('ushort', 'uint'),
  int32: pixel('int', 'int'),
  uint32: pixel('uint', 'uint'),
  int64: pixel('long', 'int'),
  uint64: pixel('ulong', 'uint'),
  float32: pixel('float', 'float'),
  float64: pixel('double', 'float'),
};

/** The pixel type of an integer or float of `bytes` bytes (undefined if there is none). */
export function pixelType(kind: 'int' | 'uint' | 'float', bytes: number): PixelType | undefined {
  for (const [name, info] of Object.entries(PIXEL_TYPES) as [PixelType, PixelInfo][]) {
    if (info.kind === kind && info.bytes === bytes) return name;
  }
  return undefined;
}

/** The shape of every frame of a file. */
export interface FrameLayout {
  readonly dtype: PixelType;
  /** NTNDArray dimensions, fastest-varying first: [nx, ny], [3, nx, ny], [nx, 3, ny] or [nx, ny, 3]. */
  readonly dims: readonly number[];
  /** areaDetector colour mode: 0 mono, 2 RGB1, 3 RGB2, 4 RGB3. */
  readonly colorMode: number;
}

/** A file (or a part of one: an npz member, an HDF5 dataset) as a sequence of frames. */
export interface FrameFile {
  readonly path: string;
  /** 'npy', 'npz', 'hdf5', 'tiff' or 'raw'. */
  readonly format: string;
  /** Where in the file the frames are, when a file has several places (npz member, HDF5 dataset). */
  readonly detail?: string;
  readonly layout: FrameLayout;
  readonly frames: number;
  /** Frame `index` (0-based) in a new array of its own, native byte order. Opens the file if needed. */
  read(index: number): Promise<PixelArray>;
  /**
   * Optional: frames `first`, `first + 1`, ... (`count` of them, all in the file) in one read,
   * for formats whose frames lie back to back. The arrays may share one buffer.
   */
  readMany?(first: number, count: number): Promise<PixelArray[]>;
  /** Releases the file; a later read() opens it again. */
  close(): Promise<void>;
}

/** Largest number of elements in one frame: one pvAccess array (a signed 32-bit count). */
export const MAX_FRAME_ELEMENTS = 2 ** 31 - 1;

export function elementsOf(dims: readonly number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

export function frameBytesOf(layout: FrameLayout): number {
  return elementsOf(layout.dims) * PIXEL_TYPES[layout.dtype].bytes;
}

/** `mono`, `RGB1`, ... */
export function colorModeName(mode: number): string {
  return ['mono', 'Bayer', 'RGB1', 'RGB2', 'RGB3'][mode] ?? `mode ${mode}`;
}

/** Columns and rows of a frame of `dims` in `colorMode`. */
export function frameXY(layout: Pick<FrameLayout, 'dims' | 'colorMode'>): { nx: number; ny: number } {
  const d = layout.dims;
  const [nx, ny] = layout.colorMode === 2 ? [d[1], d[2]] : layout.colorMode === 3 ? [d[0], d[2]] : [d[0], d[1]];
  return { nx: nx ?? 1, ny: ny ?? 1 };
}

/** `512x512 uint16 mono`. */
export function describeLayout(layout: FrameLayout): string {
  const { nx, ny } = frameXY(layout);
  return `${nx}x${ny} ${layout.dtype} ${colorModeName(layout.colorMode)}`;
}

export function sameLayout(a: FrameLayout, b: FrameLayout): boolean {
  return a.dtype === b.dtype && a.colorMode === b.colorMode && a.dims.length === b.dims.length && a.dims.every((d, i) => d === b.dims[i]);
}

/**
 * The product of declared sizes, or a FileError naming `what` when it is not a safe integer:
 * shapes come from headers and may lie.
 */
export function checkedProduct(path: string, values: readonly number[], what: string): number {
  let p = 1;
  for (const v of values) {
    if (!Number.isSafeInteger(v) || v < 0) throw new FileError(path, `${what}: ${v} is not a valid size`);
    p *= v;
    if (!Number.isSafeInteger(p)) throw new FileError(path, `${what} [${values.join(', ')}] is too large`);
  }
  return p;
}

/**
 * Frames of a C-order (row-major, last index fastest) N-d array of `shape`, as NumPy and HDF5
 * store them: [ny, nx] is one mono frame; [n, ny, nx] a stack of n mono frames (or, when
 * `colorMode` asks for colour, one colour frame: [ny, nx, 3] RGB1, [ny, 3, nx] RGB2, [3, ny, nx]
 * RGB3); [n, ...] with three more axes a stack of colour frames, the mode given by where the axis
 * of 3 is (`colorMode` decides when several axes are 3). An explicit `colorMode` that the shape
 * contradicts is an error.
 */
export function framesOfShape(
  path: string,
  shape: readonly number[],
  colorMode: number | undefined,
  what = 'array',
): { frames: number; dims: number[]; colorMode: number } {
  checkedProduct(path, shape, `${what} shape`);
  const shown = `[${shape.join(', ')}]`;
  const colour = (s: readonly number[]): number[] => {
    // s is one colour frame in C order; the modes whose axis of 3 is where s has a 3.
    const [a, b, c] = s as [number, number, number];
    const fits: Record<number, boolean> = { 2: c === 3, 3: b === 3, 4: a === 3 };
    const modes = [2, 3, 4].filter((m) => fits[m]);
    if (colorMode !== undefined && colorMode !== 0) {
      if (!fits[colorMode]) {
        const want = { 2: '[ny, nx, 3]', 3: '[ny, 3, nx]', 4: '[3, ny, nx]' }[colorMode as 2 | 3 | 4] ?? '?';
        throw new FileError(
          path,
          `${what} of shape ${shown} does not fit colour mode ${colorMode} (${colorModeName(colorMode)} frames are ${want} in C order)`,
        );
      }
      return [colorMode];
    }
    return modes;
  };
  const dimsOf = (mode: number, s: readonly number[]): number[] => {
    const [a, b, c] = s as [number, number, number];
    return mode === 2 ? [3, b, a] : mode === 3 ? [c, 3, a] : [c, b, 3];
  };
  if (colorMode !== undefined && ![0, 2, 3, 4].includes(colorMode)) {
    throw new InvalidArgumentError(`colour mode ${colorMode} is not one of 0 (mono), 2 (RGB1), 3 (RGB2), 4 (RGB3)`);
  }
  let out: { frames: number; dims: number[]; colorMode: number };
  switch (shape.length) {
    case 2: {
      if (colorMode) throw new FileError(path, `${what} of shape ${shown} is one mono frame, not colour mode ${colorMode}`);
      out = { frames: 1, dims: [shape[1] as number, shape[0] as number], colorMode: 0 };
      break;
    }
    case 3: {
      if (!colorMode) {
        out = { frames: shape[0] as number, dims: [shape[2] as number, shape[1] as number], colorMode: 0 };
        break;
      }
      const mode = colour(shape)[0] as number;
      out = { frames: 1, dims: dimsOf(mode, shape), colorMode: mode };
      break;
    }
    case 4: {
      if (colorMode === 0) throw new FileError(path, `${what} of shape ${shown} is a stack of colour frames, not mono (-cm 0)`);
      const modes = colour(shape.slice(1));
      if (modes.length === 0) {
        throw new FileError(
          path,
          `${what} of shape ${shown}: a stack of colour frames needs an axis of 3 ([n, ny, nx, 3], [n, ny, 3, nx] or [n, 3, ny, nx])`,
        );
      }
      if (modes.length > 1) {
        throw new FileError(path, `${what} of shape ${shown} could be colour mode ${modes.join(' or ')}: say which with -cm`);
      }
      const mode = modes[0] as number;
      out = { frames: shape[0] as number, dims: dimsOf(mode, shape.slice(1)), colorMode: mode };
      break;
    }
    default:
      throw new FileError(
        path,
        `${what} of shape ${shown} has ${shape.length} dimensions: frames are 2-d (one frame), 3-d (a stack) or 4-d (colour)`,
      );
  }
  checkFrame(path, out.dims, what);
  if (out.frames < 1) throw new FileError(path, `${what} of shape ${shown} has no frames`);
  return out;
}

/** A frame must have pixels and fit one pvAccess array. */
export function checkFrame(path: string, dims: readonly number[], what = 'frame'): void {
  const n = checkedProduct(path, dims, `${what} dimensions`);
  if (n === 0) throw new FileError(path, `${what} has an empty frame (dimensions [${dims.join(', ')}])`);
  if (n > MAX_FRAME_ELEMENTS) throw new FileError(path, `${what}: a frame of [${dims.join(', ')}] has more than 2^31 - 1 elements`);
}

/** Swap the byte order of every element of `bytes` in place (elements of `size` bytes). */
export function swapBytes(bytes: Uint8Array, size: number): void {
  if (size === 1) return;
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (size === 2) b.swap16();
  else if (size === 4) b.swap32();
  else if (size === 8) b.swap64();
  else throw new InvalidArgumentError(`cannot swap elements of ${size} bytes`);
}

/** A typed array of `dtype` over all of `buffer`. */
export function viewAs(dtype: PixelType, buffer: ArrayBuffer): PixelArray {
  return new PIXEL_TYPES[dtype].array(buffer);
}

/** Bytes of a file (or of a part of one), read where asked. */
export interface ByteSource {
  readonly size: number;
  /** Fills `target` with the bytes at `position`; a FileError if the file has fewer. */
  read(position: number, target: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

/** A range of a file, opened on the first read. */
export class FileBytes implements ByteSource {
  readonly path: string;
  readonly start: number;
  readonly size: number;
  #fh: FileHandle | null = null;
  #opening: Promise<FileHandle> | null = null;

  constructor(path: string, size: number, start = 0) {
    this.path = path;
    this.start = start;
    this.size = size;
  }

  async read(position: number, target: Uint8Array): Promise<void> {
    if (position < 0 || position + target.length > this.size) {
      throw new FileError(this.path, `needs bytes ${position}..${position + target.length} but has ${this.size}`);
    }
    const fh = this.#fh ?? (await (this.#opening ??= openFile(this.path)));
    this.#fh = fh;
    let done = 0;
    while (done < target.length) {
      const { bytesRead } = await fh.read(target, done, target.length - done, this.start + position + done);
      if (bytesRead === 0)
        throw new FileError(this.path, `ends at byte ${this.start + position + done}, before the data it declares (was it truncated?)`);
      done += bytesRead;
    }
  }

  async close(): Promise<void> {
    const fh = this.#fh ?? (this.#opening ? await this.#opening.catch(() => null) : null);
    this.#fh = null;
    this.#opening = null;
    await fh?.close();
  }
}

/** Bytes already in memory (an inflated npz member). */
export class MemoryBytes implements ByteSource {
  readonly path: string;
  readonly bytes: Uint8Array;
  constructor(path: string, bytes: Uint8Array) {
    this.path = path;
    this.bytes = bytes;
  }
  get size(): number {
    return this.bytes.length;
  }
  async read(position: number, target: Uint8Array): Promise<void> {
    if (position < 0 || position + target.length > this.bytes.length) {
      throw new FileError(this.path, `needs bytes ${position}..${position + target.length} but has ${this.bytes.length}`);
    }
    target.set(this.bytes.subarray(position, position + target.length));
  }
  async close(): Promise<void> {}
}

/** Opens a file for reading; a FileError that says why not (missing, a directory, no permission). */
export async function openFile(path: string): Promise<FileHandle> {
  try {
    return await open(path, 'r');
  } catch (err) {
    throw fileSystemError(path, err);
  }
}

/** A FileError for a failed fs call, in words. */
export function fileSystemError(path: string, err: unknown): FileError {
  const code = (err as NodeJS.ErrnoException).code;
  const why =
    code === 'ENOENT'
      ? 'no such file'
      : code === 'EACCES' || code === 'EPERM'
        ? 'permission denied'
        : code === 'EISDIR'
          ? 'is a directory'
          : code === 'ENOTDIR'
            ? 'a part of the path is not a directory'
            : `cannot be read (${(err as Error).message})`;
  return new FileError(path, why, { cause: err });
}

/** Size of a regular file, or a FileError. */
export async function fileSize(path: string): Promise<number> {
  let s;
  try {
    s = await stat(path);
  } catch (err) {
    throw fileSystemError(path, err);
  }
  if (s.isDirectory()) throw new FileError(path, 'is a directory, not a file (use --input-directory)');
  if (!s.isFile()) throw new FileError(path, 'is not a regular file');
  return s.size;
}

/** The first `n` bytes of a file (fewer if it is shorter). */
export async function readHead(path: string, n: number): Promise<Uint8Array> {
  const fh = await openFile(path);
  try {
    const out = new Uint8Array(n);
    let done = 0;
    while (done < n) {
      const { bytesRead } = await fh.read(out, done, n - done, done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return out.subarray(0, done);
  } finally {
    await fh.close();
  }
}
