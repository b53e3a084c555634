// Frames from files for the simulator: pvapy-ad-sim-server's `--input-file`, `--input-directory`,
// `--hdf-dataset` and `--config-file`.
//
// FileSource turns the inputs into one sequence of equally shaped frames: a file, or every
// regular file of a directory (sorted by name, as PvaPy sorts them; hidden files ignored), or
// the `ordered_files` of a raw-data config. The format comes from the extension (.npy, .npz,
// .h5/.hdf/.hdf5, .tif/.tiff), else raw binary when a config is given, else from the file's
// first bytes. In a directory a file that cannot be read (unknown format, corrupt, truncated)
// is skipped with a warning, as PvaPy skips what fabio cannot read; a file named on its own is
// an error. Files whose frames differ in shape or type from the first file's are an error.
//
// FileFrames is the simulator's frame supply on top of it (the same contract as FrameCache):
// when the frames to publish fit the cache they are all read at start and recycled forever;
// otherwise they are streamed once, read ahead through a bounded queue by a producer while the
// publisher takes them (PvaPy's producer thread and PvObjectQueue), and the run ends after the
// last. Memory stays within the cache either way.
import { readdir, stat } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import { FileError, InvalidArgumentError, SluiceError } from '../errors.js';
import {
  describeLayout,
  fileSize,
  fileSystemError,
  frameBytesOf,
  readHead,
  sameLayout,
  type FrameFile,
  type FrameLayout,
  type PixelArray,
} from '../formats/frame-file.js';
import { isHdf5, openHdf5 } from '../formats/hdf5-read.js';
import { isNpy, isZip, openNpy, openNpz } from '../formats/npy.js';
import { openRaw, readRawConfig, type RawConfig } from '../formats/raw.js';
import { isTiff, openTiff } from '../formats/tiff-read.js';
import { ntndarray } from '../pvdata/nt/ntndarray.js';
import type { PVStructure } from '../pvdata/values.js';
import { DEFAULT_CACHE_BYTES, DEFAULT_CACHE_SIZE, SIM_DESCRIPTOR, type SimFrames } from './frame-cache.js';

export interface FileInputOptions {
  /** One file (PvaPy's `-if`). */
  inputFile?: string;
  /** Every regular file of a directory, sorted by name (`-id`). */
  inputDirectory?: string;
  /** YAML or JSON description of raw binary files (`-cfg`); its `ordered_files` replace the inputs. */
  configFile?: string;
  /** Dataset of HDF5 inputs (`-hds`); default the first 3-d, else 2-d, numeric dataset. */
  hdfDataset?: string;
  /** An explicit colour mode (`-cm`): picks the layout of ambiguous arrays, must agree with the others. */
  colorMode?: number;
  /** Files skipped in a directory, one sentence each. */
  onWarning?: (message: string) => void;
}

const EXTENSIONS: Record<string, 'npy' | 'npz' | 'hdf5' | 'tiff'> = {
  '.npy': 'npy',
  '.npz': 'npz',
  '.h5': 'hdf5',
  '.hdf': 'hdf5',
  '.hdf5': 'hdf5',
  '.tif': 'tiff',
  '.tiff': 'tiff',
};

/** Bytes read at once when frames lie back to back in a file (small frames: fewer system calls). */
const READ_BYTES = 1 << 20;

const KNOWN = '.npy, .npz, .h5/.hdf/.hdf5 and .tif/.tiff files are read; raw binary files need --config-file';

/** Opens one file as frames (several for an npz archive). */
async function openInput(path: string, o: FileInputOptions, cfg: RawConfig | undefined): Promise<FrameFile[]> {
  let format: string | undefined = EXTENSIONS[extname(path).toLowerCase()];
  if (!format && cfg) format = 'raw';
  if (!format) {
    const size = await fileSize(path);
    const head = await readHead(path, Math.min(size, 8));
    format = isNpy(head) ? 'npy' : isZip(head) ? 'npz' : isTiff(head) ? 'tiff' : isHdf5(head) ? 'hdf5' : undefined;
    if (!format) throw new FileError(path, `unknown format (${KNOWN})`);
  }
  switch (format) {
    case 'npy':
      return [await openNpy(path, o.colorMode)];
    case 'npz':
      return openNpz(path, o.colorMode);
    case 'hdf5':
      return [await openHdf5(path, o.hdfDataset, o.colorMode)];
    case 'tiff': {
      const f = await openTiff(path);
      if (o.colorMode !== undefined && o.colorMode !== f.layout.colorMode) {
        throw new FileError(path, `has ${describeLayout(f.layout)} frames, not colour mode ${o.colorMode} (-cm)`);
      }
      return [f];
    }
    default:
      return [await openRaw(path, cfg as RawConfig, o.colorMode ?? 0)];
  }
}

