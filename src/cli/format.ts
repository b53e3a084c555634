// Printing pvData values the way pvget/pvmonitor do (pvDataCPP printer.cpp): a compact NT form
// ("<time> <value> <alarm>" for NTScalar, "<time> <alarm> [..]" for NTScalarArray, "(i) choice"
// for NTEnum, a table for NTTable), the full structure one field per line (-v), and JSON lines.
import { BitSet } from '../pvdata/bitset.js';
import { fieldCount, memberOffsets } from '../pvdata/field-numbering.js';
import { ntndarray } from '../pvdata/nt/index.js';
import type { FieldDesc, ScalarType, StructureDesc } from '../pvdata/types.js';
import { typeName } from '../pvdata/types.js';
import type { PVAny, PVStructure, PVUnion } from '../pvdata/values.js';

export interface FormatOptions {
  /** Arrays longer than this print their first half-limit elements and a count; 0 = no limit. */
  arrayLimit?: number;
  /** Raw form only: print just these fields (BitSet numbering), with their parents. */
  show?: BitSet;
}

const DEFAULT_ARRAY_LIMIT = 20;
const SEVERITIES = ['', 'MINOR', 'MAJOR', 'INVALID', 'UNDEFINED'];
const STATUSES = ['', 'DEVICE', 'DRIVER', 'RECORD', 'DB', 'CONF', 'UNDEFINED', 'CLIENT'];

// ---- scalars and arrays ----------------------------------------------------------------------

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

/** `YYYY-MM-DD HH:MM:SS.mmm` in local time, like pvget; '<undefined>' for a zero time stamp. */
export function formatTimeStamp(ts: unknown): string {
  const o = isStruct(ts) ? ts : {};
  const sec = Number(o['secondsPastEpoch'] ?? 0);
  const ns = Number(o['nanoseconds'] ?? 0);
  if (!sec && !ns) return '<undefined>';
  const d = new Date(sec * 1000 + Math.floor(ns / 1e6));
  const date = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  return `${date} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(Math.floor(ns / 1e6) % 1000, 3)}`;
}

/** Severity, status and message as pvget prints them; '' when the severity is NO_ALARM. */
export function formatAlarm(alarm: unknown): string {
  if (!isStruct(alarm)) return '';
  const sev = Number(alarm['severity'] ?? 0);
  if (!sev) return '';
  const status = Number(alarm['status'] ?? 0);
  const parts = [SEVERITIES[sev] ?? String(sev)];
  if (status) parts.push(STATUSES[status] ?? String(status));
  if (alarm['message']) parts.push(String(alarm['message']));
  return parts.join(' ');
}

/** Shortest text that reads back as the same float32 (0.1f prints as 0.1, not 0.100000001). */
function formatFloat32(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  for (let p = 1; p <= 9; p++) {
    const s = String(Number(v.toPrecision(p)));
    if (Math.fround(Number(s)) === v) return s;
  }
  return String(v);
}

