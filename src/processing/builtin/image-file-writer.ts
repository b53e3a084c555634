// AdOutputFileProcessor (PvaPy's name; also exported as ImageFileWriter): saves every Area
// Detector frame as an image file, TIFF or PNG by the file name's extension, and republishes the
// frame unchanged. Configuration as PvaPy's: outputDirectory (default '.', created when needed)
// and outputFileNameFormat (default '{uniqueId:06}.{processorId}.tiff'), both reconfigurable.
//
// Files are written with fs.promises, so the event loop only runs the encoding (a TIFF header;
// PNG filtering, its deflate runs on the thread pool). process() returns the promise of the
// write, which the framework awaits: a failed write (permission, disk full, a file where the
// directory should be) rejects it with a message naming the path, the framework counts it as a
// processing error and the stream goes on. A file that failed half-way is removed.
import { mkdir, open, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, extname, resolve } from 'node:path';
import { SluiceError } from '../../errors.js';
import { encodePngAsync } from '../../formats/png-write.js';
import { sampleFormatOf, type RasterImage, type SampleArray } from '../../formats/raster-image.js';
import { tiffParts } from '../../formats/tiff-write.js';
import type { ScalarType } from '../../pvdata/types.js';
import type { PVStructure } from '../../pvdata/values.js';
import { AdImageProcessor } from '../ad-image-processor.js';
import type { Frame } from '../nd-image.js';
import { SAVING_STATS_TYPES, savingStats } from './saving-stats.js';
import type { ProcessorConfig } from '../user-data-processor.js';
import { FileNameTemplate } from './file-name-template.js';
import { interleaved } from './frame-raster.js';

/** Placeholders of outputFileNameFormat: the frame id under three names, and the processor id (consumerId: older PvaPy). */
export const IMAGE_FILE_PLACEHOLDERS = ['uniqueId', 'frameId', 'objectId', 'processorId', 'consumerId'] as const;

type ImageFormat = 'TIFF' | 'PNG';
const FORMAT_OF_EXTENSION: Readonly<Record<string, ImageFormat>> = { '.tif': 'TIFF', '.tiff': 'TIFF', '.png': 'PNG' };
const EXTENSIONS = Object.keys(FORMAT_OF_EXTENSION).join(', ');

