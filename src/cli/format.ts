// Printing pvData values the way pvget/pvmonitor print them (pvDataCPP's printer): the NT form
// ("<time> <value> <alarm>" for NTScalar, "<time> <alarm> [..]" for NTScalarArray, "(i) choice"
// for NTEnum, a table for NTTable) and the raw form, one field per line (-v, -M raw). Spacing is
// pvget's to the character: the time is padded to 24 columns and each part ends in a space.
import { BitSet } from '../pvdata/bitset.js';
import { fieldCount, memberOffsets } from '../pvdata/field-numbering.js';
import { toJSONValue } from '../pvdata/json-value.js';
import { ntndarray } from '../pvdata/nt/index.js';
import type { FieldDesc, ScalarType, StructureDesc } from '../pvdata/types.js';
import { typeName } from '../pvdata/types.js';
import type { PVAny, PVStructure, PVUnion } from '../pvdata/values.js';

export interface FormatOptions {
  /** Print at most this many elements of each array, then `...` (pvxget's -#); 0 = all. */
  arrayLimit?: number;
  /** Raw form only: print just these fields (BitSet numbering), with their parents. */
  show?: BitSet;
}

const SEVERITIES = ['', 'MINOR', 'MAJOR', 'INVALID', 'UNDEFINED'];
const STATUSES = ['', 'DEVICE', 'DRIVER', 'RECORD', 'DB', 'CONF', 'UNDEFINED', 'CLIENT'];
/** POSIX seconds of the EPICS epoch (1990-01-01 UTC); earlier times print as undefined. */
const EPICS_EPOCH = 631152000;

// ---- scalars and arrays ----------------------------------------------------------------------

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

/** `YYYY-MM-DD HH:MM:SS.mmm` in local time, like pvget; '<undefined>' for a zero time stamp. */
export function formatTimeStamp(ts: unknown): string {
  const o = isStruct(ts) ? ts : {};
  const raw = Number(o['secondsPastEpoch'] ?? 0);
  const sec = raw > EPICS_EPOCH ? raw : EPICS_EPOCH;
  const ns = Number(o['nanoseconds'] ?? 0);
  if (sec === EPICS_EPOCH && !ns) return '<undefined>';
  const d = new Date(sec * 1000 + Math.floor(ns / 1e6));
  const date = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  return `${date} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(Math.floor(ns / 1e6) % 1000, 3)}`;
}

/** The time as pvget prints it in a line: padded to 24 columns, a space, the userTag if not 0. */
function timeColumn(ts: unknown): string {
  const tag = isStruct(ts) ? Number(ts['userTag'] ?? 0) : 0;
  return `${formatTimeStamp(ts).padEnd(24)} ${tag ? `${tag} ` : ''}`;
}

/** Severity, status and message, each followed by a space; '' when the severity is NO_ALARM. */
export function formatAlarm(alarm: unknown): string {
  if (!isStruct(alarm)) return '';
  const sev = Number(alarm['severity'] ?? 0);
  if (!sev) return '';
  const status = Number(alarm['status'] ?? 0);
  let out = `${SEVERITIES[sev] ?? sev} `;
  if (status) out += `${STATUSES[status] ?? status} `;
  if (alarm['message']) out += `${String(alarm['message'])} `;
  return out;
}

/** A number as C++ streams print it by default (printf %g, 6 significant digits): 1.5, 1e-05, 1.23457e+08. */
export function formatG(v: number, precision = 6): string {
  if (Number.isNaN(v)) return 'nan';
  if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  const [mantissa, e] = v.toExponential(precision - 1).split('e') as [string, string];
  const exp = Number(e);
  if (exp < -4 || exp >= precision) return `${stripZeros(mantissa)}e${exp < 0 ? '-' : '+'}${pad(Math.abs(exp))}`;
  return stripZeros(v.toFixed(precision - 1 - exp));
}

function stripZeros(s: string): string {
  return s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s;
}

const ESCAPES: Record<string, string> = {
  '\x07': 'a',
  '\b': 'b',
  '\f': 'f',
  '\n': 'n',
  '\r': 'r',
  '\t': 't',
  '\v': 'v',
  '\\': '\\',
  "'": "'",
  '"': '"',
};

