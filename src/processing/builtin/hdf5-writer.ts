// Hdf5AdImageWriter (PvaPy's name; also exported as Hdf5ImageWriter): saves Area Detector frames
// into HDF5 files, nImagesPerFile frames per file, and republishes them unchanged.
//
// File layout (what h5py users expect, and what PvaPy's writer makes, plus the ids):
//   /<datasetName>  (default "images"): shape (n, ny, nx) for mono frames, (n, ny, nx, nz) for
//                   colour ones (every RGB layout is stored pixel-interleaved), the frames' own
//                   dtype, chunked one frame per chunk, maxshape (None, ny, nx[, nz]);
//   /uniqueIds      int32, shape (n,): the uniqueId of each frame, same index.
// A file is created at the first frame of each block with n = nImagesPerFile (chunks are only
// stored once written) and closed when full; a file closed early (stop(), a reconfiguration,
// a change of frame size or dtype) has both datasets resized to the frames it holds.
//
// HDF5 itself is the HDF5 C library compiled to WebAssembly (the h5wasm package), loaded on first
// use so that programs that never write HDF5 do not pay for it. Its Node build reaches the real
// file system with synchronous calls (Emscripten NODERAWFS), so writes block the event loop
// while they run: frames are copied into a batch of up to 1 MiB and written in one call (a
// larger frame is written alone, without the batch copy), the ids when the file is closed.
// Everything is on disk when a file is closed, as with h5py, whose chunk cache also holds
// frames until then.
import { closeSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type * as H5 from 'h5wasm/node';
import { SluiceError } from '../../errors.js';
import type { ScalarType } from '../../pvdata/types.js';
import type { PVStructure, PVTypedArray } from '../../pvdata/values.js';
import { AdImageProcessor } from '../ad-image-processor.js';
import type { Frame } from '../nd-image.js';
import type { ProcessorConfig } from '../user-data-processor.js';
import { FileNameTemplate } from './file-name-template.js';
import { interleaved } from './frame-raster.js';
import { SAVING_STATS_TYPES, savingStats } from './saving-stats.js';

type H5Module = typeof H5;

/** Placeholders of outputFileNameFormat. */
export const HDF5_FILE_PLACEHOLDERS = ['outputFileId', 'uniqueId', 'frameId', 'objectId', 'processorId', 'consumerId'] as const;
/** The dataset of frame ids, beside the images. */
export const UNIQUE_IDS_DATASET = 'uniqueIds';

/**
 * Frames are written in batches of up to this many bytes (one frame when larger): h5wasm opens
 * and closes the dataset on every write, which costs more than writing a small frame (about
 * 100-300 us per call against 20 us per 16 KiB frame in a batch of 64).
 */
const BATCH_BYTES = 1 << 20;
/** HDF5 (h5py/NumPy) type strings of NTNDArray element types, all little-endian. */
export const H5_DTYPE: Partial<Record<ScalarType, string>> = {
  byte: '<b',
  ubyte: '<B',
  short: '<h',
  ushort: '<H',
  int: '<i',
  uint: '<I',
  long: '<q',
  ulong: '<Q',
  float: '<f',
  double: '<d',
};

let h5wasm: Promise<H5Module> | null = null;

/** The h5wasm module (Node build), imported and initialised once per process. */
export function loadH5wasm(): Promise<H5Module> {
  h5wasm ??= (async () => {
    const m = (await import('h5wasm/node')) as H5Module;
    await m.ready;
    return m;
  })();
  return h5wasm;
}

function fail(message: string, cause?: unknown): SluiceError {
  return new SluiceError('ERR_PROCESSOR', message, cause === undefined ? undefined : { cause });
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Run HDF5 calls with h5wasm's throwing error handler, so that a failure is an exception (the
 * default handler prints the HDF5 error stack to stderr and lets the call return as if nothing
 * happened), then restore the default for other users of the module.
 */
function hdf5<T>(h5: H5Module, f: () => T): T {
  h5.Module.activate_throwing_error_handler();
  try {
    return f();
  } finally {
    h5.Module.deactivate_throwing_error_handler();
  }
}

/** An HDF5 error stack in one line: the API call that failed and the innermost cause. */
export function hdf5ErrorSummary(e: unknown): string {
  const text = messageOf(e);
  // One entry per "#NNN: FILE line N in FUNC(): what: details" frame; details may span lines
  // (a ctime() string ends in a newline), "major:"/"minor:" lines are dropped.
  const frames: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (/^#\d+:/.test(line)) frames.push(line.replace(/^#\d+:\s*.*? line \d+ in /, ''));
    else if (frames.length > 0 && line && !/^(major|minor):/.test(line)) frames[frames.length - 1] += ' ' + line;
  }
  if (frames.length === 0) return text.trim();
  const brief = (frame: string): string => {
    const m = /^(\S+\(\)): (.*?)(?::\s(.*))?$/s.exec(frame);
    if (!m) return frame;
    const reason = /error message = '([^']*)'/.exec(m[3] ?? '')?.[1];
    return `${m[1]}: ${m[2]}${reason ? ` (${reason})` : ''}`;
  };
  const first = brief(frames[0] as string);
  const last = brief(frames[frames.length - 1] as string);
  return first === last ? first : `${first}: ${last}`;
}