function fail(message: string, cause?: unknown): SluiceError {
  return new SluiceError('ERR_PROCESSOR', message, cause === undefined ? undefined : { cause });
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** The image format a file name asks for (by extension, any case); throws for others. */
export function imageFormatOf(fileName: string): ImageFormat {
  const format = FORMAT_OF_EXTENSION[extname(fileName).toLowerCase()];
  if (!format) throw fail(`cannot tell the image format of '${fileName}': use one of the extensions ${EXTENSIONS}`);
  return format;
}

function checkDirectory(v: unknown): string {
  if (typeof v !== 'string' || v === '') throw fail(`outputDirectory must be a non-empty string, not ${JSON.stringify(v)}`);
  return v;
}

function imageTemplate(v: unknown): FileNameTemplate {
  if (typeof v !== 'string') throw fail(`outputFileNameFormat must be a string, not ${JSON.stringify(v)}`);
  let t: FileNameTemplate;
  try {
    t = new FileNameTemplate(v, IMAGE_FILE_PLACEHOLDERS);
  } catch (e) {
    throw fail(messageOf(e), e);
  }
  imageFormatOf(t.format({ uniqueId: 1, frameId: 1, objectId: 1, processorId: 1, consumerId: 1 }));
  return t;
}

/** Write `parts` one after the other into a new file (truncating an old one); the bytes written. */
async function writeFileParts(path: string, parts: Uint8Array[]): Promise<number> {
  let fh: FileHandle | null = null;
  let total = 0;
  try {
    fh = await open(path, 'w');
    let rest = parts.filter((p) => p.length > 0);
    while (rest.length > 0) {
      const { bytesWritten } = await fh.writev(rest);
      if (bytesWritten <= 0) throw new SluiceError('ERR_FILE', 'the file system accepted no bytes');
      total += bytesWritten;
      let n = bytesWritten;
      while (n > 0 && rest.length > 0) {
        const head = rest[0] as Uint8Array;
        if (n >= head.length) {
          n -= head.length;
          rest = rest.slice(1);
        } else {
          rest = [head.subarray(n), ...rest.slice(1)];
          n = 0;
        }
      }
    }
    await fh.close();
    fh = null;
    return total;
  } catch (e) {
    if (fh) {
      await fh.close().catch(() => {});
      await unlink(path).catch(() => {}); // no truncated images left behind
    }
    throw e;
  }
}

export class AdOutputFileProcessor extends AdImageProcessor {
  static readonly DEFAULT_OUTPUT_DIRECTORY = '.';
  static readonly DEFAULT_OUTPUT_FILE_NAME_FORMAT = '{uniqueId:06}.{processorId}.tiff';

  /** Where files go (relative paths from the current directory). */
  outputDirectory: string;
  #template: FileNameTemplate;
  /** Directories known to exist (created or checked), so mkdir runs once per directory. */
  readonly #dirs = new Set<string>();
  #nFilesSaved = 0;
  #nBytesSaved = 0;
  #fileProcessingTime = 0;

  constructor(config: ProcessorConfig = {}) {
    super(config);
    this.outputDirectory = checkDirectory(config['outputDirectory'] ?? AdOutputFileProcessor.DEFAULT_OUTPUT_DIRECTORY);
    this.#template = imageTemplate(config['outputFileNameFormat'] ?? AdOutputFileProcessor.DEFAULT_OUTPUT_FILE_NAME_FORMAT);
  }

  get outputFileNameFormat(): string {
    return this.#template.template;
  }

  /** Create the output directory now, so a problem shows at start (frames still count it as errors). */
  override async start(): Promise<void> {
    const dir = resolve(this.outputDirectory);
    try {
      await this.#ensureDirectory(dir);
      this.logger.info(`saving frames to ${dir} as ${this.outputFileNameFormat}`);
    } catch (e) {
      this.logger.warn(`${messageOf(e)}: every frame will fail until it can be created`);
    }
  }

  /** outputDirectory and outputFileNameFormat; both are checked before either changes. */
  override configure(config: Record<string, unknown>): void {
    const dir = 'outputDirectory' in config ? checkDirectory(config['outputDirectory']) : this.outputDirectory;
    const template = 'outputFileNameFormat' in config ? imageTemplate(config['outputFileNameFormat']) : this.#template;
    if (dir !== this.outputDirectory) this.logger.info(`output directory: ${dir}`);
    if (template !== this.#template) this.logger.info(`output file name format: ${template.template}`);
    this.outputDirectory = dir;
    this.#template = template;
  }

  /** The path a frame with this id is saved to under the current configuration. */
  outputFilePath(frameId: number): string {
    const id = frameId;
    const name = this.#template.format({
      uniqueId: id,
      frameId: id,
      objectId: id,
      processorId: this.processorId,
      consumerId: this.processorId,
    });
    return resolve(this.outputDirectory, name);
  }

  /**
   * Republish the frame and save it. Empty frames (no dimensions, as a simulator's initial
   * record) are neither saved nor republished, as in PvaPy. The output is published before the
   * file is written, so a slow or failing disk does not hold the stream back downstream.
   */
  override process(value: PVStructure): Promise<void> | undefined {
    const t0 = performance.now();
    const frame = this.frameOf(value);
    if (frame.nx === 0) {
      this.logger.debug(`frame ${frame.id} is empty`);
      return undefined;
    }
    this.updateOutputChannel(value);
    return this.#save(frame, this.outputFilePath(frame.id), t0);
  }

  async #save(frame: Frame, path: string, t0: number): Promise<void> {
    const format = imageFormatOf(path);
    const img = interleaved(frame);
    let parts: Uint8Array[];
    try {
      sampleFormatOf(img.data); // throws for 64-bit integers, which neither format holds
      const raster: RasterImage = { width: img.nx, height: img.ny, samples: img.nz, data: img.data as SampleArray };
      parts = format === 'PNG' ? [await encodePngAsync(raster)] : tiffParts(raster);
    } catch (e) {
      const size = `${img.nx}x${img.ny}${img.nz > 1 ? `x${img.nz}` : ''}`;
      throw fail(`frame ${frame.id} (${size} ${frame.dtype}) cannot be saved as ${format}: ${messageOf(e)}`, e);
    }
    const dir = dirname(path);
    await this.#ensureDirectory(dir);
    let bytes: number;
    try {
      bytes = await writeFileParts(path, parts);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') this.#dirs.delete(dir); // removed under us: create it again next time
      throw fail(`frame ${frame.id}: cannot write '${path}': ${messageOf(e)}`, e);
    }
    this.#nFilesSaved += 1;
    this.#nBytesSaved += bytes;
    this.#fileProcessingTime += (performance.now() - t0) / 1000;
    this.logger.debug(`saved frame ${frame.id} to ${path} (${bytes} bytes)`);
  }

  async #ensureDirectory(dir: string): Promise<void> {
    if (this.#dirs.has(dir)) return;
    try {
      await mkdir(dir, { recursive: true });
    } catch (e) {
      throw fail(`cannot create output directory '${dir}': ${messageOf(e)}`, e);
    }
    this.#dirs.add(dir);
  }

  override resetStats(): void {
    this.#nFilesSaved = 0;
    this.#nBytesSaved = 0;
    this.#fileProcessingTime = 0;
  }

  /** PvaPy's statistics; the rates are over the time spent saving (encoding and writing). */
  override getStats(): Record<string, number> {
    return savingStats(this.#nFilesSaved, this.#nBytesSaved, this.#fileProcessingTime);
  }

  override getStatsTypes(): Record<string, ScalarType> {
    return { ...SAVING_STATS_TYPES };
  }
}

export { AdOutputFileProcessor as ImageFileWriter };