/** Quote strings that would be ambiguous in a list (spaces, quotes, control characters). */
function maybeQuote(s: string): string {
  return /^[^\s"'\\\x00-\x1f\x7f,[\]]+$/.test(s) ? s : JSON.stringify(s);
}

export function formatScalar(type: ScalarType | undefined, v: unknown): string {
  if (typeof v === 'number' && type === 'float') return formatFloat32(v);
  if (typeof v === 'string') return v;
  return String(v);
}

export function formatArray(type: ScalarType | undefined, a: ArrayLike<unknown>, limit = DEFAULT_ARRAY_LIMIT): string {
  const n = a.length;
  const shown = limit > 0 && n > limit ? Math.max(1, limit >> 1) : n;
  const items: string[] = [];
  for (let i = 0; i < shown; i++) {
    const e = a[i];
    items.push(typeof e === 'string' ? maybeQuote(e) : formatScalar(type, e));
  }
  return shown < n ? `[${items.join(',')},...] (${n} elements)` : `[${items.join(',')}]`;
}

// ---- the compact NT form ---------------------------------------------------------------------

/**
 * The NT form of a structure (one or more lines), or null when the type is not one the NT
 * printer knows (the caller then prints the raw form, as pvget does).
 */
export function formatNT(type: StructureDesc, value: PVStructure, opts: FormatOptions = {}): string | null {
  const limit = opts.arrayLimit ?? DEFAULT_ARRAY_LIMIT;
  const has = (name: string) => type.fields.find((m) => m.name === name)?.type;
  const ts = has('timeStamp') ? formatTimeStamp(value['timeStamp']) : '';
  const alarm = has('alarm') ? formatAlarm(value['alarm']) : '';
  const join = (...parts: string[]) => parts.filter((p) => p !== '').join(' ');
  if (type.id.startsWith('epics:nt/NTTable:1')) return formatTable(type, value, join(ts, alarm), limit);
  if (ntndarray.is(type)) return join(ts, alarm, formatImage(value));
  const vt = has('value');
  if (!vt) return null;
  const v = value['value'];
  if (vt.kind === 'scalar' || vt.kind === 'boundedString') {
    return join(ts, formatScalar(vt.kind === 'scalar' ? vt.type : 'string', v), alarm);
  }
  if (vt.kind === 'scalarArray') return join(ts, alarm, formatArray(vt.type, v as ArrayLike<unknown>, limit));
  if (vt.kind === 'structure' && isStruct(v) && 'index' in v && Array.isArray(v['choices'])) {
    return join(ts, alarm, formatEnum(v));
  }
  return null;
}

function formatEnum(e: PVStructure): string {
  const index = Number(e['index']);
  const choices = e['choices'] as string[];
  const choice = choices[index];
  return `(${index}) ${choice === undefined ? '<undefined>' : maybeQuote(choice)}`;
}

/** NTNDArray in one line: size, element type, frame id and codec; never the pixels. */
function formatImage(value: PVStructure): string {
  const img = ntndarray.read(value);
  const dims = img.dims.length ? img.dims.join('x') : `${img.data?.length ?? 0} elements`;
  const codec = img.codec ? ` codec=${img.codec} (${img.compressedSize} bytes)` : '';
  return `${dims} ${img.uncompressedType ?? img.dtype ?? '?'} uniqueId=${img.uniqueId}${codec}`;
}

/** NTTable: time, alarm and row count, then right-aligned columns headed by the labels. */
function formatTable(type: StructureDesc, value: PVStructure, meta: string, limit: number): string | null {
  const vt = type.fields.find((m) => m.name === 'value')?.type;
  if (!vt || vt.kind !== 'structure' || vt.fields.some((m) => m.type.kind !== 'scalarArray')) return null;
  const cols = vt.fields.map((m) => {
    const data = Array.from(((value['value'] as PVStructure | undefined)?.[m.name] ?? []) as ArrayLike<unknown>);
    const st = (m.type as { type: ScalarType }).type;
    return data.map((e) => (typeof e === 'string' ? maybeQuote(e) : formatScalar(st, e)));
  });
  const given = Array.isArray(value['labels']) ? (value['labels'] as string[]) : [];
  const labels = vt.fields.map((m, i) => given[i] ?? m.name);
  let rows = Math.min(...cols.map((c) => c.length));
  if (!Number.isFinite(rows)) rows = 0;
  const cut = limit > 0 && rows > limit ? limit : rows;
  const widths = labels.map((l, i) => Math.max(l.length, ...(cols[i] as string[]).slice(0, cut).map((s) => s.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i] as number)).join(' ');
  // The table starts on its own line; the PV's line keeps the time, alarm and size.
  const out = [[meta, `(${rows} rows)`].filter((p) => p).join(' ')];
  out.push(line(labels));
  for (let r = 0; r < cut; r++) out.push(line(cols.map((c) => c[r] as string)));
  if (cut < rows) out.push(`... (${rows} rows)`);
  return out.join('\n');
}

// ---- the raw form (pvget -v) -----------------------------------------------------------------

/** Every field on its own line, `type name value`, nested fields indented by four spaces. */
export function formatRaw(type: StructureDesc, value: PVStructure, opts: FormatOptions = {}): string {
  const limit = opts.arrayLimit ?? DEFAULT_ARRAY_LIMIT;
  const show = opts.show;
  const lines: string[] = [type.id || 'structure'];
  const line = (depth: number, ...parts: string[]) => lines.push('    '.repeat(depth) + parts.filter((p) => p !== '').join(' '));

  function field(desc: FieldDesc, name: string, v: unknown, depth: number): void {
    switch (desc.kind) {
      case 'scalar':
      case 'boundedString':
        return void line(depth, typeName(desc), name, formatScalar(desc.kind === 'scalar' ? desc.type : 'string', v));
      case 'scalarArray':
        return void line(depth, typeName(desc), name, formatArray(desc.type, (v ?? []) as ArrayLike<unknown>, limit));
      case 'structure':
        return structure(desc, name, (v ?? {}) as PVStructure, depth, -1, true);
      case 'union': {
        line(depth, typeName(desc), name);
        const u = v as PVUnion | null;
        if (!u) return void line(depth + 1, '(none)');
        const member = desc.fields.find((m) => m.name === u.field);
        return member ? field(member.type, member.name, u.value, depth + 1) : void line(depth + 1, `(unknown member ${u.field})`);
      }
      case 'any': {
        line(depth, 'any', name);
        const a = v as PVAny | null;
        return a ? field(a.type, '', a.value, depth + 1) : void line(depth + 1, '(none)');
      }
      case 'structureArray':
      case 'unionArray':
      case 'anyArray': {
        const items = (v ?? []) as unknown[];
        line(depth, typeName(desc), name);
        const shown = limit > 0 && items.length > limit ? limit >> 1 : items.length;
        for (const e of items.slice(0, shown)) {
          if (e === null) line(depth + 1, '(null)');
          else if (desc.kind === 'structureArray') structure(desc.element, '', e as PVStructure, depth + 1, -1, true);
          else if (desc.kind === 'unionArray') field(desc.element, '', e, depth + 1);
          else field(t_any, '', e, depth + 1);
        }
        if (shown < items.length) line(depth + 1, `... (${items.length} elements)`);
        return;
      }
    }
  }

  /** `bit` is the structure's own bit (-1 inside arrays, where numbering does not apply). */
  function structure(desc: StructureDesc, name: string, v: PVStructure, depth: number, bit: number, shown: boolean): void {
    if (depth > 0) {
      const extra = desc.id === 'time_t' ? formatTimeStamp(v) : desc.id === 'alarm_t' ? formatAlarm(v) : '';
      line(depth, desc.id || 'structure', name, extra);
    }
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

/** NT form when the type has one (unless `verbose`), else the raw form. */
export function formatValue(type: StructureDesc, value: PVStructure, verbose: boolean, opts: FormatOptions = {}): string {
  return (verbose ? null : formatNT(type, value, opts)) ?? formatRaw(type, value, opts);
}

// ---- JSON ------------------------------------------------------------------------------------

/**
 * A JSON-safe copy: 64-bit integers become numbers when exact, else strings; typed arrays
 * become arrays; a union becomes `{ member: value }`; non-finite numbers become strings.
 */
export function toJSONValue(desc: FieldDesc, v: unknown): unknown {
  switch (desc.kind) {
    case 'scalar':
    case 'boundedString':
      return jsonScalar(v);
    case 'scalarArray':
      return Array.from((v ?? []) as ArrayLike<unknown>, jsonScalar);
    case 'structure': {
      const o: Record<string, unknown> = {};
      const s = (v ?? {}) as PVStructure;
      for (const m of desc.fields) if (m.name in s) o[m.name] = toJSONValue(m.type, s[m.name]);
      return o;
    }
    case 'union': {
      const u = v as PVUnion | null;
      const m = u && desc.fields.find((f) => f.name === u.field);
      return u && m ? { [u.field]: toJSONValue(m.type, u.value) } : null;
    }
    case 'any': {
      const a = v as PVAny | null;
      return a ? toJSONValue(a.type, a.value) : null;
    }
    case 'structureArray':
      return ((v ?? []) as (PVStructure | null)[]).map((e) => (e === null ? null : toJSONValue(desc.element, e)));
    case 'unionArray':
      return ((v ?? []) as (PVUnion | null)[]).map((e) => toJSONValue(desc.element, e));
    case 'anyArray':
      return ((v ?? []) as (PVAny | null)[]).map((e) => toJSONValue(t_any, e));
  }
}

function jsonScalar(v: unknown): unknown {
  if (typeof v === 'bigint') return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  return v;
}

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

