// pvRequest: the text form clients type (`field(value,alarm)record[queueSize=4]`), the structure
// sent in every INIT, and what a server does with it (options, field selection with BitSet mapping).
// Text → structure follows pvDataCPP's CreateRequest: sections ordered record, field, getField,
// putField whatever the text order; `a.b` and `a{b,c}` nest empty structures; `name[k=v,…]` adds
// `_options { string k }` as the first member; `record[]` adds nothing. Unlike pvDataCPP, a name given
// twice (`alarm.severity,alarm.status`) is merged as PVXS does, and junk is an error, not ignored.
import { SluiceError } from '../errors.js';
import { BitSet } from './bitset.js';
import { fieldCount, memberOffsets } from './field-numbering.js';
import type { FieldDesc, Member, StructureDesc } from './types.js';
import { memberIndex, t } from './types.js';
import type { PVStructure, PVValue } from './values.js';

export interface PVRequest {
  type: StructureDesc;
  value: PVStructure;
}

/** @internal One entry of a request tree: a field with its `[k=v]` options and sub-fields. */
export interface RequestNode {
  name: string;
  options: Map<string, string>;
  children: RequestNode[];
}
type Node = RequestNode;

/** @internal What the parser reads and the builder edits: record options and section trees. */
export interface RequestTree {
  record: Map<string, string>;
  /** field, getField, putField: a section node named after its section. */
  sections: Map<string, RequestNode>;
}

export const SECTIONS = ['field', 'getField', 'putField'] as const;
export type RequestSection = (typeof SECTIONS)[number];
const NAME_START = /[A-Za-z_]/;
const NAME_CHAR = /[A-Za-z0-9_]/;

export function newNode(name: string): Node {
  return { name, options: new Map(), children: [] };
}

class Parser {
  pos = 0;
  readonly record = new Map<string, string>();
  readonly sections = new Map<string, Node>();
  constructor(readonly text: string) {}

  fail(what: string, at = this.pos): never {
    throw new SluiceError('ERR_PVREQUEST', `bad pvRequest '${this.text}': ${what} at position ${at}`);
  }
  /** The next non-blank character ('' at the end), blanks skipped. */
  peek(): string {
    while (/\s/.test(this.text[this.pos] ?? '')) this.pos++;
    return this.text[this.pos] ?? '';
  }
  name(what: string): string {
    this.peek();
    const start = this.pos;
    if (!NAME_START.test(this.text[start] ?? '')) {
      const c = this.text[start];
      this.fail(c === undefined ? `missing ${what} (unexpected end)` : `expected ${what}, found '${c}'`);
    }
    while (this.pos < this.text.length && NAME_CHAR.test(this.text[this.pos] as string)) this.pos++;
    return this.text.slice(start, this.pos);
  }
  section(name: string): Node {
    if (!this.sections.has(name)) this.sections.set(name, newNode(name));
    return this.sections.get(name) as Node;
  }

  parse(): void {
    while (this.peek() !== '') {
      const save = this.pos;
      const word = NAME_START.test(this.peek()) ? this.name('a name') : '';
      const next = this.peek();
      if ((SECTIONS as readonly string[]).includes(word) && next === '(') {
        this.pos++;
        this.list(this.section(word), ')', true);
      } else if (word === 'record' && next === '[') {
        this.options(this.record, true);
      } else {
        this.pos = save; // a bare field list entry, short for field(…)
        this.entry(this.section('field'));
      }
      if (this.peek() === ',') this.pos++;
    }
  }

  /** Entries up to `close`; `(` … `)` may be empty, `{` … `}` may not. */
  list(parent: Node, close: string, mayBeEmpty: boolean): void {
    if (this.peek() === close) {
      if (!mayBeEmpty) this.fail(`empty {}`);
      this.pos++;
      return;
    }
    for (;;) {
      this.entry(parent);
      const c = this.peek();
      this.pos++;
      if (c === close) return;
      if (c !== ',') this.fail(c === '' ? `missing '${close}'` : `expected ',' or '${close}', found '${c}'`, this.pos - 1);
    }
  }