/** pvData's escaping: C escapes, \xNN for other unprintable bytes; CSV doubles quotes instead. */
function escape(s: string, csv = false): string {
  let out = '';
  for (const c of s) {
    const e = ESCAPES[c];
    if (e) out += csv && c === '"' ? '""' : `\\${e}`;
    else if (c < ' ' || c === '\x7f') out += `\\x${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`;
    else out += c;
  }
  return out;
}

/** A string as pvget prints it: quoted and escaped only when it holds spaces, quotes or control characters. */
export function maybeQuote(s: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are what must be escaped
  return /[\s\\'"\x00-\x1f\x7f]/.test(s) ? `"${escape(s)}"` : s;
}

export function formatScalar(type: ScalarType | undefined, v: unknown): string {
  if (typeof v === 'string') return maybeQuote(v);
  if (typeof v === 'number' && (type === 'float' || type === 'double' || !Number.isInteger(v))) return formatG(v);
  return String(v);
}

/** `[1,2,3]`, strings `[a, "b c"]` (pvget), at most `limit` elements then `...` when limit > 0. */
export function formatArray(type: ScalarType | undefined, a: ArrayLike<unknown>, limit = 0): string {
  const n = a.length;
  const shown = limit > 0 && n > limit ? limit : n;
  const items: string[] = [];
  for (let i = 0; i < shown; i++) items.push(formatScalar(type, a[i]));
  if (shown < n) items.push('...');
  return `[${items.join(type === 'string' ? ', ' : ',')}]`;
}

// ---- the NT form -----------------------------------------------------------------------------

/**
 * The NT form of a structure (one or more lines), or null when pvget would print the raw form
 * (the type has no `value` the NT printer knows).
 */
export function formatNT(type: StructureDesc, value: PVStructure, opts: FormatOptions = {}): string | null {
  const limit = opts.arrayLimit ?? 0;
  const has = (name: string) => type.fields.find((m) => m.name === name)?.type;
  const ts = has('timeStamp') ? timeColumn(value['timeStamp']) : '';
  const alarm = has('alarm') ? formatAlarm(value['alarm']) : '';
  if (type.id.startsWith('epics:nt/NTTable:1')) {
    const meta = has('timeStamp') || has('alarm') ? `${has('timeStamp') ? `${ts} ` : ''}${has('alarm') ? `${alarm} ` : ''}` : null;
    return formatTable(type, value, meta, limit);
  }
  // Not a pvget form: NTNDArray prints on one line instead of its whole (pixel) structure.
  if (ntndarray.is(type)) return [formatTimeStamp(value['timeStamp']), alarm.trimEnd(), formatImage(value)].filter((p) => p).join(' ');
  const vt = has('value');
  if (!vt) return null;
  const v = value['value'];
  if (vt.kind === 'scalar' || vt.kind === 'boundedString')
    return `${ts}${formatScalar(vt.kind === 'scalar' ? vt.type : 'string', v)} ${alarm}`;
  if (vt.kind === 'scalarArray') return `${ts}${alarm}${formatArray(vt.type, v as ArrayLike<unknown>, limit)}`;
  if (vt.kind === 'structure' && isStruct(v) && 'index' in v && Array.isArray(v['choices'])) return `${ts}${alarm}${formatEnum(v)}`;
  return null;
}

function formatEnum(e: PVStructure): string {
  const index = Number(e['index']);
  const choice = (e['choices'] as string[])[index];
  return `(${index}) ${choice === undefined ? '<undefined>' : maybeQuote(choice)}`;
}

/** NTNDArray in one line: size, element type, frame id and codec; never the pixels. */
function formatImage(value: PVStructure): string {
  const img = ntndarray.read(value);
  const dims = img.dims.length ? img.dims.join('x') : `${img.data?.length ?? 0} elements`;
  const codec = img.codec ? ` codec=${img.codec} (${img.compressedSize} bytes)` : '';
  return `${dims} ${img.uncompressedType ?? img.dtype ?? '?'} uniqueId=${img.uniqueId}${codec}`;
}

/** A table cell or label as pvget writes it: CSV-escaped, quoted when it holds `" ,\`. */
function csvCell(s: string): string {
  const e = escape(s, true);
  return /[" ,\\]/.test(s) ? `"${e}"` : e;
}

/**
 * NTTable as pvget prints it: a line of time and alarm (when the table has them), then right-
 * aligned columns headed by the labels (the column names where labels are missing).
 */
function formatTable(type: StructureDesc, value: PVStructure, meta: string | null, limit: number): string | null {
  const vt = type.fields.find((m) => m.name === 'value')?.type;
  if (!vt || vt.kind !== 'structure' || vt.fields.length === 0 || vt.fields.some((m) => m.type.kind !== 'scalarArray')) return null;
  const cols = vt.fields.map((m) => {
    const data = ((value['value'] as PVStructure | undefined)?.[m.name] ?? []) as ArrayLike<unknown>;
    const st = (m.type as { type: ScalarType }).type;
    return Array.from(data, (e) => csvCell(typeof e === 'string' ? e : formatScalar(st, e)));
  });
  const given = Array.isArray(value['labels']) ? (value['labels'] as string[]) : [];
  const labels = vt.fields.map((m, i) => (given[i] === undefined ? m.name : csvCell(given[i] as string)));
  const rows = Math.min(...cols.map((c) => c.length));
  const cut = limit > 0 && rows > limit ? limit : rows;
  // A loop, not Math.max(...cells): a table of a million rows must not overflow the stack.
  const widths = labels.map((l, i) => (cols[i] as string[]).slice(0, cut).reduce((w, c) => Math.max(w, c.length), l.length));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i] as number)).join(' ');
  const out: string[] = [];
  if (meta !== null) out.push(meta);
  out.push(line(labels));
  for (let r = 0; r < cut; r++) out.push(line(cols.map((c) => c[r] as string)));
  if (cut < rows) out.push('...');
  return out.join('\n');
}

