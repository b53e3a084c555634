// pvAccess values as PV Web Socket "update" messages, as ornl-epics/pvws sends them: the vtype and
// metadata (units, precision, limits, enum labels) with the first value, then only what changed;
// numeric arrays packed little-endian in base64 (b64dbl, b64flt, b64int, b64srt, b64byt). Values
// without a PVWS vtype (the status structures of consumers, collectors and simulators) go as our
// extension "VStructure": the whole structure as JSON first, then only the leaves that changed.
import { isStruct, readAlarm, readTime } from '../pvdata/nt/common.js';
import { toJSONValue } from '../pvdata/json-value.js';
import type { FieldDesc, ScalarType, StructureDesc } from '../pvdata/types.js';
import type { PVStructure, PVTypedArray } from '../pvdata/values.js';

export type UpdateMessage = Record<string, unknown> & { type: 'update'; pv: string };

const SEVERITY = ['NONE', 'MINOR', 'MAJOR', 'INVALID'];

export function severityName(s: number): string {
  return SEVERITY[s] ?? 'UNDEFINED';
}

/** How a PV's type is sent. */
export type ValueKind = 'scalar' | 'string' | 'boolean' | 'enum' | 'array' | 'stringArray' | 'structure';

const SCALAR_VTYPE: Partial<Record<ScalarType, string>> = {
  double: 'VDouble',
  float: 'VFloat',
  long: 'VLong',
  ulong: 'VULong',
  int: 'VInt',
  uint: 'VUInt',
  short: 'VShort',
  ushort: 'VUShort',
  byte: 'VByte',
  ubyte: 'VUByte',
};

/** Array vtype and the PVWS field its bytes travel in (ushort and uint widen so they stay exact). */
const ARRAY_PACKING: Partial<Record<ScalarType, [string, string]>> = {
  double: ['VDoubleArray', 'b64dbl'],
  float: ['VFloatArray', 'b64flt'],
  long: ['VLongArray', 'b64dbl'],
  ulong: ['VULongArray', 'b64dbl'],
  int: ['VIntArray', 'b64int'],
  uint: ['VUIntArray', 'b64dbl'],
  short: ['VShortArray', 'b64srt'],
  ushort: ['VUShortArray', 'b64int'],
  byte: ['VByteArray', 'b64byt'],
  ubyte: ['VUByteArray', 'b64byt'],
};

/** The vtype and kind of a PV whose top-level type is `type` (NTNDArray is decided elsewhere). */
export function classify(type: StructureDesc): { kind: ValueKind; vtype: string } {
  const v = type.fields.find((m) => m.name === 'value')?.type;
  if (!v) return { kind: 'structure', vtype: 'VStructure' };
  if (v.kind === 'scalar') {
    if (v.type === 'string') return { kind: 'string', vtype: 'VString' };
    if (v.type === 'boolean') return { kind: 'boolean', vtype: 'VBoolean' };
    return { kind: 'scalar', vtype: SCALAR_VTYPE[v.type] as string };
  }
  if (v.kind === 'boundedString') return { kind: 'string', vtype: 'VString' };
  if (v.kind === 'scalarArray') {
    if (v.type === 'string') return { kind: 'stringArray', vtype: 'VStringArray' };
    if (v.type === 'boolean') return { kind: 'stringArray', vtype: 'VBooleanArray' };
    return { kind: 'array', vtype: (ARRAY_PACKING[v.type] as [string, string])[0] };
  }
  if (isEnumType(v)) return { kind: 'enum', vtype: 'VEnum' };
  return { kind: 'structure', vtype: 'VStructure' };
}

function isEnumType(d: FieldDesc): boolean {
  if (d.kind !== 'structure') return false;
  const idx = d.fields.find((m) => m.name === 'index')?.type;
  const ch = d.fields.find((m) => m.name === 'choices')?.type;
  return idx?.kind === 'scalar' && ch?.kind === 'scalarArray' && ch.type === 'string';
}

/** `data` as base64 of little-endian elements of the PVWS packing for its type. */
export function packArray(field: string, data: PVTypedArray): string {
  let out: ArrayBufferView;
  if (field === 'b64dbl') out = data instanceof Float64Array ? data : Float64Array.from(data as ArrayLike<number>, Number);
  else if (field === 'b64int') out = data instanceof Int32Array ? data : Int32Array.from(data as ArrayLike<number>, Number);
  else out = data;
  return Buffer.from(out.buffer, out.byteOffset, out.byteLength).toString('base64');
}

