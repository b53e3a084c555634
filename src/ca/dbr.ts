// DBR types: the value layouts of Channel Access. A DBR code is a base type (STRING, SHORT,
// FLOAT, ENUM, CHAR, LONG, DOUBLE) and a class of metadata before the values (none, STS: alarm,
// TIME: alarm + time stamp, GR: alarm + units/precision/display and alarm limits, CTRL: GR +
// control limits; GR/CTRL of an ENUM carry the state strings instead). All big-endian; the
// metadata keeps the C structures' alignment padding, and a payload is padded to 8 bytes.
import { DecodeError, EncodeError } from '../errors.js';
import {
  DbrBase,
  DbrClass,
  LAST_DBR,
  MAX_ENUM_STATES,
  MAX_ENUM_STRING_SIZE,
  MAX_STRING_SIZE,
  MAX_UNITS_SIZE,
  dbrName,
  type DbrBaseType,
  type DbrClassType,
} from './constants.js';
import { HOST_LE } from '../pvdata/wire.js';
import { pad8 } from './header.js';

/** Bytes per element of each base type. */
export const VALUE_SIZE: readonly number[] = [MAX_STRING_SIZE, 2, 4, 2, 1, 4, 8];

/** Bytes of metadata before the first element, by class then base type (C struct offsets). */
const META_SIZE: readonly (readonly number[])[] = [
  [0, 0, 0, 0, 0, 0, 0], // plain
  [4, 4, 4, 4, 5, 4, 8], // STS: status, severity (+ RISC padding for char and double)
  [12, 14, 12, 14, 15, 12, 16], // TIME: + secPastEpoch, nsec
  [4, 24, 40, 422, 19, 36, 64], // GR (GR_STRING is STS_STRING)
  [4, 28, 48, 422, 21, 44, 80], // CTRL
];

export interface DbrLayout {
  code: number;
  base: DbrBaseType;
  cls: DbrClassType;
  metaSize: number;
  valueSize: number;
}

export function dbrLayout(code: number): DbrLayout {
  if (!Number.isInteger(code) || code < 0 || code > LAST_DBR) throw new DecodeError(`unsupported DBR type ${code}`);
  const base = (code % 7) as DbrBaseType;
  const cls = Math.floor(code / 7) as DbrClassType;
  return { code, base, cls, metaSize: (META_SIZE[cls] as number[])[base] as number, valueSize: VALUE_SIZE[base] as number };
}

/** Payload bytes of `count` elements of type `code`, before padding to 8. */
export function dbrSize(code: number, count: number): number {
  const l = dbrLayout(code);
  return l.metaSize + count * l.valueSize;
}

/** Values of a base type: strings for STRING, else the TypedArray of the C type. */
export type DbrValues = string[] | Int16Array | Float32Array | Uint16Array | Uint8Array | Int32Array | Float64Array;

/** Display, alarm, warning and control limits (GR/CTRL), in the value's units. */
export interface DbrLimits {
  upperDisp: number;
  lowerDisp: number;
  upperAlarm: number;
  upperWarning: number;
  lowerWarning: number;
  lowerAlarm: number;
  upperCtrl: number;
  lowerCtrl: number;
}

/** Metadata of a DBR value; what a class does not carry stays undefined. */
export interface DbrMeta {
  status?: number;
  severity?: number;
  /** Seconds since the EPICS epoch (1990) and nanoseconds. */
  stamp?: { secPastEpoch: number; nsec: number };
  units?: string;
  /** Decimal places (FLOAT and DOUBLE only). */
  precision?: number;
  limits?: Partial<DbrLimits>;
  /** Enum state strings (GR/CTRL of ENUM). */
  strs?: string[];
}

export interface DbrData {
  type: number;
  value: DbrValues;
  meta: DbrMeta;
}

const LIMIT_ORDER = [
  'upperDisp',
  'lowerDisp',
  'upperAlarm',
  'upperWarning',
  'lowerWarning',
  'lowerAlarm',
  'upperCtrl',
  'lowerCtrl',
] as const;

const utf8 = new TextDecoder('utf-8');
const utf8enc = new TextEncoder();

/** A NUL-terminated string in a fixed field. */
function readFixedString(bytes: Uint8Array, at: number, size: number): string {
  const field = bytes.subarray(at, Math.min(bytes.length, at + size));
  const nul = field.indexOf(0);
  return utf8.decode(nul < 0 ? field : field.subarray(0, nul));
}