/** The input files in publishing order; `optional` ones (from a directory) may be skipped. */
async function inputPaths(o: FileInputOptions, cfg: RawConfig | undefined): Promise<{ path: string; optional: boolean }[]> {
  if (cfg?.orderedFiles) return cfg.orderedFiles.map((path) => ({ path, optional: false }));
  const out: { path: string; optional: boolean }[] = [];
  if (o.inputDirectory !== undefined) {
    const dir = o.inputDirectory;
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOTDIR') throw new FileError(dir, 'is not a directory (use --input-file for a file)');
      if (code === 'ENOENT') throw new FileError(dir, 'no such directory', { cause: err });
      throw fileSystemError(dir, err);
    }
    const config = o.configFile === undefined ? undefined : resolve(o.configFile);
    for (const name of names) {
      if (name.startsWith('.')) continue;
      const path = join(dir, name);
      if (config !== undefined && resolve(path) === config) continue;
      const s = await stat(path).catch(() => null); // follows links, as PvaPy's isfile does
      if (s?.isFile()) out.push({ path, optional: true });
    }
  }
  if (o.inputFile !== undefined) out.push({ path: o.inputFile, optional: false });
  // PvaPy sorts the whole list (a file given with a directory included).
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** One sequence of frames from the input files. */
export class FileSource {
  /** The files (npz members, HDF5 datasets) the frames come from, in order. */
  readonly parts: readonly FrameFile[];
  readonly layout: FrameLayout;
  /** Frames in all the parts. */
  readonly frames: number;
  readonly frameBytes: number;
  /** Files of the directory that were skipped. */
  readonly skipped: number;
  readonly #starts: number[];
  #current: FrameFile | null = null;

  private constructor(parts: FrameFile[], skipped: number) {
    this.parts = parts;
    this.skipped = skipped;
    const first = parts[0] as FrameFile;
    this.layout = first.layout;
    this.frameBytes = frameBytesOf(first.layout);
    this.#starts = [];
    let n = 0;
    for (const p of parts) {
      this.#starts.push(n);
      n += p.frames;
    }
    this.frames = n;
  }

  static async open(o: FileInputOptions): Promise<FileSource> {
    if (o.inputFile === undefined && o.inputDirectory === undefined && o.configFile === undefined) {
      throw new InvalidArgumentError('no input: give an input file, an input directory or a config file with ordered_files');
    }
    const cfg = o.configFile === undefined ? undefined : await readRawConfig(o.configFile);
    if (cfg && !cfg.orderedFiles && o.inputFile === undefined && o.inputDirectory === undefined) {
      throw new InvalidArgumentError(`${o.configFile} has no ordered_files: give the raw files with --input-file or --input-directory`);
    }
    const paths = await inputPaths(o, cfg);
    const parts: FrameFile[] = [];
    let skipped = 0;
    let firstSkip = '';
    let reference: FrameFile | undefined;
    for (const { path, optional } of paths) {
      let opened: FrameFile[];
      try {
        opened = await openInput(path, o, cfg);
      } catch (err) {
        if (!optional || !(err instanceof SluiceError && err.code === 'ERR_FILE')) throw err;
        o.onWarning?.(`skipping ${err.message}`);
        firstSkip ||= err.message;
        skipped++;
        continue;
      }
      for (const f of opened) {
        reference ??= f;
        if (!sameLayout(f.layout, reference.layout)) {
          const name = (x: FrameFile) => `${x.path}${x.detail ? ` (${x.detail})` : ''}`;
          throw new FileError(
            f.path,
            `${f.detail ? `${f.detail}: ` : ''}frames are ${describeLayout(f.layout)} [${f.layout.dims.join(',')}], ` +
              `but ${name(reference)} has ${describeLayout(reference.layout)} [${reference.layout.dims.join(',')}]: all inputs must have frames of one shape and type`,
          );
        }
        parts.push(f);
      }
    }
    if (parts.length === 0) {
      const where = o.inputDirectory ?? o.inputFile ?? o.configFile ?? '';
      throw new FileError(
        where,
        paths.length ? `none of its ${paths.length} files could be read; the first: ${firstSkip}` : 'has no files',
      );
    }
    return new FileSource(parts, skipped);
  }

