// sluice merge: partitions back into one stream: as the values come, one from each in turn, or
// merged in order of a field (uniqueId) when every input is in that order.
import { inputChunks } from '../../pipeline/fd-io.js';
import { readStream, StreamOutput } from '../../pipeline/stdio.js';
import type { RecordItem, StreamItem, ValueItem } from '../../pipeline/stream-decoder.js';
import { DecodeError } from '../../errors.js';
import { fieldReader, type Dec } from '../../pvdata/value-decode.js';
import { TypeCache } from '../../pvdata/type-codec.js';
import type { StructureDesc } from '../../pvdata/types.js';
import { ByteReader } from '../../pvdata/wire.js';
import type { PVStructure } from '../../pvdata/values.js';
import { defineCommand, UsageError, type ParsedArgs } from '../args.js';
import { stdio, type CliContext } from '../common.js';
import { FILE_CHUNK_BYTES, outputSink } from '../stage.js';

export const spec = defineCommand({
  name: 'merge',
  summary: 'Merge several Sluice streams (files, named pipes, - for stdin) into one on stdout.',
  usage: ['[options] FILE|FIFO|-...'],
  description:
    'The inputs are read at the same time. By default values are written as they come. With --round-robin one ' +
    'value is taken from each input in turn (the inverse of partition\u2019s default dealing, when no stage dropped ' +
    'values). With --sort FIELD each next value is the one with the smallest FIELD (a number, e.g. uniqueId) among ' +
    'the inputs\u2019 next values: a merge of inputs that are each in that order, as ktools\u2019 kat -s. ' +
    'Notes are passed on; the output ends when every input has ended.',
  options: {
    'round-robin': { type: 'boolean', description: 'One value from each input in turn.' },
    sort: { type: 'string', value: 'FIELD', description: 'Merge by this numeric field (each input sorted by it).' },
  },
  minPositionals: 1,
  examples: ['sluice merge --sort uniqueId part1.sls part2.sls | sluice to-json'],
});

export async function run(args: ParsedArgs<typeof spec.options>, ctx: CliContext): Promise<number> {
  const sort = args.values.sort;
  if (sort !== undefined && args.values['round-robin']) throw new UsageError('--sort and --round-robin exclude each other');
  const out = new StreamOutput(outputSink(ctx));
  // Values are passed on as read, undecoded (--sort reads its field from the bytes); only those
  // in the other byte order are decoded, to be encoded again in the output's.
  const undecoded = { littleEndian: out.littleEndian };
  const sources = args.positionals.map((f) => (f === '-' ? 'stdin' : f));
  const inputs = args.positionals.map((f) => {
    const source = f === '-' ? 'stdin' : f;
    const input = f === '-' ? stdio(ctx, 'stdin') : inputChunks(f, FILE_CHUNK_BYTES);
    return readStream(input, { source, undecoded });
  });
  /** The next value of an input (notes written on the way), or null at its end. */
  const next = async (it: AsyncGenerator<StreamItem>): Promise<ValueItem | RecordItem | null> => {
    for (let r = await it.next(); !r.done; r = await it.next()) {
      if (r.value.kind === 'note') out.note(r.value.note);
      if (r.value.kind === 'value' || r.value.kind === 'record') return r.value;
    }
    return null;
  };
  const write = async (v: ValueItem | RecordItem): Promise<void> => {
    if (!out.pass(v)) await out.drained();
  };
  try {
    if (sort !== undefined || args.values['round-robin']) {
      const heads = await Promise.all(inputs.map(next));
      const key = sort === undefined ? () => 0 : sortKey(sort);
      for (let turn = 0; heads.some((h) => h); turn++) {
        let i: number;
        if (sort !== undefined) {
          i = -1;
          for (let j = 0; j < heads.length; j++) {
            const h = heads[j];
            if (h && (i < 0 || key(h, sources[j] as string) < key(heads[i] as ValueItem | RecordItem, sources[i] as string))) i = j;
          }
        } else {
          i = turn % heads.length;
          if (!heads[i]) continue;
        }
        await write(heads[i] as ValueItem | RecordItem);
        heads[i] = await next(inputs[i] as AsyncGenerator<StreamItem>);
      }
    } else {
      await Promise.all(
        inputs.map(async (it) => {
          for (let v = await next(it); v; v = await next(it)) await write(v);
        }),
      );
    }
    await out.end();
    return 0;
  } catch (err) {
    if (err instanceof UsageError) throw err;
    ctx.err(`sluice merge: ${(err as Error).message}`);
    return 1;
  }
}

/**
 * The --sort key of a value: its field `path` as a number, read from a record's bytes (the
 * fields before it passed over), or from a decoded value. Each value's key is read once.
 */
function sortKey(path: string): (v: ValueItem | RecordItem, source: string) => number {
  const readers = new WeakMap<StructureDesc, Dec>();
  const keys = new WeakMap<ValueItem | RecordItem, number>();
  const cache = new TypeCache();
  const readerOf = (type: StructureDesc): Dec => {
    let read = readers.get(type);
    if (!read) {
      const found = fieldReader(type, path);
      if (!found) throw new UsageError(`--sort ${path}: the stream has no field ${path}`);
      readers.set(type, (read = found));
    }
    return read;
  };
  return (v, source) => {
    let k = keys.get(v);
    if (k !== undefined) return k;
    const read = readerOf(v.type);
    if (v.kind === 'value') {
      let x: unknown = v.value;
      for (const name of path.split('.')) x = (x as PVStructure)[name];
      k = Number(x);
    } else {
      // The record's framing was checked, not its payload: a bad one is told here.
      try {
        const r = new ByteReader(v.payload, v.littleEndian);
        r.skip(r.count('BitSet')); // changed
        r.skip(r.count('BitSet')); // overrun
        k = Number(read(r, cache));
      } catch (err) {
        throw new DecodeError(`value ${v.index + 1n} of ${source}: cannot read --sort ${path}: ${(err as Error).message}`, { cause: err });
      }
    }
    keys.set(v, k);
    return k;
  };
}
