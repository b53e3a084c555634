// sluice partition P/N: the share of a stream that partition P of N processes, as ktools' eve
// deals events; N copies of a pipeline, each with its own P, process a stream together.
import { partitioner, type PartitionMode } from '../../pipeline/partition.js';
import { countValues } from '../../pipeline/stdio.js';
import { defineCommand, UsageError, type ParsedArgs } from '../args.js';
import { parseCount, type CliContext } from '../common.js';
import { runPassStage, Verdict } from '../stage.js';

export const spec = defineCommand({
  name: 'partition',
  summary: 'Pass on partition P of N of a Sluice stream (round-robin, contiguous blocks, or a seeded shuffle).',
  usage: ['[options] P/N [FILE]'],
  description:
    'Values are numbered k = 1, 2, ... in stream order. By default they are dealt like cards: value k goes to ' +
    'partition P when k - P is a multiple of N. With --block each partition gets one contiguous block, the sizes ' +
    'differing by at most one (the first ones larger). With --seed S the positions are shuffled by Fisher-Yates ' +
    'with the mulberry32 generator seeded with S, then dealt like cards, so that every process computes the same ' +
    'shuffle (docs/pipeline.md). --block and --seed need the stream\u2019s length: they read a FILE, not stdin. ' +
    'The N partitions are disjoint and together hold every value.',
  options: {
    block: { type: 'boolean', description: 'Contiguous blocks instead of round-robin (needs FILE).' },
    seed: { type: 'string', value: 'S', description: 'Shuffle with this seed (an integer), then deal (needs FILE).' },
  },
  minPositionals: 1,
  maxPositionals: 2,
  examples: ['sluice cat sim:image | sluice partition 1/2 | sluice to-json', 'sluice partition --block 2/4 frames.sls > part2.sls'],
});

export async function run(args: ParsedArgs<typeof spec.options>, ctx: CliContext): Promise<number> {
  const m = /^(\d+)\/(\d+)$/.exec(args.positionals[0] as string);
  if (!m) throw new UsageError(`'${args.positionals[0]}' is not P/N (for example 1/4)`);
  const p = Number(m[1]);
  const n = Number(m[2]);
  if (n < 1 || p < 1 || p > n) throw new UsageError(`partition ${p}/${n}: P must be between 1 and N`);
  if (args.values.block && args.values.seed !== undefined) throw new UsageError('--block and --seed exclude each other');
  const mode: PartitionMode = args.values.block ? 'block' : args.values.seed !== undefined ? 'shuffle' : 'round-robin';
  const seed = args.values.seed === undefined ? 0 : parseCount(args.values.seed, '--seed', true);
  const file = args.positionals[1];
  if (mode !== 'round-robin' && (!file || file === '-'))
    throw new UsageError(`--${mode === 'block' ? 'block' : 'seed'} needs a FILE: the stream's length decides the partitions`);
  let total = 0;
  if (mode !== 'round-robin') {
    try {
      total = await countValues(file as string);
    } catch (err) {
      ctx.err(`sluice partition: ${(err as Error).message}`);
      return 1;
    }
  }
  const owner = partitioner(mode, n, total, seed);
  let k = 0;
  return runPassStage('partition', ctx, file ? [file] : [], () => (owner(k++) === p - 1 ? Verdict.PASS : Verdict.DROP));
}