// ---- the raw form (pvget -v, -M raw) ---------------------------------------------------------

/**
 * Every field on its own line, `type name value`, nested fields indented by four spaces; a
 * structure line is `id name`, followed for alarm_t, time_t and enum_t by their summary.
 */
export function formatRaw(type: StructureDesc, value: PVStructure, opts: FormatOptions = {}): string {
  const limit = opts.arrayLimit ?? 0;
  const show = opts.show;
  const lines: string[] = [];
  const line = (depth: number, text: string) => lines.push('    '.repeat(depth) + text);

  /** Unions and arrays of structures or unions, as pvData's dumpValue prints them. */
  function field(desc: FieldDesc, name: string, v: unknown, depth: number): void {
    switch (desc.kind) {
      case 'scalar':
      case 'boundedString':
        return void line(depth, `${typeName(desc)} ${name} ${formatScalar(desc.kind === 'scalar' ? desc.type : 'string', v)}`);
      case 'scalarArray':
        return void line(depth, `${typeName(desc)} ${name} ${formatArray(desc.type, (v ?? []) as ArrayLike<unknown>, limit)}`);
      case 'structure':
        return structure(desc, name, (v ?? {}) as PVStructure, depth, -1, true);
      case 'union': {
        line(depth, `${typeName(desc)} ${name}`);
        const u = v as PVUnion | null;
        const member = u && desc.fields.find((m) => m.name === u.field);
        return member ? field(member.type, '', u.value, depth + 1) : void line(depth + 1, '(none)');
      }
      case 'any': {
        line(depth, `any ${name}`);
        const a = v as PVAny | null;
        return a ? field(a.type, '', a.value, depth + 1) : void line(depth + 1, '(none)');
      }
      case 'structureArray':
      case 'unionArray':
      case 'anyArray': {
        const items = (v ?? []) as unknown[];
        line(depth, `${typeName(desc)} ${name}`);
        const shown = limit > 0 && items.length > limit ? limit : items.length;
        for (const e of items.slice(0, shown)) {
          if (e === null) line(depth + 1, '(none)');
          else if (desc.kind === 'structureArray') structure(desc.element, '', e as PVStructure, depth + 1, -1, true);
          else field(desc.kind === 'unionArray' ? desc.element : t_any, '', e, depth + 1);
        }
        if (shown < items.length) line(depth + 1, '...');
        return;
      }
    }
  }

  /** `bit` is the structure's own bit (-1 inside arrays, where numbering does not apply). */
  function structure(desc: StructureDesc, name: string, v: PVStructure, depth: number, bit: number, shown: boolean): void {
    let head = `${desc.id || 'structure'} ${name}`;
    if (desc.id === 'alarm_t') head += ` ${formatAlarm(v)}`;
    else if (desc.id === 'time_t') head += ` ${timeColumn(v)}`;
    else if (desc.id === 'enum_t' && Array.isArray(v['choices'])) head += ` ${formatEnum(v)}`;
    line(depth, head);
    const offs = memberOffsets(desc);
    desc.fields.forEach((m, i) => {
      const mbit = bit < 0 ? -1 : bit + (offs[i] as number);
      const whole = shown || !show || mbit < 0 || show.get(mbit);
      if (!whole && !show.anyInRange(mbit, mbit + fieldCount(m.type))) return;
      if (m.type.kind === 'structure') structure(m.type, m.name, (v[m.name] ?? {}) as PVStructure, depth + 1, mbit, whole);
      else field(m.type, m.name, v[m.name], depth + 1);
    });
  }

  structure(type, '', value, 0, 0, !show || show.get(0));
  return lines.join('\n');
}