/** Writes `s` into a fixed field, cut (on a character boundary) to leave room for the NUL. */
export function writeFixedString(bytes: Uint8Array, at: number, size: number, s: string): void {
  let enc = utf8enc.encode(s);
  if (enc.length > size - 1) {
    let cut = size - 1;
    while (cut > 0 && ((enc[cut] as number) & 0xc0) === 0x80) cut--; // do not split a UTF-8 sequence
    enc = enc.subarray(0, cut);
  }
  bytes.set(enc, at);
}

function getNum(dv: DataView, at: number, base: DbrBaseType): number {
  switch (base) {
    case DbrBase.SHORT:
      return dv.getInt16(at);
    case DbrBase.FLOAT:
      return dv.getFloat32(at);
    case DbrBase.ENUM:
      return dv.getUint16(at);
    case DbrBase.CHAR:
      return dv.getUint8(at);
    case DbrBase.LONG:
      return dv.getInt32(at);
    default:
      return dv.getFloat64(at);
  }
}

function setNum(dv: DataView, at: number, base: DbrBaseType, v: number): void {
  const n = Number.isFinite(v) ? v : base === DbrBase.FLOAT || base === DbrBase.DOUBLE ? v : 0;
  switch (base) {
    case DbrBase.SHORT:
      return dv.setInt16(at, Math.trunc(n));
    case DbrBase.FLOAT:
      return dv.setFloat32(at, n);
    case DbrBase.ENUM:
      return dv.setUint16(at, Math.trunc(n));
    case DbrBase.CHAR:
      return dv.setUint8(at, Math.trunc(n));
    case DbrBase.LONG:
      return dv.setInt32(at, Math.trunc(n));
    default:
      return dv.setFloat64(at, n);
  }
}

const ARRAY_OF = [null, Int16Array, Float32Array, Uint16Array, Uint8Array, Int32Array, Float64Array] as const;

/** `n` zero elements of the base type's JavaScript form (empty strings for STRING). */
export function allocValues(base: DbrBaseType, n: number): DbrValues {
  const C = ARRAY_OF[base];
  return C ? new C(n) : new Array<string>(n).fill('');
}

/**
 * Decodes `count` elements of DBR type `code` from `payload`. A payload shorter than the type
 * and count require is an error (nothing is allocated beyond what the payload holds).
 */
export function decodeDbr(code: number, count: number, payload: Uint8Array): DbrData {
  const l = dbrLayout(code);
  // Clients send a single string (or the last of several) cut after its NUL: accept that.
  const need = l.base === DbrBase.STRING && count > 0 ? l.metaSize + (count - 1) * l.valueSize + 1 : l.metaSize + count * l.valueSize;
  if (!Number.isSafeInteger(need) || payload.length < need) {
    throw new DecodeError(`${dbrName(code)} × ${count} needs ${need} bytes; the payload has ${payload.length}`);
  }
  const dv = new DataView(payload.buffer, payload.byteOffset, payload.length);
  const meta: DbrMeta = {};
  if (l.cls !== DbrClass.PLAIN) {
    meta.status = dv.getInt16(0);
    meta.severity = dv.getInt16(2);
  }
  if (l.cls === DbrClass.TIME) meta.stamp = { secPastEpoch: dv.getUint32(4), nsec: dv.getUint32(8) };
  if ((l.cls === DbrClass.GR || l.cls === DbrClass.CTRL) && l.base !== DbrBase.STRING) decodeGraphic(payload, dv, l, meta);
  return { type: code, value: decodeValues(payload, l.metaSize, count, l.base), meta };
}

function decodeGraphic(payload: Uint8Array, dv: DataView, l: DbrLayout, meta: DbrMeta): void {
  if (l.base === DbrBase.ENUM) {
    const n = Math.max(0, Math.min(MAX_ENUM_STATES, dv.getInt16(4)));
    meta.strs = [];
    for (let i = 0; i < n; i++) meta.strs.push(readFixedString(payload, 6 + i * MAX_ENUM_STRING_SIZE, MAX_ENUM_STRING_SIZE));
    return;
  }
  // FLOAT and DOUBLE carry precision and a pad before the units.
  let at = 4;
  if (l.base === DbrBase.FLOAT || l.base === DbrBase.DOUBLE) {
    meta.precision = dv.getInt16(4);
    at = 8;
  }
  meta.units = readFixedString(payload, at, MAX_UNITS_SIZE);
  at += MAX_UNITS_SIZE;
  const n = l.cls === DbrClass.CTRL ? 8 : 6;
  const limits: Partial<DbrLimits> = {};
  for (let i = 0; i < n; i++) limits[LIMIT_ORDER[i] as keyof DbrLimits] = getNum(dv, at + i * l.valueSize, l.base);
  meta.limits = limits;
}