  entry(parent: Node): void {
    const name = this.name('a field name');
    let node = parent.children.find((c) => c.name === name);
    if (!node) parent.children.push((node = newNode(name)));
    if (this.peek() === '[') this.options(node.options, false);
    const c = this.peek();
    if (c === '.') {
      this.pos++;
      this.entry(node);
    } else if (c === '{') {
      this.pos++;
      this.list(node, '}', false);
    }
  }

  /** `[k=v,…]`; values run to the next ',' or ']' with blanks removed (as pvDataCPP does). */
  options(into: Map<string, string>, mayBeEmpty: boolean): void {
    this.pos++; // '['
    if (this.peek() === ']') {
      if (!mayBeEmpty) this.fail('empty []');
      this.pos++;
      return;
    }
    for (;;) {
      const key = this.name('an option name');
      if (this.peek() !== '=') this.fail(`expected '=' after option '${key}'`);
      const start = ++this.pos;
      while (this.pos < this.text.length && !',]'.includes(this.text[this.pos] as string)) this.pos++;
      if (this.pos >= this.text.length) this.fail(`missing ']'`, start);
      into.set(key, this.text.slice(start, this.pos).replace(/\s+/g, ''));
      if (this.text[this.pos++] === ']') return;
    }
  }
}

function nodeType(n: Node): StructureDesc {
  const members: [string, FieldDesc][] = [];
  if (n.options.size) members.push(['_options', t.struct([...n.options.keys()].map((k) => [k, t.string] as const))]);
  for (const c of n.children) members.push([c.name, nodeType(c)]);
  return t.struct(members);
}

function nodeValue(n: Node): PVStructure {
  const v: PVStructure = {};
  if (n.options.size) v['_options'] = Object.fromEntries(n.options);
  for (const c of n.children) v[c.name] = nodeValue(c);
  return v;
}

/** @internal The tree of a request text, before it becomes a structure. */
export function parseRequestTree(text: string): RequestTree {
  const p = new Parser(text);
  p.parse();
  return { record: p.record, sections: p.sections };
}

/**
 * @internal The structure of a tree, as the parser builds it: record first, then the sections in
 * SECTIONS order. `text` names the request in errors.
 */
export function requestOfTree(tree: RequestTree, text: string): PVRequest {
  const top: Node = newNode('');
  // record options become record._options, exactly like a field's options
  if (tree.record.size) top.children.push({ name: 'record', options: tree.record, children: [] });
  for (const s of SECTIONS) {
    const n = tree.sections.get(s);
    if (n) top.children.push(n);
  }
  try {
    return { type: nodeType(top), value: nodeValue(top) };
  } catch (e) {
    // e.g. a field literally named _options next to options of the same node
    throw new SluiceError('ERR_PVREQUEST', `bad pvRequest '${text}': ${(e as Error).message}`, { cause: e });
  }
}

/** Parse the text form (pvget/pvmonitor `-r`, PvaPy requests) into the structure sent on the wire. */
export function parsePVRequest(text: string): PVRequest {
  return requestOfTree(parseRequestTree(text), text);
}

// ---- back to text ------------------------------------------------------------------------------

function optionText(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'object') {
    const o = v as { value?: unknown };
    return 'value' in o ? optionText(o.value) : ''; // any / union: the inner value
  }
  return String(v);
}

/** @internal `_options` of a request structure as strings (any/union: the inner value). */
export function optionsOf(desc: FieldDesc, value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (desc.kind !== 'structure') return out;
  const o = (value ?? {}) as PVStructure;
  for (const m of desc.fields) out[m.name] = optionText(o[m.name]);
  return out;
}

function formatOptions(o: Record<string, string>): string {
  const e = Object.entries(o);
  return e.length ? `[${e.map(([k, v]) => `${k}=${v}`).join(',')}]` : '';
}

