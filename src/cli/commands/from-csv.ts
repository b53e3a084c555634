// sluice from-csv: CSV into a Sluice stream, the inverse of to-csv: columns named by dotted paths
// become (nested) structure fields, or with --table the rows become one NTTable value. Types are
// inferred from the cells of each block of rows, or taken from a stream file with --type-from.
import { createReadStream } from 'node:fs';
import { DecodeError } from '../../errors.js';
import { CsvParser, inferColumn, isColumnPath, structureOf } from '../../pipeline/csv.js';
import { StreamOutput } from '../../pipeline/stdio.js';
import { nttable } from '../../pvdata/nt/nttable.js';
import type { FieldDesc, ScalarType, StructureDesc } from '../../pvdata/types.js';
import { completeStructure, type PVStructure, type PVValue } from '../../pvdata/values.js';
import { defineCommand, type ParsedArgs } from '../args.js';
import { stdio, type CliContext } from '../common.js';
import { fromJSON, nest, toArray, toScalar } from '../parse-value.js';
import { firstType } from './from-json.js';

export const spec = defineCommand({
  name: 'from-csv',
  summary: 'Turn CSV (stdin or FILEs) into a Sluice stream: a value per row, or NTTable values with --table.',
  usage: ['[options] [FILE...]'],
  description:
    'The first line names the columns by dotted path (timeStamp.secondsPastEpoch is the field secondsPastEpoch ' +
    'of the structure timeStamp), as sluice to-csv writes them; each row is then one value. Without --type-from ' +
    'the type of each column is inferred from all its cells in the block: integers int (long past 32 bits), ' +
    'other numbers double, true/false boolean, JSON arrays arrays (to-csv writes arrays so), anything else ' +
    'string; a row that repeats the header, or a row of other column names where a column so far held other ' +
    'text (numbers, say), starts a new block with a new type, as to-csv writes a new header at a new type. ' +
    'With --type-from FILE the cells are read as the fields of the first type in that stream file (fields ' +
    'without a column keep their defaults), and rows go out as they come. With --table the rows of each block ' +
    'are one NTTable value, the columns its columns. Cells are unquoted as RFC 4180 says. A row of the wrong ' +
    'width or a cell that does not fit its type stops the command with its line number and exit status 1.',
  options: {
    'type-from': { type: 'string', value: 'FILE', description: 'Read the cells as fields of the first type in this stream file.' },
    table: { type: 'boolean', description: 'Make the rows of each block one NTTable value.' },
  },
  examples: [
    'sluice to-csv frames.sls | sluice from-csv --type-from frames.sls | sluice to-json',
    "printf 'id,label\\n7,x\\n8,y\\n' | sluice from-csv --table | sluice to-csv --table",
  ],
});

interface Row {
  line: number;
  cells: string[];
}

export async function run(args: ParsedArgs<typeof spec.options>, ctx: CliContext): Promise<number> {
  const out = new StreamOutput(stdio(ctx, 'stdout'));
  const table = args.values.table === true;
  try {
    const fixed = args.values['type-from'] ? await firstType(args.values['type-from']) : null;
    const typeFrom = args.values['type-from'] ?? '';
    for (const file of args.positionals.length ? args.positionals : ['-']) {
      const source = file === '-' ? 'stdin' : file;
      const input = file === '-' ? stdio(ctx, 'stdin') : createReadStream(file);
      input.setEncoding('utf8');
      const parser = new CsvParser(source);
      let header: string[] | null = null;
      let rows: Row[] = [];
      /** Per column of the block: every cell so far could be a column name (then a row of names is data). */
      let namesOnly: boolean[] = [];
      let seen = 0;
      const write = async (type: StructureDesc, value: PVStructure): Promise<void> => {
        if (!out.write(type, value)) await out.drained();
      };
      const flush = async (): Promise<void> => {
        if (!header) return;
        const h = header;
        if (table) await write(...tableValue(h, rows, fixed, typeFrom, source));
        else if (!fixed) {
          const type = structureOf(
            h.map((path, i) => ({ path, type: inferColumn(rows.map((r) => r.cells[i] as string)) })),
            `${source} line ${(rows[0]?.line ?? 2) - 1}`,
          );
          for (const r of rows) await write(type, rowValue(type, h, r, source, ''));
        }
        rows = [];
      };
      const take = async (r: Row): Promise<void> => {
        if (!header) {
          header = checkHeader(r, source);
          namesOnly = header.map(() => true);
          if (fixed && !table) for (const p of header) leafAt(fixed, p, typeFrom, `${source} line ${r.line}`);
          return;
        }
        const again = r.cells.length === header.length && r.cells.every((c, i) => c === header?.[i]);
        // Other names: a header when the cells of some column so far were no names (numbers, text).
        const names = r.cells.every(isColumnPath) && (r.cells.length !== header.length || namesOnly.some((n) => !n));
        if (again || (names && seen > 0)) {
          await flush();
          header = checkHeader(r, source);
          namesOnly = header.map(() => true);
          seen = 0;
          return;
        }
        seen++;
        r.cells.forEach((c, i) => (namesOnly[i] &&= isColumnPath(c)));
        if (r.cells.length !== header.length) {
          throw new DecodeError(`${source} line ${r.line}: ${r.cells.length} cells, the header has ${header.length}`);
        }
        if (fixed && !table) await write(fixed, rowValue(fixed, header, r, source, typeFrom));
        else rows.push(r);
      };
      for await (const chunk of input as AsyncIterable<string>) {
        for (const r of parser.push(chunk)) await take(r);
        if (out.closed) return 0;
      }
      for (const r of parser.end()) await take(r);
      await flush();
    }
    await out.end();
    return 0;
  } catch (err) {
    ctx.err(`sluice from-csv: ${(err as Error).message}`);
    return 1;
  }
}