function decodeValues(payload: Uint8Array, at: number, count: number, base: DbrBaseType): DbrValues {
  if (base === DbrBase.STRING) {
    const out: string[] = new Array<string>(count);
    for (let i = 0; i < count; i++) out[i] = readFixedString(payload, at + i * MAX_STRING_SIZE, MAX_STRING_SIZE);
    return out;
  }
  const C = ARRAY_OF[base] as NonNullable<(typeof ARRAY_OF)[number]>;
  const size = VALUE_SIZE[base] as number;
  // A copy of our own (aligned, and not a view of a pooled socket buffer), swapped in place.
  const bytes = new Uint8Array(count * size);
  bytes.set(payload.subarray(at, at + count * size));
  if (size > 1 && HOST_LE) {
    const b = Buffer.from(bytes.buffer, 0, bytes.length);
    if (size === 2) b.swap16();
    else if (size === 4) b.swap32();
    else b.swap64();
  }
  return new C(bytes.buffer, 0, count);
}

/**
 * Encodes values (already of the base type's kind: numbers, or strings for STRING) and metadata
 * as DBR type `code`, padded to 8 bytes. Missing metadata is zero.
 */
export function encodeDbr(code: number, values: ArrayLike<number> | readonly string[], meta: DbrMeta = {}): Uint8Array {
  const l = dbrLayout(code);
  const count = values.length;
  const out = new Uint8Array(pad8(l.metaSize + count * l.valueSize));
  const dv = new DataView(out.buffer);
  if (l.cls !== DbrClass.PLAIN) {
    dv.setInt16(0, meta.status ?? 0);
    dv.setInt16(2, meta.severity ?? 0);
  }
  if (l.cls === DbrClass.TIME) {
    dv.setUint32(4, meta.stamp?.secPastEpoch ?? 0);
    dv.setUint32(8, meta.stamp?.nsec ?? 0);
  }
  if ((l.cls === DbrClass.GR || l.cls === DbrClass.CTRL) && l.base !== DbrBase.STRING) encodeGraphic(out, dv, l, meta);
  const at = l.metaSize;
  if (l.base === DbrBase.STRING) {
    for (let i = 0; i < count; i++) {
      const s = values[i];
      if (typeof s !== 'string') throw new EncodeError(`${dbrName(code)} needs strings, got ${typeof s}`);
      writeFixedString(out, at + i * MAX_STRING_SIZE, MAX_STRING_SIZE, s);
    }
    return out;
  }
  const C = ARRAY_OF[l.base];
  if (C && values instanceof C) {
    // Same C type: copy the bytes and swap them to big-endian in one go.
    const n = count * l.valueSize;
    out.set(new Uint8Array(values.buffer, values.byteOffset, n), at);
    if (l.valueSize > 1 && HOST_LE) {
      const b = Buffer.from(out.buffer, at, n);
      if (l.valueSize === 2) b.swap16();
      else if (l.valueSize === 4) b.swap32();
      else b.swap64();
    }
    return out;
  }
  for (let i = 0; i < count; i++) {
    const v = values[i];
    if (typeof v !== 'number') throw new EncodeError(`${dbrName(code)} needs numbers, got ${typeof v}`);
    setNum(dv, at + i * l.valueSize, l.base, v);
  }
  return out;
}

function encodeGraphic(out: Uint8Array, dv: DataView, l: DbrLayout, meta: DbrMeta): void {
  if (l.base === DbrBase.ENUM) {
    const strs = (meta.strs ?? []).slice(0, MAX_ENUM_STATES);
    dv.setInt16(4, strs.length);
    strs.forEach((s, i) => writeFixedString(out, 6 + i * MAX_ENUM_STRING_SIZE, MAX_ENUM_STRING_SIZE, s));
    return;
  }
  let at = 4;
  if (l.base === DbrBase.FLOAT || l.base === DbrBase.DOUBLE) {
    dv.setInt16(4, meta.precision ?? 0);
    at = 8;
  }
  writeFixedString(out, at, MAX_UNITS_SIZE, meta.units ?? '');
  at += MAX_UNITS_SIZE;
  const n = l.cls === DbrClass.CTRL ? 8 : 6;
  for (let i = 0; i < n; i++) setNum(dv, at + i * l.valueSize, l.base, meta.limits?.[LIMIT_ORDER[i] as keyof DbrLimits] ?? 0);
}
