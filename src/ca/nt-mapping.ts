// CA values as pvData normative types, the way pvAccess gateways and QSRV present CA records:
// NTScalar / NTScalarArray { value, alarm, timeStamp, display, control } for numbers,
// NTScalar / NTScalarArray { value, alarm, timeStamp } for strings, NTEnum for enums.
// DBR_CHAR is unsigned (ubyte), SHORT short, LONG int, FLOAT float, DOUBLE double.
import { EncodeError } from '../errors.js';
import { ntenum, ntscalar, ntscalarArray } from '../pvdata/nt/index.js';
import type { ScalarType, StructureDesc } from '../pvdata/types.js';
import type { PVStructure } from '../pvdata/values.js';
import { DbrBase, DbrClass, EPICS_EPOCH_OFFSET, dbrCode, type DbrBaseType } from './constants.js';
import { alarmMessageOf, pvaStatusOf, toBase, type Element } from './convert.js';
import type { DbrData, DbrMeta, DbrValues } from './dbr.js';

/** What CREATE_CHAN tells about a channel. */
export interface NativeInfo {
  base: DbrBaseType;
  /** Native element count (1: a scalar). */
  count: number;
}

const SCALAR_OF: Record<DbrBaseType, ScalarType> = {
  [DbrBase.STRING]: 'string',
  [DbrBase.SHORT]: 'short',
  [DbrBase.FLOAT]: 'float',
  [DbrBase.ENUM]: 'ushort', // enum arrays (rare): their indexes
  [DbrBase.CHAR]: 'ubyte',
  [DbrBase.LONG]: 'int',
  [DbrBase.DOUBLE]: 'double',
};

export function isEnumScalar(n: NativeInfo): boolean {
  return n.base === DbrBase.ENUM && n.count <= 1;
}

/** Whether the channel has units and limits worth a DBR_CTRL read (numbers and enum labels). */
export function hasControlInfo(n: NativeInfo): boolean {
  return n.base !== DbrBase.STRING;
}

/** The normative type a channel's values are given as. */
export function ntTypeOf(n: NativeInfo): StructureDesc {
  if (isEnumScalar(n)) return ntenum.type();
  const nt = n.count > 1 ? ntscalarArray : ntscalar;
  const numeric = n.base !== DbrBase.STRING && n.base !== DbrBase.ENUM;
  return nt.type(SCALAR_OF[n.base], numeric ? { display: true, control: true } : {});
}

/** DBR type of subscriptions and reads: TIME of the native type. */
export function timeTypeOf(n: NativeInfo): number {
  return dbrCode(n.base, DbrClass.TIME);
}

export function ctrlTypeOf(n: NativeInfo): number {
  return dbrCode(n.base, DbrClass.CTRL);
}

/**
 * A TIME value (and the channel's CTRL metadata, when it was read) as a value of ntTypeOf(n).
 */
export function ntValueOf(n: NativeInfo, data: DbrData, ctrl: DbrMeta | null): PVStructure {
  const m = data.meta;
  const status = m.status ?? 0;
  const out: PVStructure = {
    value: null,
    alarm: { severity: m.severity ?? 0, status: pvaStatusOf(status), message: alarmMessageOf(status) },
    timeStamp: {
      secondsPastEpoch: BigInt((m.stamp?.secPastEpoch ?? 0) + EPICS_EPOCH_OFFSET),
      nanoseconds: m.stamp?.nsec ?? 0,
      userTag: 0,
    },
  };
  const v = data.value;
  if (isEnumScalar(n)) {
    out['value'] = { index: v.length > 0 ? (v[0] as number) : 0, choices: [...(ctrl?.strs ?? [])] };
    return out;
  }
  out['value'] = n.count > 1 ? v : v.length > 0 ? v[0] : n.base === DbrBase.STRING ? '' : 0;
  if (n.base === DbrBase.STRING || n.base === DbrBase.ENUM) return out;
  const lim = ctrl?.limits ?? {};
  const prec = ctrl?.precision;
  out['display'] = {
    limitLow: lim.lowerDisp ?? 0,
    limitHigh: lim.upperDisp ?? 0,
    description: '',
    format: prec !== undefined && (n.base === DbrBase.FLOAT || n.base === DbrBase.DOUBLE) ? `%.${prec}f` : '',
    units: ctrl?.units ?? '',
  };
  out['control'] = { limitLow: lim.lowerCtrl ?? 0, limitHigh: lim.upperCtrl ?? 0, minStep: 0 };
  return out;
}

/**
 * What to write for a put of `value` (a scalar, an array, or `{ value }`): DBR_STRING for text
 * (the server converts it, enum labels included), else the native type.
 */
export function putValuesOf(n: NativeInfo, value: unknown): { dataType: number; values: DbrValues } {
  let v = value;
  if (typeof v === 'object' && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v) && 'value' in v) v = (v as PVStructure)['value'];
  if (typeof v === 'object' && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v) && 'index' in v) v = (v as PVStructure)['index'];
  const elements: Element[] = ArrayBuffer.isView(v)
    ? Array.from(v as unknown as ArrayLike<number>)
    : Array.isArray(v)
      ? (v as Element[])
      : [v as Element];
  for (const e of elements) {
    if (!['number', 'bigint', 'string', 'boolean'].includes(typeof e)) throw new EncodeError(`cannot put ${typeof e} to a CA channel`);
  }
  const text = n.base === DbrBase.STRING || elements.some((e) => typeof e === 'string');
  const base = text ? DbrBase.STRING : n.base;
  const values = toBase(elements, base, elements.length);
  if (!text) {
    for (let i = 0; i < elements.length; i++) {
      const e = elements[i] as Element;
      if (typeof e === 'number' && !Number.isFinite(e) && base !== DbrBase.FLOAT && base !== DbrBase.DOUBLE) {
        throw new EncodeError(`cannot put ${e} to an integer CA channel`);
      }
    }
  }
  return { dataType: dbrCode(base, DbrClass.PLAIN), values };
}
