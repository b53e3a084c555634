// HDF5 files as frame sources, read with h5wasm (the HDF5 C library compiled to WebAssembly,
// reading the host file system directly). h5wasm is loaded on first use only, so a simulator
// that reads no HDF5 file never pays for its start-up.
//
// The frames are one numeric dataset: the one `--hdf-dataset` names, or else the first 3-d
// dataset found (groups walked depth first, names in order), or else the first 2-d one. Its
// shape maps to frames as a NumPy array's does (framesOfShape): [n, ny, nx] is a stack of n
// frames. Frames are read one hyperslab at a time, never the whole dataset. Big-endian data is
// converted by HDF5; compressed datasets decode with the filters h5wasm has built in (deflate,
// shuffle, ...); one it lacks (e.g. blosc, bitshuffle/LZ4) is a FileError naming the filter.
import { resolve } from 'node:path';
import { FileError, InvalidArgumentError, SluiceError } from '../errors.js';
import {
  fileSize,
  framesOfShape,
  pixelType,
  readHead,
  type FrameFile,
  type FrameLayout,
  type PixelArray,
  type PixelType,
} from './frame-file.js';

type H5 = typeof import('h5wasm');
type H5File = InstanceType<H5['File']>;
type H5Dataset = InstanceType<H5['Dataset']>;

let loading: Promise<{ h5: H5; module: Awaited<H5['ready']> }> | null = null;

/** h5wasm, loaded once. */
async function h5wasm(): Promise<{ h5: H5; module: Awaited<H5['ready']> }> {
  loading ??= (async () => {
    const mod = (await import('h5wasm/node')) as unknown as { default?: H5 } & H5;
    const h5 = (mod.default ?? mod) as H5;
    const module = await h5.ready;
    return { h5, module };
  })();
  return loading;
}

/** The 8-byte signature at the start of an HDF5 file (or at 512, 1024, ... after a user block). */
const SIGNATURE = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];

export function isHdf5(head: Uint8Array, at = 0): boolean {
  return SIGNATURE.every((b, i) => head[at + i] === b);
}

/** HDF5 filter ids → names, for messages. */
const FILTERS: Record<number, string> = {
  1: 'deflate',
  2: 'shuffle',
  3: 'fletcher32',
  4: 'szip',
  5: 'nbit',
  6: 'scaleoffset',
  307: 'bzip2',
  32000: 'lzf',
  32001: 'blosc',
  32004: 'lz4',
  32008: 'bitshuffle',
  32015: 'zstd',
  32026: 'blosc2',
};

/** HDF5 datatype classes (H5T_class_t). */
const H5T_INTEGER = 0;
const H5T_FLOAT = 1;

/** Runs `fn` with HDF5 errors thrown (with their message) instead of printed to stderr. */
function throwing<T>(module: Awaited<H5['ready']>, fn: () => T): T {
  module.activate_throwing_error_handler();
  try {
    return fn();
  } finally {
    module.deactivate_throwing_error_handler();
  }
}

/** The useful line of an HDF5 error stack ("minor: ..."), not its twenty lines. */
function h5message(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const minors = [...text.matchAll(/minor: (.+)/g)].map((m) => (m[1] as string).trim());
  return minors.at(-1) ?? text.split('\n')[0] ?? text;
}

/** A numeric dataset's pixel type (undefined if it has none). */
function pixelTypeOf(ds: H5Dataset): PixelType | undefined {
  const m = ds.metadata;
  if (m.type === H5T_INTEGER) return pixelType(m.signed ? 'int' : 'uint', m.size);
  if (m.type === H5T_FLOAT) return pixelType('float', m.size);
  return undefined;
}

/** What a dataset holds, for messages. */
function typeName(ds: H5Dataset): string {
  const m = ds.metadata;
  return m.type === H5T_INTEGER ? `${m.size}-byte integers` : m.type === H5T_FLOAT ? `${m.size * 8}-bit floats` : 'no numbers';
}

/** Numeric datasets of 2 to 4 dimensions, depth first, names in order. */
function candidates(h5: H5, f: H5File): { path: string; ds: H5Dataset; rank: number }[] {
  const out: { path: string; ds: H5Dataset; rank: number }[] = [];
  const seen = new Set<string>();
  let visited = 0;
  const walk = (group: string, depth: number): void => {
    const g = f.get(group);
    if (depth > 32 || !(g instanceof h5.Group)) return;
    for (const name of [...g.keys()].sort()) {
      if (++visited > 100_000) return;
      const p = group === '/' ? `/${name}` : `${group}/${name}`;
      const e = f.get(p);
      if (e instanceof h5.Dataset) {
        const shape = e.metadata.shape;
        if (shape && shape.length >= 2 && shape.length <= 4 && pixelTypeOf(e)) out.push({ path: p, ds: e, rank: shape.length });
      } else if (e instanceof h5.Group && !seen.has(p)) {
        seen.add(p);
        walk(p, depth + 1);
      }
    }
  };
  walk('/', 0);
  return out;
}

class Hdf5Frames implements FrameFile {
  readonly path: string;
  readonly format = 'hdf5';
  readonly detail: string;
  readonly layout: FrameLayout;
  readonly frames: number;
  readonly #abs: string;
  readonly #rank: number;
  readonly #elements: number;
  #file: H5File | null = null;