  /** Frame `index` of the whole sequence. Reading in order keeps one file open at a time. */
  async read(index: number): Promise<PixelArray> {
    const { part, at } = await this.#locate(index);
    return part.read(at);
  }

  /**
   * Frames from `index` on, at most `max` and `maxBytes` of them (at least one), all from the
   * file that holds `index`: read together where the format allows (frames back to back).
   */
  async readMany(index: number, max: number, maxBytes = READ_BYTES): Promise<PixelArray[]> {
    const { part, at } = await this.#locate(index);
    const n = Math.max(1, Math.min(max, part.frames - at, Math.floor(maxBytes / this.frameBytes)));
    return n > 1 && part.readMany ? part.readMany(at, n) : [await part.read(at)];
  }

  async #locate(index: number): Promise<{ part: FrameFile; at: number }> {
    if (!Number.isInteger(index) || index < 0 || index >= this.frames) throw new InvalidArgumentError(`frame ${index} of ${this.frames}`);
    // The part holding `index`: binary search over the first frame of each part.
    let lo = 0;
    let hi = this.parts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((this.#starts[mid] as number) <= index) lo = mid;
      else hi = mid - 1;
    }
    const part = this.parts[lo] as FrameFile;
    if (this.#current !== part) {
      await this.#current?.close();
      this.#current = part;
    }
    return { part, at: index - (this.#starts[lo] as number) };
  }

  async close(): Promise<void> {
    const c = this.#current;
    this.#current = null;
    await c?.close();
  }
}

export interface FileFramesOptions {
  /** Frames to publish: the first N of the input; <= 0 (default) all. */
  nFrames?: number;
  /** Frames kept in memory (default 1000). */
  cacheSize?: number;
  /** Without an explicit nFrames the cache also holds at most this many bytes (default 256 MiB). */
  cacheBytes?: number;
  descriptor?: string;
}

/**
 * The frames of a FileSource as the simulator publishes them. If the frames to publish (all, or
 * the first nFrames) fit the cache — cacheSize frames, and without an explicit nFrames at most
 * cacheBytes — they are read at start and recycled forever. Otherwise they are streamed once:
 * a producer reads ahead into a queue of at most min(cacheSize, cacheBytes / frame) frames and
 * the stream ends after the last frame.
 */
export class FileFrames implements SimFrames {
  readonly source: FileSource;
  readonly layout: FrameLayout;
  readonly dims: readonly number[];
  readonly frameBytes: number;
  /** Frames taken from the input (one pass). */
  readonly total: number;
  /** Recycling: the frames kept; streaming: the depth of the read-ahead queue. */
  readonly size: number;
  /** Frames published before the stream ends: Infinity when recycling. */
  readonly limit: number;
  readonly streaming: boolean;
  readonly #descriptor: string;
  readonly #frames: PVStructure[] = [];
  readonly #queue: PVStructure[] = [];
  #initial: PVStructure | null = null;
  #produced = 0;
  #error: { err: unknown } | null = null;
  #closed = false;
  #producer: Promise<void> | null = null;
  readonly #consumers = new Set<() => void>();
  #wakeProducer: (() => void) | null = null;

  private constructor(source: FileSource, o: FileFramesOptions) {
    this.source = source;
    this.layout = source.layout;
    this.dims = source.layout.dims;
    this.frameBytes = source.frameBytes;
    this.#descriptor = o.descriptor ?? SIM_DESCRIPTOR;
    const cacheSize = Math.max(1, Math.floor(o.cacheSize ?? DEFAULT_CACHE_SIZE));
    const nFrames = Math.floor(o.nFrames ?? 0);
    if (!Number.isFinite(nFrames)) throw new InvalidArgumentError('the number of frames must be finite');
    this.total = nFrames > 0 ? Math.min(nFrames, source.frames) : source.frames;
    const budget = Math.max(1, Math.floor((o.cacheBytes ?? DEFAULT_CACHE_BYTES) / this.frameBytes));
    const kept = nFrames > 0 ? cacheSize : Math.min(cacheSize, budget);
    this.streaming = this.total > kept;
    this.size = this.streaming ? Math.min(cacheSize, budget) : this.total;
    this.limit = this.streaming ? this.total : Infinity;
  }

  /** Reads what is needed before the first frame: every frame when recycling, the first one when streaming. */
  static async open(source: FileSource, o: FileFramesOptions = {}): Promise<FileFrames> {
    const f = new FileFrames(source, o);
    try {
      if (f.streaming) {
        f.#queue.push(f.#build(await source.read(0)));
        f.#produced = 1;
        f.#initial = f.#queue[0] as PVStructure;
        f.#producer = f.#produce();
      } else {
        while (f.#frames.length < f.total) {
          for (const data of await source.readMany(f.#frames.length, f.total - f.#frames.length)) f.#frames.push(f.#build(data));
        }
        f.#initial = f.#frames[0] as PVStructure;
        await source.close();
      }
    } catch (err) {
      await source.close().catch(() => {});
      throw err;
    }
    return f;
  }

  #build(data: PixelArray): PVStructure {
    return ntndarray.build({ data, dims: [...this.dims], uniqueId: 0, colorMode: this.layout.colorMode, descriptor: this.#descriptor });
  }

  async #produce(): Promise<void> {
    try {
      while (this.#produced < this.total && !this.#closed) {
        if (this.#queue.length >= this.size) {
          await new Promise<void>((r) => (this.#wakeProducer = r));
          continue;
        }
        // As many frames as the queue has room for, up to 1 MiB, in one read where possible.
        const room = Math.min(this.size - this.#queue.length, this.total - this.#produced);
        const batch = await this.source.readMany(this.#produced, room);
        if (this.#closed) break;
        for (const data of batch) this.#queue.push(this.#build(data));
        this.#produced += batch.length;
        this.#wakeConsumers();
      }
    } catch (err) {
      this.#error = { err };
    } finally {
      await this.source.close().catch(() => {});
      this.#wakeConsumers();
    }
  }

  #wakeConsumers(): void {
    for (const w of [...this.#consumers]) w();
  }

  /** Frames read ahead and not yet published (streaming). */
  get queued(): number {
    return this.#queue.length;
  }

  initial(): PVStructure {
    return this.#initial as PVStructure;
  }

  /**
   * Streaming: undefined when the next frame is in memory, else a promise that resolves true
   * once it is, false if the signal aborts or the supply closes first, and rejects with the
   * error that stopped the producer (a file that went bad while streaming).
   */
  ready(_index: number, signal: AbortSignal): Promise<boolean> | undefined {
    if (!this.streaming || this.#queue.length > 0) return undefined;
    return new Promise<boolean>((resolve, reject) => {
      const check = (): void => {
        if (this.#queue.length > 0) done(() => resolve(true));
        else if (this.#error) {
          const { err } = this.#error;
          done(() => reject(err));
        } else if (signal.aborted || this.#closed || this.#produced >= this.total) done(() => resolve(false));
      };
      const done = (f: () => void): void => {
        this.#consumers.delete(check);
        signal.removeEventListener('abort', check);
        f();
      };
      this.#consumers.add(check);
      signal.addEventListener('abort', check, { once: true });
      check();
    });
  }

  /** The frame to publish as the `index`-th; when streaming, the next one read (after ready()). */
  frame(index: number): PVStructure {
    if (!this.streaming) return this.#frames[index % this.size] as PVStructure;
    const f = this.#queue.shift();
    if (!f) throw new InvalidArgumentError(`frame ${index} has not been read yet (await ready() first)`);
    const wake = this.#wakeProducer;
    this.#wakeProducer = null;
    wake?.();
    return f;
  }

  /** Stops the producer and closes the files. */
  async close(): Promise<void> {
    this.#closed = true;
    const wake = this.#wakeProducer;
    this.#wakeProducer = null;
    wake?.();
    await this.#producer;
    this.#queue.length = 0;
    this.#wakeConsumers();
    await this.source.close();
  }
}

/** Opens the inputs and reads what the simulator needs before it starts. */
export async function openFileFrames(input: FileInputOptions, o: FileFramesOptions = {}): Promise<FileFrames> {
  return FileFrames.open(await FileSource.open(input), o);
}
