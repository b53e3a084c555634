// sluice filter: a stream's values thinned (every n-th) and cut down to some fields, as a
// pvRequest's field() selects them; the marks follow the fields kept.
import { selectFields } from '../../pvdata/pvrequest.js';
import { defineCommand, UsageError, type ParsedArgs } from '../args.js';
import { parseCount, type CliContext } from '../common.js';
import { runPassStage, runStage, Verdict } from '../stage.js';

export const spec = defineCommand({
  name: 'filter',
  summary: 'Keep every n-th value of a Sluice stream (stdin or FILEs), and only the fields asked for.',
  usage: ['[options] [FILE...]'],
  description:
    'With --every N the first value and then every N-th is kept. With --fields the values are cut down to the ' +
    'fields listed (dotted paths, as in a pvRequest field(...)); the stream gets the reduced type and each value ' +
    'keeps the changed and overrun marks of its kept fields. A stream without any of the fields is an error.',
  options: {
    every: { type: 'string', value: 'N', description: 'Keep one value in N (default 1: all).', default: '1' },
    fields: { type: 'string', short: 'f', value: 'A,B.C', description: 'Comma-separated fields to keep.' },
  },
  examples: ['sluice cat sim:image | sluice filter --every 10 --fields uniqueId,timeStamp | sluice to-json'],
});

export async function run(args: ParsedArgs<typeof spec.options>, ctx: CliContext): Promise<number> {
  const every = parseCount(args.values.every, '--every');
  const fields = args.values.fields?.split(',').map((f) => f.trim());
  if (fields && fields.some((f) => f === '')) throw new UsageError(`--fields ${args.values.fields}: an empty field name`);
  let n = 0;
  // Thinning only: the values kept stream through as read, undecoded.
  if (!fields) return runPassStage('filter', ctx, args.positionals, () => (n++ % every === 0 ? Verdict.PASS : Verdict.DROP));
  return runStage('filter', ctx, args.positionals, (item, out) => {
    if (n++ % every !== 0) return true;
    const sel = selectFields(item.type, fields);
    out.write(sel.type, sel.project(item.value), { changed: sel.mapBits(item.changed), overrun: sel.mapBits(item.overrun) });
    return true;
  });
}