  constructor(path: string, abs: string, dataset: string, layout: FrameLayout, frames: number, rank: number) {
    this.path = path;
    this.#abs = abs;
    this.detail = dataset;
    this.layout = layout;
    this.frames = frames;
    this.#rank = rank;
    this.#elements = layout.dims.reduce((a, b) => a * b, 1);
  }

  async read(index: number): Promise<PixelArray> {
    if (!Number.isInteger(index) || index < 0 || index >= this.frames) throw new InvalidArgumentError(`frame ${index} of ${this.frames}`);
    const { h5, module } = await h5wasm();
    return throwing(module, () => {
      try {
        this.#file ??= new h5.File(this.#abs, 'r');
        const ds = this.#file.get(this.detail);
        if (!(ds instanceof h5.Dataset)) throw new SluiceError('ERR_FILE', `dataset ${this.detail} is gone`);
        // A stack: the hyperslab [index, all, all(, all)]; a single frame: the whole dataset.
        const all: Parameters<H5Dataset['slice']>[0][number] = [];
        const data = this.frames === 1 ? ds.value : ds.slice([[index, index + 1], ...Array.from({ length: this.#rank - 1 }, () => all)]);
        if (!ArrayBuffer.isView(data) || (data as PixelArray).length !== this.#elements) {
          throw new SluiceError(
            'ERR_FILE',
            `a frame of ${this.#elements} elements read as ${ArrayBuffer.isView(data) ? (data as PixelArray).length : typeof data}`,
          );
        }
        return data as PixelArray;
      } catch (err) {
        if (err instanceof FileError) throw err;
        const ds = this.#file?.get(this.detail);
        const filters = ds instanceof h5.Dataset ? ds.filters : [];
        const names = filters.map((f) => `${f.id} (${FILTERS[f.id] ?? f.name})`).join(', ');
        throw new FileError(
          this.path,
          `dataset ${this.detail}, frame ${index}: ${h5message(err)}${names ? ` (the dataset's filters: ${names}; filters h5wasm lacks cannot be decoded)` : ''}`,
          { cause: err },
        );
      }
    });
  }

  async close(): Promise<void> {
    const f = this.#file;
    this.#file = null;
    if (f) {
      const { module } = await h5wasm();
      try {
        throwing(module, () => f.close());
      } catch {
        // closing a read-only file cannot lose data
      }
    }
  }
}

/**
 * An HDF5 file as frames of one dataset (`dataset`, or the first 3-d, else 2-d, numeric one).
 * `colorMode` as for framesOfShape.
 */
export async function openHdf5(path: string, dataset?: string, colorMode?: number): Promise<FrameFile> {
  const size = await fileSize(path);
  // Signature first: h5wasm's own error for a file that is not HDF5 is a page of stack trace.
  const head = await readHead(path, Math.min(size, 2048 + 8));
  if (![0, 512, 1024, 2048].some((at) => isHdf5(head, at))) throw new FileError(path, 'not an HDF5 file (no HDF5 signature)');
  const { h5, module } = await h5wasm();
  const abs = resolve(path);
  return throwing(module, () => {
    let f: H5File;
    try {
      f = new h5.File(abs, 'r');
    } catch (err) {
      throw new FileError(path, `cannot open as HDF5: ${h5message(err)}`, { cause: err });
    }
    try {
      let chosen: string;
      let ds: H5Dataset;
      if (dataset !== undefined && dataset !== '') {
        chosen = dataset.startsWith('/') ? dataset : `/${dataset}`;
        let e: ReturnType<H5File['get']> = null;
        try {
          e = f.get(chosen);
        } catch {
          e = null;
        }
        if (!(e instanceof h5.Dataset)) {
          const list = candidates(h5, f).map((c) => `${c.path} [${c.ds.metadata.shape?.join(', ')}]`);
          const what = e ? 'is not a dataset' : 'does not exist';
          throw new FileError(
            path,
            `HDF5 dataset ${chosen} ${what}${list.length ? `; datasets that could be frames: ${list.slice(0, 10).join(', ')}` : ''}`,
          );
        }
        ds = e;
      } else {
        const found = candidates(h5, f);
        const pick = found.find((c) => c.rank === 3) ?? found.find((c) => c.rank === 2);
        if (!pick) throw new FileError(path, 'has no 2-d or 3-d numeric dataset (name one with --hdf-dataset)');
        chosen = pick.path;
        ds = pick.ds;
      }
      const dtype = pixelTypeOf(ds);
      const shape = ds.metadata.shape;
      if (!dtype) {
        throw new FileError(
          path,
          `HDF5 dataset ${chosen} holds ${typeName(ds)}: frames must be 8- to 64-bit integers or 32- or 64-bit floats`,
        );
      }
      if (!shape) throw new FileError(path, `HDF5 dataset ${chosen} is empty (no dataspace)`);
      const fr = framesOfShape(path, shape, colorMode, `HDF5 dataset ${chosen}`);
      const layout: FrameLayout = { dtype, dims: fr.dims, colorMode: fr.colorMode };
      return new Hdf5Frames(path, abs, chosen, layout, fr.frames, shape.length);
    } finally {
      try {
        f.close();
      } catch {
        // nothing to lose
      }
    }
  });
}