function formatEntry(name: string, desc: FieldDesc, value: unknown): string {
  if (desc.kind !== 'structure') return name;
  const o = (value ?? {}) as PVStructure;
  const opt = desc.fields.find((m) => m.name === '_options');
  const kids = desc.fields.filter((m) => m.name !== '_options').map((m) => formatEntry(m.name, m.type, o[m.name]));
  const head = name + (opt ? formatOptions(optionsOf(opt.type, o['_options'])) : '');
  if (kids.length === 0) return head;
  return kids.length === 1 ? `${head}.${kids[0]}` : `${head}{${kids.join(',')}}`;
}

/** Canonical text of a request: sections in structure order, `a.b` for one child, `a{b,c}` for more. */
export function formatPVRequest(req: PVRequest): string {
  const parts: string[] = [];
  const bare: string[] = [];
  const v = req.value ?? {};
  for (const m of req.type.fields) {
    if (m.name === 'record' && m.type.kind === 'structure') {
      const opt = m.type.fields.find((f) => f.name === '_options');
      const text = opt ? formatOptions(optionsOf(opt.type, (v['record'] as PVStructure | undefined)?.['_options'])) : '';
      if (text) parts.push(`record${text}`);
    } else if ((SECTIONS as readonly string[]).includes(m.name)) {
      const o = (v[m.name] ?? {}) as PVStructure;
      const list = m.type.kind === 'structure' ? m.type.fields.map((f) => formatEntry(f.name, f.type, o[f.name])) : [];
      parts.push(`${m.name}(${list.join(',')})`);
    } else {
      bare.push(formatEntry(m.name, m.type, v[m.name])); // a request without a field() wrapper
    }
  }
  if (bare.length) parts.push(`field(${bare.join(',')})`);
  return parts.join('');
}

// ---- reading a request a peer sent -------------------------------------------------------------

export interface RequestInfo {
  /** Dotted paths of the selected fields; empty = everything. */
  fields: string[];
  /** `record._options`, as strings. */
  options: Record<string, string>;
  /** `_options` under the selection, keyed by dotted path; '' = the whole structure (`field._options`, `field(_[…])`). */
  fieldOptions: Record<string, Record<string, string>>;
}

/**
 * Read any pvRequest structure tolerantly. A member `_` of the selection means the whole structure
 * (pvDatabaseCPP ≥ 4.7: plugins such as PvaPy's `pydistributor` are requested as `field(_[…])`):
 * it selects everything and its options go to `fieldOptions['']`. `section` picks getField/putField.
 */
export function readPVRequest(type: FieldDesc | null, value: PVValue, section = 'field'): RequestInfo {
  const info: RequestInfo = { fields: [], options: {}, fieldOptions: {} };
  if (!type || type.kind !== 'structure') return info;
  const v = (value !== null && typeof value === 'object' ? value : {}) as PVStructure;
  const rec = type.fields[memberIndex(type, 'record')];
  if (rec?.type.kind === 'structure') {
    const opt = rec.type.fields[memberIndex(rec.type, '_options')];
    if (opt) info.options = optionsOf(opt.type, (v['record'] as PVStructure | undefined)?.['_options']);
  }
  const sel = type.fields[memberIndex(type, section)];
  if (sel?.type.kind !== 'structure') return info;
  let whole = false;
  const walk = (desc: StructureDesc, val: PVStructure, prefix: string): void => {
    for (const m of desc.fields) {
      const mv = (val[m.name] ?? {}) as PVStructure;
      if (m.name === '_options') {
        info.fieldOptions[prefix] = optionsOf(m.type, mv);
      } else if (prefix === '' && m.name === '_') {
        whole = true;
        if (m.type.kind === 'structure') walk(m.type, mv, '');
      } else {
        const path = prefix ? `${prefix}.${m.name}` : m.name;
        const leaf = m.type.kind !== 'structure' || m.type.fields.every((f) => f.name === '_options');
        if (leaf) info.fields.push(path);
        if (m.type.kind === 'structure') walk(m.type, mv, path);
      }
    }
  };
  walk(sel.type, (v[section] ?? {}) as PVStructure, '');
  if (whole) info.fields = [];
  return info;
}