/** Display metadata in PVWS names, from NTScalar's display, control and valueAlarm. */
function metadataOf(value: PVStructure): Record<string, unknown> {
  const m: Record<string, unknown> = {};
  const d = value['display'];
  if (isStruct(d)) {
    if (typeof d['units'] === 'string') m['units'] = d['units'];
    if (typeof d['description'] === 'string') m['description'] = d['description'];
    if (typeof d['precision'] === 'number') m['precision'] = d['precision'];
    else if (typeof d['format'] === 'string') {
      // NTScalar's display.format is printf-like ("%.3f"); PVXS adds a precision field instead.
      const p = /%[-+ #0]*\d*\.(\d+)[fFeEgG]/.exec(d['format']);
      if (p) m['precision'] = Number(p[1]);
    }
    if (typeof d['limitLow'] === 'number' && typeof d['limitHigh'] === 'number' && d['limitLow'] < d['limitHigh']) {
      m['min'] = d['limitLow'];
      m['max'] = d['limitHigh'];
    }
  }
  const a = value['valueAlarm'];
  if (isStruct(a)) {
    const lim = (k: string) => (typeof a[k] === 'number' || typeof a[k] === 'bigint' ? Number(a[k]) : undefined);
    const [lw, hw, la, ha] = [lim('lowWarningLimit'), lim('highWarningLimit'), lim('lowAlarmLimit'), lim('highAlarmLimit')];
    if (lw !== undefined && hw !== undefined && lw < hw) Object.assign(m, { warn_low: lw, warn_high: hw });
    if (la !== undefined && ha !== undefined && la < ha) Object.assign(m, { alarm_low: la, alarm_high: ha });
  }
  return m;
}

function jsonNumber(v: unknown): number | string {
  const n = typeof v === 'bigint' ? Number(v) : (v as number);
  return Number.isFinite(n) ? n : 'NaN';
}

/**
 * The leaves of `next` that differ from `prev`, nested as in `next` (arrays compare whole);
 * undefined when nothing changed.
 */
export function changedLeaves(prev: unknown, next: unknown): unknown {
  if (isPlain(prev) && isPlain(next)) {
    const out: Record<string, unknown> = {};
    let any = false;
    for (const [k, v] of Object.entries(next)) {
      const c = changedLeaves(prev[k], v);
      if (c !== undefined) {
        out[k] = c;
        any = true;
      }
    }
    return any ? out : undefined;
  }
  if (Array.isArray(prev) && Array.isArray(next) && prev.length === next.length && prev.every((e, i) => sameJSON(e, next[i]))) {
    return undefined;
  }
  return sameJSON(prev, next) ? undefined : next;
}

function isPlain(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function sameJSON(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  return JSON.stringify(a) === JSON.stringify(b);
}

/** What one client was last sent for one PV, so the next update carries only the changes. */
export class PvwsEncoder {
  readonly pv: string;
  #type: StructureDesc | null = null;
  #meta = '';
  #severity = -1;
  #readonly: boolean | null = null;
  #struct: unknown = undefined;
  #labels = '';

  constructor(pv: string) {
    this.pv = pv;
  }

  /** Forget what was sent: the next update carries the metadata again (after a reconnect). */
  reset(): void {
    this.#type = null;
    this.#meta = '';
    this.#severity = -1;
    this.#struct = undefined;
  }

  /** The update message for a value; null when a structure PV has no change to send. */
  encode(type: StructureDesc, value: PVStructure, readonly: boolean): UpdateMessage | null {
    const first = this.#type !== type;
    if (first) this.reset();
    this.#type = type;
    const msg: UpdateMessage = { type: 'update', pv: this.pv };
    const { kind, vtype } = classify(type);
    if (first) {
      msg['vtype'] = vtype;
      // Ours: lets a client clear the `connected: false` a lost PV was reported with.
      msg['connected'] = true;
    }
    if (this.#readonly !== readonly) msg['readonly'] = readonly;
    this.#readonly = readonly;
    if (kind === 'structure') {
      const json = toJSONValue(type, value);
      const body = first ? json : changedLeaves(this.#struct, json);
      this.#struct = json;
      if (body === undefined && msg['readonly'] === undefined) return null;
      if (body !== undefined) msg['value'] = body;
      return msg;
    }
    const meta = metadataOf(value);
    const metaKey = JSON.stringify(meta);
    if (metaKey !== this.#meta) Object.assign(msg, meta);
    this.#meta = metaKey;
    const alarm = readAlarm(value['alarm']);
    const sev = alarm ? alarm.severity : 0;
    if (sev !== this.#severity) msg['severity'] = severityName(sev);
    this.#severity = sev;
    const v = value['value'];
    switch (kind) {
      case 'scalar':
        msg['value'] = jsonNumber(v);
        break;
      case 'boolean':
        msg['value'] = v ? 1 : 0;
        msg['text'] = v ? 'true' : 'false';
        break;
      case 'string':
        msg['text'] = String(v ?? '');
        break;
      case 'enum': {
        const e = (v ?? {}) as PVStructure;
        const choices = Array.from((e['choices'] ?? []) as ArrayLike<string>);
        const labels = JSON.stringify(choices);
        if (first || labels !== this.#labels) msg['labels'] = choices;
        this.#labels = labels;
        const index = Number(e['index'] ?? 0);
        msg['value'] = index;
        msg['text'] = choices[index] ?? String(index);
        break;
      }
      case 'array': {
        const el = (type.fields.find((m) => m.name === 'value')?.type as { type: ScalarType }).type;
        const field = (ARRAY_PACKING[el] as [string, string])[1];
        msg[field] = packArray(field, v as PVTypedArray);
        break;
      }
      case 'stringArray':
        msg['value'] = Array.from((v ?? []) as ArrayLike<unknown>, (e) => (typeof e === 'boolean' ? e : String(e)));
        break;
    }
    const ts = readTime(value['timeStamp']);
    if (ts) {
      msg['seconds'] = Number(ts.secondsPastEpoch);
      msg['nanos'] = ts.nanoseconds;
    }
    return msg;
  }
}
