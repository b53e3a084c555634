// sluice from-json: JSON lines into a Sluice stream, so that jq, scripts and people can feed a
// pipeline. Each line is one value; its type is inferred (a new type record when it changes), or
// taken from a stream file with --type-from so values come back with their exact types.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { DecodeError } from '../../errors.js';
import { readStream, StreamOutput } from '../../pipeline/stdio.js';
import { inferType } from '../../pvdata/infer.js';
import { nttable } from '../../pvdata/nt/nttable.js';
import { sameType, type ScalarType, type StructureDesc } from '../../pvdata/types.js';
import { completeStructure, type PVStructure, type PVValue } from '../../pvdata/values.js';
import { defineCommand, type ParsedArgs } from '../args.js';
import { stdio, type CliContext } from '../common.js';
import { fromJSON } from '../parse-value.js';

export const spec = defineCommand({
  name: 'from-json',
  summary: 'Turn JSON lines (stdin or FILEs) into a Sluice stream, one value per line.',
  usage: ['[options] [FILE...]'],
  description:
    'Each non-empty line is a JSON object, one value. Its type is inferred as sluice put infers one (integers ' +
    'int, other numbers double, arrays of numbers double[], objects structures); a line of another type starts a ' +
    'new type record. With --type-from FILE every line is read as a value of the first type in that stream file ' +
    '(the output of sluice to-json comes back with its exact types). A line that is not a JSON object, or does ' +
    'not fit the type, stops the command with its line number and exit status 1. A line shaped like an NTTable ' +
    '({"labels": [...], "value": {"column": [...], ...}}, as to-json prints one) is typed as an NTTable, its ' +
    'columns int when all their numbers are 32-bit integers. With --table each line is one row, as to-json ' +
    '--table prints them, and the rows of each input make one NTTable value (column types inferred so, or ' +
    'from the type in --type-from).',
  options: {
    'type-from': { type: 'string', value: 'FILE', description: 'Read every line as a value of the first type in this stream file.' },
    table: { type: 'boolean', description: 'Each line is a row {"column": cell, ...}; the rows of each input are one NTTable value.' },
  },
  examples: [
    "sluice cat frames.sls | sluice to-json | jq -c '.uniqueId += 1000' | sluice from-json --type-from frames.sls | sluice to-json",
  ],
});

export async function run(args: ParsedArgs<typeof spec.options>, ctx: CliContext): Promise<number> {
  const out = new StreamOutput(stdio(ctx, 'stdout'));
  try {
    const fixed = args.values['type-from'] ? await firstType(args.values['type-from']) : null;
    let type: StructureDesc | null = fixed;
    for (const file of args.positionals.length ? args.positionals : ['-']) {
      const source = file === '-' ? 'stdin' : file;
      const lines = createInterface({ input: file === '-' ? stdio(ctx, 'stdin') : createReadStream(file), crlfDelay: Infinity });
      let n = 0;
      const rows: Record<string, unknown>[] = [];
      for await (const line of lines) {
        n++;
        if (!line.trim()) continue;
        const what = `${source} line ${n}`;
        let json: unknown;
        try {
          json = JSON.parse(line);
        } catch (err) {
          throw new DecodeError(`${what}: not JSON (${(err as Error).message})`);
        }
        if (json === null || typeof json !== 'object' || Array.isArray(json))
          throw new DecodeError(`${what}: a JSON object is needed, one value per line`);
        if (args.values.table) {
          rows.push(json as Record<string, unknown>);
          continue;
        }
        if (!fixed) {
          const inferred = tableTypeOf(json as Record<string, unknown>) ?? inferType(json as PVValue);
          if (inferred.kind !== 'structure') throw new DecodeError(`${what}: a JSON object is needed`);
          if (!type || !sameType(type, inferred)) type = inferred;
        }
        const value = fromJSON(type as StructureDesc, json, what) as PVStructure;
        if (!out.write(type as StructureDesc, value)) await out.drained();
        if (out.closed) return 0;
      }
      if (args.values.table && rows.length) {
        const [tt, tv] = tableOfRows(rows, fixed, source);
        if (!out.write(tt, tv)) await out.drained();
      }
    }
    await out.end();
    return 0;
  } catch (err) {
    ctx.err(`sluice from-json: ${(err as Error).message}`);
    return 1;
  }
}

/** The first type record of a stream file. */
export async function firstType(file: string): Promise<StructureDesc> {
  const input = createReadStream(file);
  try {
    for await (const item of readStream(input, { source: file })) if (item.kind === 'type') return item.type;
  } finally {
    input.destroy();
  }
  throw new DecodeError(`${file}: the stream has no type record`);
}

/** Column element types of JSON cells: int when all are 32-bit integers, long past that, double, boolean, else string. */
function columnType(cells: unknown[]): ScalarType {
  const full = cells.filter((c) => c !== null && c !== undefined);
  if (full.length && full.every((c) => typeof c === 'number' && Number.isInteger(c)))
    return full.every((c) => Math.abs(c as number) < 2 ** 31) ? 'int' : 'long';
  if (full.length && full.every((c) => typeof c === 'number' || c === 'NaN' || c === 'Infinity' || c === '-Infinity')) return 'double';
  if (full.length && full.every((c) => typeof c === 'boolean')) return 'boolean';
  return 'string';
}

/** The NTTable type of a line shaped like one ({labels, value: {column: [...]}}), else null. */
function tableTypeOf(json: Record<string, unknown>): StructureDesc | null {
  const { labels, value } = json;
  const extra = Object.keys(json).filter((k) => k !== 'labels' && k !== 'value');
  if (!Array.isArray(labels) || !labels.every((l) => typeof l === 'string')) return null;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
  const cols = Object.entries(value as Record<string, unknown>);
  if (!cols.every(([, c]) => Array.isArray(c)) || !extra.every((k) => k === 'descriptor' || k === 'alarm' || k === 'timeStamp'))
    return null;
  const type = nttable.type(
    cols.map(([name, c]) => [name, columnType(c as unknown[])] as const),
    { descriptor: 'descriptor' in json, alarm: 'alarm' in json, timeStamp: 'timeStamp' in json },
  );
  return type;
}

/** Rows (objects) as one NTTable value, columns in the order they first appear. */
function tableOfRows(rows: Record<string, unknown>[], fixed: StructureDesc | null, source: string): [StructureDesc, PVStructure] {
  const names = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  let type: StructureDesc;
  if (fixed) {
    type = fixed;
    const v = fixed.fields.find((m) => m.name === 'value')?.type;
    const known = v?.kind === 'structure' ? v.fields.map((m) => m.name) : [];
    const unknown = names.find((n) => !known.includes(n));
    if (unknown !== undefined)
      throw new DecodeError(`${source}: column ${unknown} is not in the table type of --type-from (${known.join(', ')})`);
  } else {
    type = nttable.type(names.map((n) => [n, columnType(rows.map((r) => r[n]))] as const));
  }
  const columns: Record<string, unknown[]> = {};
  const v = type.fields.find((m) => m.name === 'value')?.type as StructureDesc;
  for (const m of v.fields)
    columns[m.name] = rows.map((r) => r[m.name] ?? (m.type.kind === 'scalarArray' && m.type.type === 'string' ? '' : 0));
  const value = fromJSON(type, { labels: fixed ? v.fields.map((m) => m.name) : names, value: columns }, source) as PVStructure;
  return [type, completeStructure(type, value)];
}