export function requestOption(info: RequestInfo, name: string): string | undefined {
  return Object.prototype.hasOwnProperty.call(info.options, name) ? info.options[name] : undefined;
}

/** "true"/"1"/"yes" → true, "false"/"0"/"no" → false, anything else → undefined. */
export function optionBool(v: string | undefined): boolean | undefined {
  const s = v?.trim().toLowerCase();
  if (s === 'true' || s === '1' || s === 'yes') return true;
  if (s === 'false' || s === '0' || s === 'no') return false;
  return undefined;
}

export function optionInt(v: string | undefined): number | undefined {
  if (v === undefined || !/^\s*[+-]?\d+\s*$/.test(v)) return undefined;
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : undefined;
}

// ---- field selection -----------------------------------------------------------------------------

export interface FieldSelection {
  /** The reduced type (the full type itself when everything is selected). */
  type: StructureDesc;
  project(full: PVStructure): PVStructure;
  /** Changed bits in the full numbering → reduced numbering. */
  mapBits(full: BitSet): BitSet;
  /** Reduced numbering → full numbering (a partial structure maps to its kept fields, never its own bit). */
  unmapBits(reduced: BitSet): BitSet;
  /** A copy of `target` with the reduced value written in (new objects along the written paths). */
  inject(target: PVStructure, reduced: PVStructure): PVStructure;
}

interface Sel {
  whole: boolean;
  kids: Map<string, Sel>;
}
/** Per partial structure: member names and, for members that are partial themselves, their plan. */
interface Plan {
  names: string[];
  sub: (Plan | null)[];
}

const selectionCache = new WeakMap<StructureDesc, Map<string, FieldSelection>>();
const MAX_CACHED_SELECTIONS = 64;

/**
 * Selection of `fields` (dotted paths) from `type`, as pvDataCPP's PVRequestMapper slices it: a
 * selected structure is kept whole with its type id; a parent of selected fields keeps only them
 * and loses its id (keeping it would claim a conformance the reduced type lacks). Members keep the
 * full type's order. Unknown paths are ignored; a path below a leaf selects the leaf.
 */
export function selectFields(type: StructureDesc, fields: string[]): FieldSelection {
  const key = fields.join('\n');
  let byKey = selectionCache.get(type);
  const hit = byKey?.get(key);
  if (hit) return hit;
  const sel = buildSelection(type, fields);
  if (!byKey) selectionCache.set(type, (byKey = new Map()));
  if (byKey.size >= MAX_CACHED_SELECTIONS) byKey.clear(); // peers choose the keys: stay bounded
  byKey.set(key, sel);
  return sel;
}

function buildSelection(type: StructureDesc, fields: string[]): FieldSelection {
  const root: Sel = { whole: fields.length === 0, kids: new Map() };
  let found = root.whole;
  for (const path of fields) {
    const names = resolve(type, path);
    if (!names) continue;
    found = true;
    let s = root;
    for (const n of names) {
      if (s.whole) break;
      if (!s.kids.has(n)) s.kids.set(n, { whole: false, kids: new Map() });
      s = s.kids.get(n) as Sel;
    }
    if (!s.whole) Object.assign(s, { whole: true, kids: new Map() });
  }
  if (!found) throw new SluiceError('ERR_PVREQUEST', `no field of the request exists: ${fields.join(', ')}`);
  const reduced = root.whole ? type : reduce(type, root);
  return reduced === type ? identity(type) : sliced(type, reduced);
}

/** Member names along a dotted path, cut at the first leaf; null when a name does not exist. */
function resolve(type: StructureDesc, path: string): string[] | null {
  const names: string[] = [];
  let desc: FieldDesc = type;
  for (const part of path.split('.')) {
    if (part === '') continue;
    if (desc.kind !== 'structure') break; // below a leaf: the leaf itself
    const i = memberIndex(desc, part);
    if (i < 0) return null;
    names.push(part);
    desc = (desc.fields[i] as Member).type;
  }
  return names;
}

