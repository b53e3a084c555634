// Structures shared by the normative types (pvDataCPP StandardField layouts and type ids), time
// stamps, and the small tolerant accessors every NT reader uses: peers differ in optional fields,
// integer widths and ids, so readers go by field name and coerce.
import { InvalidArgumentError } from '../../errors.js';
import { inferType } from '../infer.js';
import type { FieldDesc, ScalarType, StructureDesc } from '../types.js';
import { t } from '../types.js';
import { completeStructure, type PVAny, type PVStructure, type PVValue } from '../values.js';

export const alarmT = t.struct({ severity: t.int, status: t.int, message: t.string }, 'alarm_t');
export const timeT = t.struct({ secondsPastEpoch: t.long, nanoseconds: t.int, userTag: t.int }, 'time_t');
export const displayT = t.struct(
  { limitLow: t.double, limitHigh: t.double, description: t.string, format: t.string, units: t.string },
  'display_t',
);
export const controlT = t.struct({ limitLow: t.double, limitHigh: t.double, minStep: t.double }, 'control_t');
export const enumT = t.struct({ index: t.int, choices: t.array('string') }, 'enum_t');

const valueAlarmCache = new Map<ScalarType, StructureDesc>();
/**
 * valueAlarm_t for a value of the given type. Limits have the value's type; `hysteresis` is a byte,
 * as pvDataCPP's StandardField builds it and QSRV sends it (PVXS uses double; readers go by name).
 */
export function valueAlarmTypeFor(type: ScalarType): StructureDesc {
  let d = valueAlarmCache.get(type);
  if (d) return d;
  if (type === 'string') throw new InvalidArgumentError('valueAlarm is not defined for string values');
  if (type === 'boolean') {
    d = t.struct({ active: t.boolean, falseSeverity: t.int, trueSeverity: t.int, changeStateSeverity: t.int }, 'valueAlarm_t');
  } else {
    const v = t.scalar(type);
    d = t.struct(
      {
        active: t.boolean,
        lowAlarmLimit: v,
        lowWarningLimit: v,
        highWarningLimit: v,
        highAlarmLimit: v,
        lowAlarmSeverity: t.int,
        lowWarningSeverity: t.int,
        highWarningSeverity: t.int,
        highAlarmSeverity: t.int,
        hysteresis: t.byte,
      },
      'valueAlarm_t',
    );
  }
  valueAlarmCache.set(type, d);
  return d;
}
export const valueAlarmT = valueAlarmTypeFor('double');

export const AlarmSeverity = { NONE: 0, MINOR: 1, MAJOR: 2, INVALID: 3 } as const;

export interface TimeStamp {
  secondsPastEpoch: bigint;
  nanoseconds: number;
  userTag: number;
}
export interface Alarm {
  severity: number;
  status: number;
  message: string;
}
/** A type and a value of it, what servers publish and clients receive. */
export interface Typed {
  type: StructureDesc;
  value: PVStructure;
}

// Wall clock with sub-millisecond resolution: Date.now() anchors process.hrtime; re-anchored when
// they drift apart by more than a millisecond (clock steps, NTP slews).
let anchorNs = BigInt(Date.now()) * 1_000_000n;
let anchorHr = process.hrtime.bigint();

export function timeNow(userTag = 0): TimeStamp {
  let ns = anchorNs + (process.hrtime.bigint() - anchorHr);
  const wallMs = Date.now();
  const diff = Number(ns / 1_000_000n) - wallMs;
  if (diff > 1 || diff < -1) {
    anchorNs = ns = BigInt(wallMs) * 1_000_000n;
    anchorHr = process.hrtime.bigint();
  }
  return { secondsPastEpoch: ns / 1_000_000_000n, nanoseconds: Number(ns % 1_000_000_000n), userTag };
}

export function timeFromDate(d: Date | number, userTag = 0): TimeStamp {
  const ms = typeof d === 'number' ? d : d.getTime();
  const s = Math.floor(ms / 1000);
  return { secondsPastEpoch: BigInt(s), nanoseconds: Math.round((ms - s * 1000) * 1e6), userTag };
}

export function timeToDate(ts: TimeStamp): Date {
  return new Date(Number(ts.secondsPastEpoch) * 1000 + Math.floor(ts.nanoseconds / 1e6));
}

/** Seconds since the POSIX epoch as a double (µs precision), handy for latencies. */
export function timeToSeconds(ts: TimeStamp): number {
  return Number(ts.secondsPastEpoch) + ts.nanoseconds / 1e9;
}

export function alarmOf(severity = 0, status = 0, message = ''): Alarm {
  return { severity, status, message };
}

// ---- tolerant accessors ----------------------------------------------------------------------

export function isStruct(v: unknown): v is PVStructure {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v);
}

export function isPVAny(v: unknown): v is PVAny {
  return isStruct(v) && 'value' in v && isStruct(v['type']) && typeof v['type']['kind'] === 'string';
}

/** The payload of an any / union value (or the value itself). */
export function unwrap(v: unknown): PVValue | undefined {
  if (isPVAny(v)) return v.value;
  if (isStruct(v) && typeof v['field'] === 'string' && 'value' in v && Object.keys(v).length === 2) return v['value'];
  return v as PVValue | undefined;
}

export function num(v: unknown, dflt = 0): number {
  const u = unwrap(v);
  if (typeof u === 'number') return u;
  if (typeof u === 'bigint' || typeof u === 'boolean') return Number(u);
  if (typeof u === 'string' && u.trim() !== '' && !Number.isNaN(Number(u))) return Number(u);
  return dflt;
}

export function str(v: unknown, dflt = ''): string {
  const u = unwrap(v);
  if (typeof u === 'string') return u;
  if (typeof u === 'number' || typeof u === 'bigint' || typeof u === 'boolean') return String(u);
  return dflt;
}

export function readTime(v: unknown): TimeStamp | undefined {
  if (!isStruct(v) || !('secondsPastEpoch' in v)) return undefined;
  const s = v['secondsPastEpoch'];
  return {
    secondsPastEpoch: typeof s === 'bigint' ? s : BigInt(Math.trunc(num(s))),
    nanoseconds: num(v['nanoseconds']),
    userTag: num(v['userTag']),
  };
}

export function readAlarm(v: unknown): Alarm | undefined {
  if (!isStruct(v) || !('severity' in v)) return undefined;
  return { severity: num(v['severity']), status: num(v['status']), message: str(v['message']) };
}

/** A value for an `any` field: kept if already typed, else its type is inferred. */
export function anyOf(v: PVValue | PVAny | undefined): PVAny | null {
  if (v === null || v === undefined) return null;
  return isPVAny(v) ? v : { type: inferType(v), value: v };
}

/** True when `desc` carries the id `epics:nt/<name>:<major>` with any minor version. */
export function ntIs(desc: FieldDesc | null | undefined, name: string, major = 1): boolean {
  if (!desc || desc.kind !== 'structure') return false;
  const base = `epics:nt/${name}:${major}`;
  return desc.id === base || desc.id.startsWith(base + '.');
}

/** A value of `type`, every field not given at its default. */
export function valueOf(type: StructureDesc, init: PVStructure): PVStructure {
  return completeStructure(type, init);
}

/** Optional-field flags → a short cache key. */
export function flagKey(flags: readonly (boolean | undefined)[]): string {
  return flags.map((f) => (f ? '1' : '0')).join('');
}