function checkHeader(r: Row, source: string): string[] {
  const bad = r.cells.find((c) => !isColumnPath(c));
  if (bad !== undefined) throw new DecodeError(`${source} line ${r.line}: '${bad}' is not a column name (a header line names the columns)`);
  return r.cells;
}

/** The field at a dotted path of `type`. */
function leafAt(type: StructureDesc, path: string, typeFrom: string, where: string): FieldDesc {
  let f: FieldDesc = type;
  for (const p of path.split('.')) {
    const m: { type: FieldDesc } | undefined = f.kind === 'structure' ? f.fields.find((x) => x.name === p) : undefined;
    if (!m) throw new DecodeError(`${where}: column ${path} is not a field of the type in ${typeFrom || 'the header'}`);
    f = m.type;
  }
  return f;
}

/** A cell as a value of its field; an empty cell leaves the field out (its default), except for strings. */
function cellValue(desc: FieldDesc, cell: string, what: string): PVValue | undefined {
  if (desc.kind === 'scalar') return cell === '' && desc.type !== 'string' ? undefined : toScalar(desc.type, cell, what);
  if (desc.kind === 'boundedString') return cell;
  if (cell === '') return undefined;
  let json: unknown;
  try {
    json = JSON.parse(cell);
  } catch {
    throw new DecodeError(`${what}: '${cell}' is not JSON`);
  }
  return fromJSON(desc, json, what);
}

function rowValue(type: StructureDesc, header: string[], r: Row, source: string, typeFrom: string): PVStructure {
  const partial: PVStructure = {};
  header.forEach((path, i) => {
    const where = `${source} line ${r.line}, column ${path}`;
    const v = cellValue(leafAt(type, path, typeFrom, where), r.cells[i] as string, where);
    if (v !== undefined) nest(path, v, partial);
  });
  return completeStructure(type, partial);
}

/** The rows of a block as one NTTable value: columns typed by `fixed`'s value structure, or inferred. */
function tableValue(
  header: string[],
  rows: Row[],
  fixed: StructureDesc | null,
  typeFrom: string,
  source: string,
): [StructureDesc, PVStructure] {
  const where = `${source} line ${(rows[0]?.line ?? 2) - 1}`;
  const cols: [string, ScalarType][] = header.map((name, i) => {
    if (fixed) {
      const f = leafAt(fixed, `value.${name}`, typeFrom, where);
      if (f.kind !== 'scalarArray') throw new DecodeError(`${where}: value.${name} of the type in ${typeFrom} is not an array column`);
      return [name, f.type];
    }
    const t = inferColumn(rows.map((r) => r.cells[i] as string));
    return [name, t.kind === 'scalar' ? t.type : 'string'];
  });
  const type = fixed ?? nttable.type(cols);
  const value: PVStructure = {};
  cols.forEach(([name, st], i) => {
    const cells = rows.map((r) => r.cells[i] as string);
    value[name] = toArray(st, st === 'string' ? cells : cells.map((c) => (c === '' ? '0' : c)), `${where}, column ${name}`);
  });
  return [type, completeStructure(type, { labels: header, value })];
}
