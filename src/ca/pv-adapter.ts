// How a PV (Source) looks through Channel Access: its native DBR type and count (from the type of
// its `value` field), its values and metadata encoded as whatever DBR type a client asks for,
// and a CA write turned back into a value of the PV's type.
import { BitSet } from '../pvdata/bitset.js';
import { bitOf } from '../pvdata/field-numbering.js';
import type { ScalarType, StructureDesc } from '../pvdata/types.js';
import { TYPED_ARRAY, type PVStructure, type PVValue } from '../pvdata/values.js';
import { DbrBase, DbrClass, EPICS_EPOCH_OFFSET, type DbrBaseType } from './constants.js';
import { caStatusOf, elementNumber, elementText, elementsOf, toBase, type Element } from './convert.js';
import { dbrLayout, encodeDbr, type DbrData, type DbrLimits, type DbrMeta } from './dbr.js';

/** The CA view of a PV type; null when its `value` is not a scalar, array or enum. */
export interface CaView {
  base: DbrBaseType;
  array: boolean;
  /** pvData type of `value`, or 'enum' for enum_t { index, choices }. */
  valueType: ScalarType | 'enum';
}

// Lossless where CA has a type wide enough: CA has no signed char, unsigned short or 64-bit
// integers. A boolean scalar is an enum with the states false and true.
const BASE_OF: Record<ScalarType, DbrBaseType> = {
  boolean: DbrBase.CHAR,
  byte: DbrBase.SHORT,
  ubyte: DbrBase.CHAR,
  short: DbrBase.SHORT,
  ushort: DbrBase.LONG,
  int: DbrBase.LONG,
  uint: DbrBase.DOUBLE,
  long: DbrBase.DOUBLE,
  ulong: DbrBase.DOUBLE,
  float: DbrBase.FLOAT,
  double: DbrBase.DOUBLE,
  string: DbrBase.STRING,
};
const BOOL_LABELS = ['false', 'true'];

export function caViewOf(type: StructureDesc): CaView | null {
  const v = type.fields.find((m) => m.name === 'value')?.type;
  if (!v) return null;
  if (v.kind === 'scalar') return { base: v.type === 'boolean' ? DbrBase.ENUM : BASE_OF[v.type], array: false, valueType: v.type };
  if (v.kind === 'boundedString') return { base: DbrBase.STRING, array: false, valueType: 'string' };
  if (v.kind === 'scalarArray') return { base: BASE_OF[v.type], array: true, valueType: v.type };
  if (v.kind === 'structure' && v.fields.some((m) => m.name === 'index') && v.fields.some((m) => m.name === 'choices')) {
    return { base: DbrBase.ENUM, array: false, valueType: 'enum' };
  }
  return null;
}

/**
 * Native element count: 1 for scalars; for arrays the current length but at least 2, so that
 * clients see an array even while it is empty (CA clients take a count of 1 for a scalar).
 */
export function nativeCount(view: CaView, value: PVStructure | null): number {
  if (!view.array) return 1;
  return Math.max(2, elementsOf(value?.['value']).length);
}

function obj(v: unknown): PVStructure | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v) ? (v as PVStructure) : undefined;
}

function labelsOf(view: CaView, value: PVStructure): string[] | undefined {
  if (view.valueType === 'boolean') return BOOL_LABELS;
  if (view.valueType !== 'enum') return undefined;
  const c = obj(value['value'])?.['choices'];
  return Array.isArray(c) ? c.map(String) : [];
}

function elementsOfValue(view: CaView, value: PVStructure): ArrayLike<Element> {
  if (view.valueType === 'enum') return [Number(obj(value['value'])?.['index'] ?? 0)];
  if (view.valueType === 'boolean') return [value['value'] ? 1 : 0];
  return elementsOf(value['value']);
}