function checkDirectory(v: unknown): string {
  if (typeof v !== 'string' || v === '') throw fail(`outputDirectory must be a non-empty string, not ${JSON.stringify(v)}`);
  return v;
}

function checkTemplate(v: unknown): FileNameTemplate {
  if (typeof v !== 'string') throw fail(`outputFileNameFormat must be a string, not ${JSON.stringify(v)}`);
  try {
    return new FileNameTemplate(v, HDF5_FILE_PLACEHOLDERS);
  } catch (e) {
    throw fail(messageOf(e), e);
  }
}

function checkImagesPerFile(v: unknown): number {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v; // PvaPy takes int('100') too
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1)
    throw fail(`nImagesPerFile must be a positive integer, not ${JSON.stringify(v)}`);
  return n;
}

function checkDatasetName(v: unknown): string {
  if (typeof v !== 'string' || !/^\/?[^/]+(\/[^/]+)*$/.test(v) || v.split('/').some((p) => p === '.' || p === '..')) {
    throw fail(`datasetName must be a dataset path such as 'images' or 'entry/data/data', not ${JSON.stringify(v)}`);
  }
  const name = v.replace(/^\//, '');
  if (name === UNIQUE_IDS_DATASET) throw fail(`datasetName cannot be '${UNIQUE_IDS_DATASET}': that dataset holds the frame ids`);
  return name;
}

interface OpenFile {
  path: string;
  file: H5.File;
  images: H5.Dataset;
  uniqueIds: H5.Dataset;
  /** Frames taken (written or waiting in the batch). */
  n: number;
  capacity: number;
  /** Shape of one frame: [ny, nx] or [ny, nx, nz]. */
  frameShape: number[];
  /** dtype and frame shape: a frame that differs starts a new file. */
  key: string;
  /** The ids of the frames taken, written when the file is closed. */
  ids: Int32Array;
  /** Frames waiting to be written in one call (null: frames are written one by one, straight from the frame). */
  batch: PVTypedArray | null;
  /** Frames in the batch: the last ones taken. */
  batched: number;
  batchSize: number;
}

export class Hdf5AdImageWriter extends AdImageProcessor {
  static readonly DEFAULT_OUTPUT_DIRECTORY = '.';
  static readonly DEFAULT_OUTPUT_FILE_NAME_FORMAT = '{outputFileId:06}.{processorId}.hdf';
  static readonly DEFAULT_N_IMAGES_PER_FILE = 1000;
  static readonly DEFAULT_DATASET_NAME = 'images';

  outputDirectory: string;
  nImagesPerFile: number;
  datasetName: string;
  #template: FileNameTemplate;
  #h5: H5Module | null = null;
  #open: OpenFile | null = null;
  /** Files created so far (the outputFileId of the next is one more). */
  #outputFileId = 0;
  #nFilesSaved = 0;
  #nBytesSaved = 0;
  #fileProcessingTime = 0;
  #lastFileProcessedTime = 0;
  #lastFrameProcessedTime = 0;

  constructor(config: ProcessorConfig = {}) {
    super(config);
    this.outputDirectory = checkDirectory(config['outputDirectory'] ?? Hdf5AdImageWriter.DEFAULT_OUTPUT_DIRECTORY);
    this.#template = checkTemplate(config['outputFileNameFormat'] ?? Hdf5AdImageWriter.DEFAULT_OUTPUT_FILE_NAME_FORMAT);
    this.nImagesPerFile = checkImagesPerFile(config['nImagesPerFile'] ?? Hdf5AdImageWriter.DEFAULT_N_IMAGES_PER_FILE);
    this.datasetName = checkDatasetName(config['datasetName'] ?? Hdf5AdImageWriter.DEFAULT_DATASET_NAME);
  }

  get outputFileNameFormat(): string {
    return this.#template.template;
  }

  /** The path of the file currently open, if any. */
  get currentFilePath(): string | null {
    return this.#open?.path ?? null;
  }

  /** Load HDF5 before the first frame, and create the output directory (a failure there is only a warning). */
  override async start(): Promise<void> {
    this.#h5 = await loadH5wasm();
    const dir = resolve(this.outputDirectory);
    try {
      mkdirSync(dir, { recursive: true });
      this.logger.info(
        `saving frames to ${dir} as ${this.outputFileNameFormat}, ${this.nImagesPerFile} per file, dataset ${this.datasetName}`,
      );
    } catch (e) {
      this.logger.warn(`cannot create output directory '${dir}': ${messageOf(e)}: every frame will fail until it can be created`);
    }
  }

  /**
   * outputDirectory, outputFileNameFormat, nImagesPerFile, datasetName; all are checked before
   * any changes. A change closes the file being written: the next frame starts a new one.
   */
  override configure(config: Record<string, unknown>): void {
    const next = {
      outputDirectory: 'outputDirectory' in config ? checkDirectory(config['outputDirectory']) : this.outputDirectory,
      template: 'outputFileNameFormat' in config ? checkTemplate(config['outputFileNameFormat']) : this.#template,
      nImagesPerFile: 'nImagesPerFile' in config ? checkImagesPerFile(config['nImagesPerFile']) : this.nImagesPerFile,
      datasetName: 'datasetName' in config ? checkDatasetName(config['datasetName']) : this.datasetName,
    };
    const changed =
      next.outputDirectory !== this.outputDirectory ||
      next.template.template !== this.#template.template ||
      next.nImagesPerFile !== this.nImagesPerFile ||
      next.datasetName !== this.datasetName;
    if (!changed) return;
    this.logger.info(
      `configuration: outputDirectory ${next.outputDirectory}, outputFileNameFormat ${next.template.template}, ` +
        `nImagesPerFile ${next.nImagesPerFile}, datasetName ${next.datasetName}`,
    );
    this.outputDirectory = next.outputDirectory;
    this.#template = next.template;
    this.nImagesPerFile = next.nImagesPerFile;
    this.datasetName = next.datasetName;
    if (this.#open) this.#closeFile();
  }

  /**
   * Republish the frame and add it to the current file (opening one if needed). Empty frames are
   * skipped, as in PvaPy. Synchronous once HDF5 is loaded (start() loads it).
   */
  override process(value: PVStructure): Promise<void> | undefined {
    const t0 = performance.now();
    const frame = this.frameOf(value);
    if (frame.nx === 0) {
      this.logger.debug(`frame ${frame.id} is empty`);
      return undefined;
    }
    this.updateOutputChannel(value);
    const h5 = this.#h5;
    if (h5) {
      this.#write(h5, frame, t0);
      return undefined;
    }
    return loadH5wasm().then((m) => {
      this.#h5 = m;
      this.#write(m, frame, t0);
    });
  }

  #write(h5: H5Module, frame: Frame, t0: number): void {
    const img = interleaved(frame);
    const dtype = H5_DTYPE[frame.dtype];
    if (!dtype) throw fail(`frame ${frame.id}: ${frame.dtype} images cannot be saved to HDF5`);
    const frameShape = img.nz === 1 ? [img.ny, img.nx] : [img.ny, img.nx, img.nz];
    const key = `${dtype} ${frameShape.join('x')}`;
    if (this.#open && this.#open.key !== key) {
      this.logger.warn(`frame ${frame.id} is ${key}, the file being written holds ${this.#open.key}: starting a new file`);
      this.#closeFile();
    }
    const f = this.#open ?? this.#openFile(h5, frame, img.data, dtype, frameShape, key);
    f.ids[f.n] = frame.id;
    f.n += 1;
    if (f.batch) {
      (f.batch as Uint8Array).set(img.data as Uint8Array, f.batched * img.data.length);
      f.batched += 1;
      if (f.batched === f.batchSize || f.n === f.capacity) this.#flush(h5, f);
    } else {
      this.#writeFrames(h5, f, f.n - 1, img.data);
    }
    if (f.n >= f.capacity) this.#closeFile();
    this.#lastFrameProcessedTime = Date.now() / 1000;
    this.#fileProcessingTime += (performance.now() - t0) / 1000;
  }

  /** Write the batch; on failure the file is closed with the frames before it, and the error names them. */
  #flush(h5: H5Module, f: OpenFile): void {
    if (!f.batch || f.batched === 0) return;
    const count = f.batched;
    f.batched = 0;
    const elements = f.batch.length / f.batchSize;
    this.#writeFrames(h5, f, f.n - count, f.batch.subarray(0, count * elements));
  }

  /** Frames [from, f.n) of the file from `data`; a failure drops them, closes the file and throws. */
  #writeFrames(h5: H5Module, f: OpenFile, from: number, data: PVTypedArray): void {
    try {
      hdf5(h5, () => f.images.write_slice([[from, f.n]], data));
    } catch (e) {
      const first = f.ids[from] as number;
      const last = f.ids[f.n - 1] as number;
      const what = f.n - from === 1 ? `frame ${first}` : `frames ${first} to ${last}`;
      f.n = from;
      f.batched = 0;
      try {
        this.#closeFile();
      } catch (closing) {
        this.logger.error(messageOf(closing));
      }
      throw fail(`${what}: cannot write to '${f.path}': ${hdf5ErrorSummary(e)}`, e);
    }
  }

  #openFile(h5: H5Module, frame: Frame, data: PVTypedArray, dtype: string, frameShape: number[], key: string): OpenFile {
    const fileId = this.#outputFileId + 1;
    const id = frame.id;
    const name = this.#template.format({
      outputFileId: fileId,
      uniqueId: id,
      frameId: id,
      objectId: id,
      processorId: this.processorId,
      consumerId: this.processorId,
    });
    const path = resolve(this.outputDirectory, name);
    // Create the file with Node first: its errors name the path and the reason plainly
    // (EACCES, ENOENT, ENOTDIR, ENOSPC), where HDF5's are a stack of library frames.
    try {
      mkdirSync(dirname(path), { recursive: true });
      closeSync(openSync(path, 'w'));
    } catch (e) {
      throw fail(`frame ${id}: cannot create '${path}': ${messageOf(e)}`, e);
    }
    const capacity = this.nImagesPerFile;
    let file: H5.File | null = null;
    try {
      const f = hdf5(h5, () => {
        file = new h5.File(path, 'w');
        const parts = this.datasetName.split('/');
        for (let i = 1; i < parts.length; i++) {
          const group = parts.slice(0, i).join('/');
          if (file.get(group) === null) file.create_group(group);
        }
        const empty = new (data.constructor as new (n: number) => PVTypedArray)(0);
        const images = file.create_dataset({
          name: this.datasetName,
          data: empty,
          shape: [0, ...frameShape],
          maxshape: [null, ...frameShape],
          chunks: [1, ...frameShape],
          dtype,
        });
        images.resize([capacity, ...frameShape]);
        const uniqueIds = file.create_dataset({
          name: UNIQUE_IDS_DATASET,
          data: new Int32Array(0),
          shape: [0],
          maxshape: [null],
          chunks: [Math.min(capacity, 4096)],
          dtype: '<i',
        });
        uniqueIds.resize([capacity]);
        return { path, file, images, uniqueIds, n: 0, capacity, frameShape, key };
      });
      const batchSize = Math.min(capacity, Math.max(1, Math.floor(BATCH_BYTES / Math.max(1, data.byteLength))));
      const batch = batchSize > 1 ? new (data.constructor as new (n: number) => PVTypedArray)(batchSize * data.length) : null;
      this.#outputFileId = fileId;
      this.#open = { ...f, ids: new Int32Array(capacity), batch, batched: 0, batchSize };
      this.logger.debug(`opened ${path} for ${capacity} frames of ${key}`);
      return this.#open;
    } catch (e) {
      const opened = file as H5.File | null;
      if (opened) this.#quietClose(h5, opened);
      throw fail(`frame ${id}: cannot create HDF5 file '${path}': ${hdf5ErrorSummary(e)}`, e);
    }
  }

  /** Close the current file: write what is batched and the ids, shrink a partial file to its frames, count it. Throws on failure. */
  #closeFile(): void {
    const f = this.#open;
    const h5 = this.#h5;
    if (!f || !h5) return;
    this.#flush(h5, f); // on failure: closes the file (without the batch) and throws
    if (this.#open !== f) return;
    this.#open = null;
    try {
      hdf5(h5, () => {
        if (f.n > 0) f.uniqueIds.write_slice([[0, f.n]], f.ids.subarray(0, f.n));
        if (f.n < f.capacity) {
          f.images.resize([f.n, ...f.frameShape]);
          f.uniqueIds.resize([f.n]);
        }
        f.file.close();
      });
    } catch (e) {
      this.#quietClose(h5, f.file);
      throw fail(`cannot close '${f.path}' (${f.n} frames): ${hdf5ErrorSummary(e)}`, e);
    }
    this.#nFilesSaved += 1;
    this.#nBytesSaved += statSync(f.path, { throwIfNoEntry: false })?.size ?? 0;
    this.#lastFileProcessedTime = Date.now() / 1000;
    this.logger.debug(`closed ${f.path} with ${f.n} frames`);
  }

  #quietClose(h5: H5Module, file: H5.File): void {
    try {
      hdf5(h5, () => file.close());
    } catch {
      // already failing: the caller reports the first error
    }
  }

  /** Close the last file (a partial one is shrunk to the frames it holds). */
  override stop(): void {
    try {
      this.#closeFile();
    } catch (e) {
      this.logger.error(messageOf(e));
    }
  }

  override resetStats(): void {
    this.#nFilesSaved = 0;
    this.#nBytesSaved = 0;
    this.#fileProcessingTime = 0;
    this.#lastFileProcessedTime = 0;
    this.#lastFrameProcessedTime = 0;
  }

  /** PvaPy's statistics: bytes are counted when a file is closed; times are seconds since the epoch. */
  override getStats(): Record<string, number> {
    return {
      ...savingStats(this.#nFilesSaved, this.#nBytesSaved, this.#fileProcessingTime),
      lastFileProcessedTime: this.#lastFileProcessedTime,
      lastFrameProcessedTime: this.#lastFrameProcessedTime,
    };
  }

  override getStatsTypes(): Record<string, ScalarType> {
    return { ...SAVING_STATS_TYPES, lastFileProcessedTime: 'double', lastFrameProcessedTime: 'double' };
  }
}

export { Hdf5AdImageWriter as Hdf5ImageWriter };