/** Whole members are the full type's own Member objects; that identity marks them below. */
function reduce(desc: StructureDesc, sel: Sel): StructureDesc {
  const members = desc.fields.flatMap((m): Member[] => {
    const s = sel.kids.get(m.name);
    if (!s) return [];
    if (s.whole || m.type.kind !== 'structure') return [m];
    const r = reduce(m.type, s);
    return [r === m.type ? m : { name: m.name, type: r }];
  });
  const whole = members.length === desc.fields.length && members.every((m, i) => m === desc.fields[i]);
  return whole ? desc : t.struct(members);
}

function planOf(f: StructureDesc, r: StructureDesc): Plan {
  return {
    names: r.fields.map((m) => m.name),
    sub: r.fields.map((m) => {
      const fm = (f.fields[memberIndex(f, m.name)] as Member).type;
      return fm === m.type ? null : planOf(fm as StructureDesc, m.type as StructureDesc);
    }),
  };
}

function identity(type: StructureDesc): FieldSelection {
  const plan = planOf(type, type);
  return {
    type,
    project: (full) => full,
    mapBits: (full) => full.copy(),
    unmapBits: (reduced) => reduced.copy(),
    inject: (target, reduced) => injectPlan(plan, target, reduced),
  };
}

function sliced(full: StructureDesc, reduced: StructureDesc): FieldSelection {
  // Tables built once: mapBits/unmapBits are then one array lookup per set bit.
  const full2red = new Int32Array(fieldCount(full)).fill(-1);
  const red2full = new Int32Array(fieldCount(reduced)).fill(-1);
  const expand: Int32Array[] = []; // partial structure bit → full bits of its kept fields
  const walk = (fd: FieldDesc, fb: number, rd: FieldDesc, rb: number): number[] => {
    if (fd === rd) {
      for (let i = 0, n = fieldCount(fd); i < n; i++) {
        full2red[fb + i] = rb + i;
        red2full[rb + i] = fb + i;
      }
      return [fb];
    }
    const [f, r] = [fd as StructureDesc, rd as StructureDesc];
    const [fo, ro] = [memberOffsets(f), memberOffsets(r)];
    full2red[fb] = rb;
    const bits = r.fields.flatMap((m, j) => {
      const i = memberIndex(f, m.name);
      return walk((f.fields[i] as Member).type, fb + (fo[i] as number), m.type, rb + (ro[j] as number));
    });
    expand[rb] = Int32Array.from(bits);
    return bits;
  };
  walk(full, 0, reduced, 0);
  const plan = planOf(full, reduced);
  return {
    type: reduced,
    project: (v) => projectPlan(plan, v),
    mapBits(bits) {
      const out = new BitSet();
      for (let b = bits.nextSetBit(0); b >= 0 && b < full2red.length; b = bits.nextSetBit(b + 1)) {
        const r = full2red[b] as number;
        if (r >= 0) out.set(r);
      }
      return out;
    },
    unmapBits(bits) {
      const out = new BitSet();
      for (let b = bits.nextSetBit(0); b >= 0 && b < red2full.length; b = bits.nextSetBit(b + 1)) {
        const f = red2full[b] as number;
        if (f >= 0) out.set(f);
        else for (const x of expand[b] ?? []) out.set(x);
      }
      return out;
    },
    inject: (target, red) => injectPlan(plan, target, red),
  };
}

function projectPlan(plan: Plan, v: PVStructure = {}): PVStructure {
  const out: PVStructure = {};
  plan.names.forEach((n, i) => {
    const sub = plan.sub[i];
    out[n] = sub ? projectPlan(sub, v[n]) : v[n];
  });
  return out;
}

function injectPlan(plan: Plan, target: PVStructure = {}, red: PVStructure = {}): PVStructure {
  const out: PVStructure = { ...target };
  plan.names.forEach((n, i) => {
    const sub = plan.sub[i];
    if (red[n] !== undefined) out[n] = sub ? injectPlan(sub, out[n], red[n]) : red[n];
  });
  return out;
}
