// sluice save: the end of a pipeline that keeps what it gets: a stream into an HDF5 file (frames
// as areaDetector lays them out, other fields a dataset each) or a directory of stream segments.
// `sluice replay` plays either back.
import { createWriteStream, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { inputChunks } from '../../pipeline/fd-io.js';
import { FileError } from '../../errors.js';
import { Hdf5StreamWriter } from '../../pipeline/hdf5-save.js';
import { readStream, StreamOutput } from '../../pipeline/stdio.js';
import type { BitSet } from '../../pvdata/bitset.js';
import { sameType, type StructureDesc } from '../../pvdata/types.js';
import type { PVStructure } from '../../pvdata/values.js';
import { defineCommand, type ParsedArgs } from '../args.js';
import { parseCount, stdio, type CliContext } from '../common.js';

export const spec = defineCommand({
  name: 'save',
  summary: 'Save a Sluice stream (stdin or INPUT files) to an HDF5 file or a directory of stream segments.',
  usage: ['[options] FILE.h5|DIR [INPUT...]'],
  description:
    'A target ending in .h5, .hdf5, .hdf or .nxs is an HDF5 file: NTNDArray frames go to /entry/data/data ' +
    '(N x ny x nx, as areaDetector writes them, with NDArrayUniqueId and NDArrayTimeStamp under ' +
    '/entry/instrument/NDAttributes), and every other field to a dataset of its own under /entry/values, one row ' +
    'per value; a new type, or frames of another size or element type, start /entry_2, /entry_3, ... (layout in ' +
    'docs/pipeline.md). Any other target is a directory (created if need be, and which must hold no segments ' +
    'yet) of numbered stream files 000001.sls, 000002.sls, ..., each a complete stream of up to --segment ' +
    'values, a new one also at each new type. sluice replay plays both back, value for value. The count of ' +
    'values saved is printed on stderr. A wrong or truncated stream keeps what came before it, prints the ' +
    'error and exits with status 1.',
  options: {
    segment: { type: 'string', value: 'N', description: 'Values per stream segment of a directory (default 1000).', default: '1000' },
  },
  minPositionals: 1,
  examples: ['sluice cat -n 1000 sim:image | sluice save frames.h5', 'sluice save --segment 100 frames/ recorded.sls'],
});

interface Sink {
  note(note: Record<string, unknown>): void;
  value(type: StructureDesc, value: PVStructure, changed: BitSet, overrun: BitSet): Promise<void> | void;
  close(): Promise<void> | void;
  readonly count: number;
}

export async function run(args: ParsedArgs<typeof spec.options>, ctx: CliContext): Promise<number> {
  const [target, ...inputs] = args.positionals as [string, ...string[]];
  const segment = parseCount(args.values.segment, '--segment');
  let sink: Sink | null = null;
  let failure: string | null = null;
  try {
    sink = /\.(h5|hdf5|hdf|nxs)$/i.test(target) ? await Hdf5StreamWriter.create(target) : new SegmentWriter(target, segment);
    reading: for (const file of inputs.length ? inputs : ['-']) {
      const input = file === '-' ? stdio(ctx, 'stdin') : inputChunks(file);
      for await (const item of readStream(input, { source: file === '-' ? 'stdin' : file })) {
        if (ctx.signal.aborted) break reading;
        if (item.kind === 'note') sink.note(item.note);
        else if (item.kind === 'value') await sink.value(item.type, item.value, item.changed, item.overrun);
      }
    }
  } catch (err) {
    failure = (err as Error).message;
  }
  try {
    await sink?.close();
  } catch (err) {
    failure ??= (err as Error).message;
  }
  const saved = sink ? `${sink.count} values saved to ${target}` : '';
  if (failure) {
    ctx.err(`sluice save: ${failure}${saved ? `; ${saved}` : ''}`);
    return 1;
  }
  ctx.err(`sluice save: ${saved}`);
  return 0;
}

/** Numbered stream files in a directory, each a whole stream of up to `size` values of one type. */
class SegmentWriter implements Sink {
  readonly #dir: string;
  readonly #size: number;
  #out: StreamOutput | null = null;
  #file = 0;
  #inFile = 0;
  #type: StructureDesc | null = null;
  #count = 0;

  constructor(dir: string, size: number) {
    this.#dir = dir;
    this.#size = size;
    try {
      mkdirSync(dir, { recursive: true });
      if (readdirSync(dir).some((n) => n.endsWith('.sls')))
        throw new FileError(dir, 'holds stream segments (*.sls) already: remove them or choose another directory');
    } catch (e) {
      if (e instanceof FileError) throw e;
      throw new FileError(dir, `cannot use as a directory: ${(e as Error).message}`, { cause: e });
    }
  }

  get count(): number {
    return this.#count;
  }

  note(note: Record<string, unknown>): void {
    (this.#out ?? this.#next()).note(note);
  }

  async value(type: StructureDesc, value: PVStructure, changed: BitSet, overrun: BitSet): Promise<void> {
    if (this.#type !== null && this.#type !== type && sameType(this.#type, type)) this.#type = type; // the same type again
    if (this.#out && (this.#inFile >= this.#size || (this.#type !== null && this.#type !== type))) await this.#close();
    const out = this.#out ?? this.#next();
    this.#type = type;
    this.#inFile++;
    this.#count++;
    if (!out.write(type, value, { changed, overrun })) await out.drained();
  }

  async close(): Promise<void> {
    await this.#close();
  }

  #next(): StreamOutput {
    const path = join(this.#dir, `${String(++this.#file).padStart(6, '0')}.sls`);
    const file = createWriteStream(path);
    this.#out = new StreamOutput(file);
    this.#inFile = 0;
    return this.#out;
  }

  async #close(): Promise<void> {
    const out = this.#out;
    if (!out) return;
    this.#out = null;
    await out.end();
  }
}
