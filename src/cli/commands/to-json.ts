// sluice to-json: the last stage of a pipeline that people or jq read: one JSON line per value.
import { once } from 'node:events';
import { inputChunks } from '../../pipeline/fd-io.js';
import { readStream } from '../../pipeline/stdio.js';
import { defineCommand, type ParsedArgs } from '../args.js';
import { parseCount, stdio, type CliContext } from '../common.js';
import type { PVStructure } from '../../pvdata/values.js';
import { changedFields, toJSONValue } from '../format.js';
import { tableOf } from './to-csv.js';

export const spec = defineCommand({
  name: 'to-json',
  summary: 'Print a Sluice stream (stdin or FILEs) as JSON lines, one per value.',
  usage: ['[options] [FILE...]'],
  description:
    'Each value of the stream prints as one line holding the JSON object of the value, as sluice get --json ' +
    'prints values (typed arrays as arrays, a union as {"member": value}). With --marks the line is ' +
    '{"value": ..., "changed": [fields], "overrun": [fields]} instead. Without FILE, the stream is read from stdin. ' +
    'With --table an NTTable value prints one line per row instead, {"column": cell, ...} (sluice from-json ' +
    '--table reads them back). A wrong or truncated stream stops the command with one line on stderr and exit status 1.',
  options: {
    count: { type: 'string', short: 'n', value: 'N', description: 'Stop after N values.' },
    marks: { type: 'boolean', description: 'Print the changed and overrun fields of each value with it.' },
    table: {
      type: 'boolean',
      description: 'Print the rows of NTTable values (any value whose "value" structure holds arrays), one JSON object per row.',
    },
  },
  examples: ['sluice cat -n 3 sim:image | sluice to-json', 'sluice to-json --marks frames.sls', 'sluice to-json --table scans.sls'],
});

export async function run(args: ParsedArgs<typeof spec.options>, ctx: CliContext): Promise<number> {
  const count = args.values.count === undefined ? Infinity : parseCount(args.values.count, '--count');
  const out = stdio(ctx, 'stdout');
  const inputs = args.positionals.length ? args.positionals : ['-'];
  let n = 0;
  try {
    for (const file of inputs) {
      const input = file === '-' ? stdio(ctx, 'stdin') : inputChunks(file);
      for await (const item of readStream(input, { source: file === '-' ? 'stdin' : file })) {
        if (item.kind !== 'value') continue;
        const table = args.values.table ? tableOf(item.type, true) : null;
        if (table) {
          const cols = item.value['value'] as PVStructure;
          const rows = Math.max(0, ...table.map((c) => (cols[c.name] as ArrayLike<unknown> | undefined)?.length ?? 0));
          for (let r = 0; r < rows; r++) {
            const row: Record<string, unknown> = {};
            for (const c of table) row[c.name] = toJSONValue(c.type, (cols[c.name] as ArrayLike<unknown> | undefined)?.[r]);
            if (!out.write(JSON.stringify(row) + '\n')) await once(out, 'drain');
          }
          if (++n >= count) return 0;
          continue;
        }
        const value = toJSONValue(item.type, item.value);
        const line = args.values.marks
          ? { value, changed: changedFields(item.type, item.changed), overrun: changedFields(item.type, item.overrun) }
          : value;
        if (!out.write(JSON.stringify(line) + '\n')) await once(out, 'drain');
        if (++n >= count) return 0;
      }
    }
  } catch (err) {
    ctx.err(`sluice to-json: ${(err as Error).message}`);
    return 1;
  }
  return 0;
}