const t_any: FieldDesc = { kind: 'any' };

export type OutputMode = 'nt' | 'raw';

/** NT form when the type has one and the mode is 'nt', else the raw form. */
export function formatValue(type: StructureDesc, value: PVStructure, mode: OutputMode | boolean, opts: FormatOptions = {}): string {
  const raw = mode === true || mode === 'raw';
  return (raw ? null : formatNT(type, value, opts)) ?? formatRaw(type, value, opts);
}

// ---- JSON ------------------------------------------------------------------------------------

export { toJSONValue };

/** Names of the top-level fields a changed-BitSet touches (all of them when bit 0 is set). */
export function changedFields(type: StructureDesc, changed: BitSet): string[] {
  const offs = memberOffsets(type);
  return type.fields
    .filter((m, i) => changed.get(0) || changed.anyInRange(offs[i] as number, (offs[i] as number) + fieldCount(m.type)))
    .map((m) => m.name);
}

function isStruct(v: unknown): v is PVStructure {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v);
}

/**
 * The structure as one line of JSON, as `pvget -M json` prints it: 64-bit integers exact,
 * NaN and infinities as JSON5's bare `NaN`/`Infinity`, a union as its member's value, and with
 * `show` only those fields (BitSet numbering) and what contains them.
 */
export function formatJSONLine(type: StructureDesc, value: PVStructure, show?: BitSet): string {
  const num = (v: unknown): string => {
    if (typeof v === 'number') return Number.isFinite(v) ? String(v) : Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity';
    if (typeof v === 'bigint') return v.toString();
    return typeof v === 'boolean' ? String(v) : JSON.stringify(v ?? null);
  };
  function field(desc: FieldDesc, v: unknown, bit: number, whole: boolean): string {
    switch (desc.kind) {
      case 'scalar':
      case 'boundedString':
        return num(v);
      case 'scalarArray':
        return `[${Array.from((v ?? []) as ArrayLike<unknown>, num).join(',')}]`;
      case 'structure': {
        const s = (v ?? {}) as PVStructure;
        const offs = memberOffsets(desc);
        const parts: string[] = [];
        desc.fields.forEach((m, i) => {
          const mbit = bit < 0 ? -1 : bit + (offs[i] as number);
          const all = whole || !show || mbit < 0 || show.get(mbit);
          if (!all && !show.anyInRange(mbit, mbit + fieldCount(m.type))) return;
          parts.push(`${JSON.stringify(m.name)}:${field(m.type, s[m.name], mbit, all)}`);
        });
        return `{${parts.join(',')}}`;
      }
      case 'union': {
        const u = v as PVUnion | null;
        const m = u && desc.fields.find((f) => f.name === u.field);
        return u && m ? field(m.type, u.value, -1, true) : 'null';
      }
      case 'any': {
        const a = v as PVAny | null;
        return a ? field(a.type, a.value, -1, true) : 'null';
      }
      case 'structureArray':
      case 'unionArray':
      case 'anyArray': {
        const el = desc.kind === 'anyArray' ? t_any : desc.element;
        return `[${((v ?? []) as unknown[]).map((e) => (e === null ? 'null' : field(el, e, -1, true))).join(',')}]`;
      }
    }
  }
  return field(type, value, 0, !show || show.get(0));
}
