// CSV for `sluice from-csv`, the inverse of to-csv: an RFC 4180 parser fed chunks of text (quoted
// cells may hold commas, quotes and line breaks), and the inference of a column's type from its
// cells, as from-json infers types from JSON: integers int (long past 32 bits), other numbers
// double, true/false boolean, JSON arrays arrays, anything else string.
import { DecodeError } from '../errors.js';
import { inferType } from '../pvdata/infer.js';
import { t, type FieldDesc, type StructureDesc } from '../pvdata/types.js';

/** Rows from chunks of CSV text; each row comes with the line it starts on. */
export class CsvParser {
  readonly #source: string;
  #cell = '';
  #row: string[] = [];
  #quoted = false;
  /** Inside quotes; after a closing quote (a second quote then is an escaped one). */
  #inQuotes = false;
  #afterQuote = false;
  #line = 1;
  #rowLine = 1;
  #pendingCR = false;
  #empty = true;

  constructor(source: string) {
    this.#source = source;
  }

  push(text: string): { line: number; cells: string[] }[] {
    const rows: { line: number; cells: string[] }[] = [];
    for (let i = 0; i < text.length; i++) {
      const c = text[i] as string;
      if (this.#pendingCR) {
        this.#pendingCR = false;
        if (c === '\n') continue; // CRLF: one line break
      }
      if (this.#inQuotes) {
        if (c === '"') {
          this.#inQuotes = false;
          this.#afterQuote = true;
        } else {
          if (c === '\n') this.#line++;
          this.#cell += c;
        }
        continue;
      }
      if (c === '"') {
        if (this.#afterQuote) {
          this.#cell += '"'; // "" inside quotes
          this.#inQuotes = true;
          this.#afterQuote = false;
        } else if (this.#cell === '' && !this.#quoted) {
          this.#inQuotes = true;
          this.#quoted = true;
          this.#empty = false;
        } else {
          throw new DecodeError(`${this.#source} line ${this.#line}: a quote inside an unquoted cell`);
        }
        continue;
      }
      if (c === ',' || c === '\n' || c === '\r') {
        this.#row.push(this.#cell);
        this.#cell = '';
        this.#quoted = this.#afterQuote = false;
        if (c === ',') {
          this.#empty = false;
          continue;
        }
        if (c === '\r') this.#pendingCR = true;
        if (!this.#empty) rows.push({ line: this.#rowLine, cells: this.#row });
        this.#row = [];
        this.#empty = true;
        this.#rowLine = ++this.#line;
        continue;
      }
      if (this.#afterQuote) throw new DecodeError(`${this.#source} line ${this.#line}: text after a closing quote`);
      this.#cell += c;
      this.#empty = false;
    }
    return rows;
  }

  /** The input ended: the last row, if it had no line break. */
  end(): { line: number; cells: string[] }[] {
    if (this.#inQuotes) throw new DecodeError(`${this.#source} line ${this.#rowLine}: a quoted cell that never ends`);
    if (this.#empty) return [];
    this.#row.push(this.#cell);
    return [{ line: this.#rowLine, cells: this.#row }];
  }
}

const INT = /^[+-]?\d+$/;
const FLOAT = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$|^[+-]?(inf|infinity|nan)$/i;

/** The type cells of one column suggest: see the file's comment. Empty cells fit any type. */
export function inferColumn(cells: readonly string[]): FieldDesc {
  const full = cells.filter((c) => c !== '');
  if (full.length === 0) return t.string;
  if (full.every((c) => INT.test(c))) {
    const big = full.map((c) => BigInt(c));
    if (big.every((n) => n >= -(2n ** 31n) && n < 2n ** 31n)) return t.int;
    if (big.every((n) => n >= -(2n ** 63n) && n < 2n ** 63n)) return t.long;
    return t.double;
  }
  if (full.every((c) => FLOAT.test(c.trim()))) return t.double;
  if (full.every((c) => c === 'true' || c === 'false')) return t.boolean;
  if (full.every((c) => c.startsWith('['))) {
    try {
      // An empty array fits any array type; all empty: double[].
      const arrays = full.map((c) => JSON.parse(c) as unknown[]).filter((a) => !Array.isArray(a) || a.length > 0);
      const types = arrays.map((a) => inferType(a as never));
      const first = types[0] ?? t.array('double');
      if (first.kind === 'scalarArray' && types.every((x) => x.kind === 'scalarArray' && x.type === first.type)) return first;
      if (first.kind === 'scalarArray' && types.every((x) => x.kind === 'scalarArray' && x.type !== 'string' && x.type !== 'boolean'))
        return t.array('double');
    } catch {
      // not JSON arrays of one kind: strings
    }
  }
  return t.string;
}

/** A structure from dotted column paths and their leaf types, fields in the order they first appear. */
export function structureOf(columns: readonly { path: string; type: FieldDesc }[], where: string, id = ''): StructureDesc {
  interface Node {
    type?: FieldDesc;
    children?: Map<string, Node>;
  }
  const root: Node = { children: new Map() };
  for (const { path, type } of columns) {
    const parts = path.split('.');
    let node = root;
    parts.forEach((p, i) => {
      if (!node.children) throw new DecodeError(`${where}: column ${path}: ${parts.slice(0, i).join('.')} is a column of its own`);
      let next = node.children.get(p);
      if (!next) {
        next = i === parts.length - 1 ? { type } : { children: new Map() };
        node.children.set(p, next);
      } else if (i === parts.length - 1) {
        throw new DecodeError(`${where}: column ${path} appears twice, or holds other columns`);
      }
      node = next;
    });
  }
  const build = (n: Node, sid = ''): StructureDesc =>
    t.struct(
      [...(n.children as Map<string, Node>)].map(([name, c]) => [name, c.children ? build(c) : (c.type as FieldDesc)] as const),
      sid,
    );
  return build(root, id);
}

/** A column name, or a dotted path of them (a header row of to-csv). */
export const isColumnPath = (cell: string): boolean => /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/.test(cell);
