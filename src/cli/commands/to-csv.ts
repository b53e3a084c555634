// sluice to-csv: a stream as CSV for spreadsheets and ktools-style reports. Flat values give one
// row per value (a column per scalar field, by dotted path); NTTable values give their rows.
import { once } from 'node:events';
import { inputChunks } from '../../pipeline/fd-io.js';
import { readStream } from '../../pipeline/stdio.js';
import { sameType, scalar, type FieldDesc, type StructureDesc } from '../../pvdata/types.js';
import type { PVStructure } from '../../pvdata/values.js';
import { defineCommand, type ParsedArgs } from '../args.js';
import { stdio, type CliContext } from '../common.js';
import { toJSONValue } from '../format.js';

export const spec = defineCommand({
  name: 'to-csv',
  summary: 'Print a Sluice stream (stdin or FILEs) as CSV: a row per value, or the rows of NTTable values.',
  usage: ['[options] [FILE...]'],
  description:
    'A header line names the columns: the dotted paths of the scalar fields, in type order; arrays, unions and ' +
    'any fields are one column holding their JSON. Each value is then one row. An NTTable value (or --table: any ' +
    'value whose "value" structure holds arrays) prints its rows instead, the columns being the table\u2019s. A new ' +
    'type mid-stream prints a new header. Cells are quoted as RFC 4180 says (commas, quotes, line breaks).',
  options: {
    table: { type: 'boolean', description: 'Print the rows of the value\u2019s "value" structure of arrays, as for NTTable.' },
  },
  examples: ['sluice cat -n 100 sim:image | sluice filter -f uniqueId,timeStamp | sluice to-csv > frames.csv'],
});

export async function run(args: ParsedArgs<typeof spec.options>, ctx: CliContext): Promise<number> {
  const out = stdio(ctx, 'stdout');
  let header: StructureDesc | null = null;
  let table: { name: string; type: FieldDesc }[] | null = null;
  let cols: Column[] = [];
  const line = async (cells: unknown[]): Promise<void> => {
    if (!out.write(cells.map(csvCell).join(',') + '\n')) await once(out, 'drain');
  };
  try {
    for (const file of args.positionals.length ? args.positionals : ['-']) {
      const input = file === '-' ? stdio(ctx, 'stdin') : inputChunks(file);
      for await (const item of readStream(input, { source: file === '-' ? 'stdin' : file })) {
        if (item.kind !== 'value') continue;
        if (header !== item.type && header !== null && sameType(header, item.type)) {
          header = item.type; // the same type again (concatenated or merged streams): no new header
        } else if (header !== item.type) {
          // Columns once per type, not per value.
          header = item.type;
          table = tableOf(item.type, args.values.table === true);
          cols = table ? [] : columns(item.type);
          await line(table ? table.map((c) => c.name) : cols.map((c) => c.path));
        }
        if (table) {
          const t = table;
          const arrays = t.map((c) => (item.value['value'] as PVStructure)[c.name] as ArrayLike<unknown>);
          const rows = Math.max(0, ...arrays.map((a) => a?.length ?? 0));
          for (let r = 0; r < rows; r++) await line(arrays.map((a, i) => json((t[i] as { type: FieldDesc }).type, a?.[r], true)));
        } else {
          await line(cols.map((c) => json(c.type, at(item.value, c.path), false)));
        }
      }
    }
  } catch (err) {
    ctx.err(`sluice to-csv: ${(err as Error).message}`);
    return 1;
  }
  return 0;
}

interface Column {
  path: string;
  type: FieldDesc;
}

/** Scalar leaves by dotted path; arrays, unions and any are leaves too (a JSON cell). */
function columns(type: StructureDesc, prefix = ''): Column[] {
  return type.fields.flatMap((m) =>
    m.type.kind === 'structure' ? columns(m.type, `${prefix}${m.name}.`) : [{ path: prefix + m.name, type: m.type }],
  );
}

/** The table's columns when the value is an NTTable (or --table): `value` is a structure of arrays. */
export function tableOf(type: StructureDesc, forced: boolean): { name: string; type: FieldDesc }[] | null {
  if (!forced && !type.id.startsWith('epics:nt/NTTable:')) return null;
  const v = type.fields.find((m) => m.name === 'value')?.type;
  if (v?.kind !== 'structure' || !v.fields.every((m) => m.type.kind === 'scalarArray')) return null;
  return v.fields.map((m) => ({ name: m.name, type: m.type.kind === 'scalarArray' ? scalar(m.type.type) : m.type }));
}

function at(v: PVStructure, path: string): unknown {
  let x: unknown = v;
  for (const p of path.split('.')) x = (x as PVStructure | undefined)?.[p];
  return x;
}

/** A cell's text: scalars as they are, everything else as JSON. */
function json(type: FieldDesc, v: unknown, scalar: boolean): string {
  const j = scalar ? (typeof v === 'bigint' ? v.toString() : v) : toJSONValue(type, v);
  return typeof j === 'string' ? j : j === undefined || j === null ? '' : typeof j === 'object' ? JSON.stringify(j) : String(j);
}

function csvCell(v: unknown): string {
  const s = String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
