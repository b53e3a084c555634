// sluice merge: partitions back into one stream: as the values come, one from each in turn, or
// merged in order of a field (uniqueId) when every input is in that order.
import { inputChunks } from '../../pipeline/fd-io.js';
import { readStream, StreamOutput } from '../../pipeline/stdio.js';
import type { RecordItem, StreamItem, ValueItem } from '../../pipeline/stream-decoder.js';
import { fieldByPath } from '../../pvdata/types.js';
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
  // Only --sort looks at values: otherwise they are passed on as read, undecoded.
  const undecoded = sort === undefined ? { littleEndian: out.littleEndian } : undefined;
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
      // With --sort every value is decoded (no RecordItems).
      const checked = new WeakSet<object>(); // types known to have the field
      const key = (v: ValueItem): number => {
        if (!checked.has(v.type)) {
          if (!fieldByPath(v.type, sort as string)) throw new UsageError(`--sort ${sort}: the stream has no field ${sort}`);
          checked.add(v.type);
        }
        return Number(fieldAt(v.value, sort as string));
      };
      for (let turn = 0; heads.some((h) => h); turn++) {
        let i: number;
        if (sort !== undefined) {
          i = -1;
          for (let j = 0; j < heads.length; j++) {
            const h = heads[j];
            if (h && (i < 0 || key(h as ValueItem) < key(heads[i] as ValueItem))) i = j;
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

function fieldAt(value: PVStructure, path: string): unknown {
  let v: unknown = value;
  for (const name of path.split('.')) v = (v as PVStructure | undefined)?.[name];
  return v;
}
