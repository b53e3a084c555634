// sluice head: the first N values of a stream, then its end (upstream stages then see a closed
// pipe and stop).
import { defineCommand, type ParsedArgs } from '../args.js';
import { parseCount, type CliContext } from '../common.js';
import { runPassStage, Verdict } from '../stage.js';

export const spec = defineCommand({
  name: 'head',
  summary: 'Pass on the first N values of a Sluice stream (stdin or FILEs), then end it.',
  usage: ['[options] [FILE...]'],
  description:
    'Copies values, their marks and notes until N values have passed, then writes the end record and exits 0; ' +
    'the stages before it then find their stdout closed and stop too.',
  options: {
    count: { type: 'string', short: 'n', value: 'N', description: 'How many values (default 10).', default: '10' },
  },
  examples: ['sluice cat sim:image | sluice head -n 100 > first100.sls'],
});

export async function run(args: ParsedArgs<typeof spec.options>, ctx: CliContext): Promise<number> {
  const count = parseCount(args.values.count, '--count', true);
  let n = 0;
  // The count-th value is the last: the stream ends as soon as it is through, not at the next.
  return runPassStage('head', ctx, args.positionals, () => (count === 0 ? Verdict.STOP : ++n < count ? Verdict.PASS : Verdict.LAST));
}