/** Precision from display.precision (PVXS) or a printf format such as `%.3f`. */
function precisionOf(display: PVStructure | undefined): number | undefined {
  if (!display) return undefined;
  if (typeof display['precision'] === 'number') return display['precision'];
  const m = /%[-+ #0]*\d*\.(\d+)/.exec(String(display['format'] ?? ''));
  return m ? Number(m[1]) : undefined;
}

/** Everything a DBR reply can carry, read from the PV value; `postedMs` stamps PVs without timeStamp. */
export function metaOf(view: CaView, value: PVStructure, postedMs: number): DbrMeta {
  const alarm = obj(value['alarm']);
  const ts = obj(value['timeStamp']);
  const display = obj(value['display']);
  const control = obj(value['control']);
  const va = obj(value['valueAlarm']);
  let secs: number;
  let nsec: number;
  // A PV without a time stamp (or with it unset) is stamped with the time of its value.
  if (ts && (Number(ts['secondsPastEpoch'] ?? 0) !== 0 || Number(ts['nanoseconds'] ?? 0) !== 0)) {
    secs = Number(ts['secondsPastEpoch']);
    nsec = Number(ts['nanoseconds'] ?? 0);
  } else {
    secs = Math.floor(postedMs / 1000);
    nsec = Math.round((postedMs % 1000) * 1e6);
  }
  const n = (x: unknown): number | undefined => (typeof x === 'number' ? x : typeof x === 'bigint' ? Number(x) : undefined);
  const limits: Partial<DbrLimits> = {};
  const set = (k: keyof DbrLimits, x: unknown): void => {
    const v = n(x);
    if (v !== undefined) limits[k] = v;
  };
  set('lowerDisp', display?.['limitLow']);
  set('upperDisp', display?.['limitHigh']);
  set('lowerCtrl', control?.['limitLow']);
  set('upperCtrl', control?.['limitHigh']);
  set('lowerAlarm', va?.['lowAlarmLimit']);
  set('lowerWarning', va?.['lowWarningLimit']);
  set('upperWarning', va?.['highWarningLimit']);
  set('upperAlarm', va?.['highAlarmLimit']);
  const meta: DbrMeta = {
    status: caStatusOf(alarm),
    severity: Number(alarm?.['severity'] ?? 0),
    stamp: { secPastEpoch: Math.max(0, secs - EPICS_EPOCH_OFFSET), nsec: Math.max(0, Math.min(999_999_999, nsec)) },
    units: String(display?.['units'] ?? ''),
    limits,
  };
  const prec = precisionOf(display);
  if (prec !== undefined) meta.precision = prec;
  const labels = labelsOf(view, value);
  if (labels) meta.strs = labels;
  return meta;
}

/**
 * The PV's value as DBR type `dataType` with `count` elements (0: the current length). Returns
 * the payload and the element count it holds.
 */
export function encodeForClient(
  view: CaView,
  value: PVStructure,
  dataType: number,
  count: number,
  postedMs: number,
): { payload: Uint8Array; count: number } {
  const l = dbrLayout(dataType);
  const meta = metaOf(view, value, postedMs);
  const elements = elementsOfValue(view, value);
  const opts: { labels?: readonly string[]; precision?: number } = {};
  if (meta.strs) opts.labels = meta.strs;
  if (meta.precision !== undefined) opts.precision = meta.precision;
  const values = toBase(elements, l.base, count, opts);
  // An enum's GR/CTRL asked for as another type still needs no state strings.
  return { payload: encodeDbr(dataType, values, meta), count: values.length };
}

/**
 * A CA write (plain DBR type) as the PV's new value and the bits that changed; a string when
 * the data cannot become the PV's value type.
 */
export function valueFromWrite(
  view: CaView,
  type: StructureDesc,
  current: PVStructure,
  data: DbrData,
): { value: PVStructure; changed: BitSet } | string {
  if (dbrLayout(data.type).cls !== DbrClass.PLAIN) return 'writes must use a plain DBR type';
  const src = data.value as ArrayLike<Element>;
  const changed = new BitSet();
  const labels = labelsOf(view, current);
  if (view.valueType === 'enum') {
    const idx = src.length > 0 ? elementNumber(src[0] as Element, labels) : NaN;
    if (!Number.isInteger(idx)) return `'${String(src[0])}' is not one of the states ${JSON.stringify(labels)}`;
    changed.set(bitOf(type, 'value.index'));
    return { value: { ...current, value: { ...obj(current['value']), index: idx } }, changed };
  }
  changed.set(bitOf(type, 'value'));
  if (!view.array && src.length === 0) return 'a write of no elements to a scalar';
  const v = view.array ? arrayOf(view.valueType, src, labels) : scalarOf(view.valueType, src[0] as Element, labels);
  if ('error' in v) return v.error;
  return { value: { ...current, value: v.ok }, changed };
}

type Converted = { ok: PVValue } | { error: string };

function scalarOf(type: ScalarType, e: Element, labels: readonly string[] | undefined): Converted {
  if (type === 'string') return { ok: elementText(e) };
  const x = elementNumber(e, labels);
  if (Number.isNaN(x) && typeof e === 'string') return { error: `'${e}' is not a number` };
  if (type === 'boolean') return { ok: x !== 0 };
  if (type === 'float' || type === 'double') return { ok: x };
  if (!Number.isFinite(x)) return { error: `${x} is not an integer` };
  if (type === 'long' || type === 'ulong') return { ok: BigInt(Math.trunc(x)) };
  return { ok: Math.trunc(x) };
}

function arrayOf(type: ScalarType, src: ArrayLike<Element>, labels: readonly string[] | undefined): Converted {
  if (type === 'string') return { ok: Array.from(src, (e) => elementText(e)) };
  const nums = Array.from(src, (e) => elementNumber(e, labels));
  const bad = nums.findIndex((x, i) =>
    type === 'float' || type === 'double' ? Number.isNaN(x) && typeof src[i] === 'string' : !Number.isFinite(x),
  );
  if (bad >= 0) return { error: `element ${bad} ('${String(src[bad])}') cannot be a ${type}` };
  if (type === 'boolean') return { ok: nums.map((x) => x !== 0) };
  const C = TYPED_ARRAY[type];
  if (!C) return { error: `no array of ${type}` };
  if (type === 'long' || type === 'ulong') return { ok: new (C as BigInt64ArrayConstructor)(nums.map((x) => BigInt(Math.trunc(x)))) };
  return { ok: new (C as Float64ArrayConstructor)(nums) };
}
