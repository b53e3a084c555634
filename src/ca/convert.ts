// Conversions between element values and DBR base types, as a CA server does when a client asks
// for another type than the native one (caget -d DBR_STRING of a double, caput of text into a
// number), and alarm status mapping between CA records and pvData's alarm_t.
import { ALARM_CONDITIONS, DbrBase, type DbrBaseType } from './constants.js';
import { allocValues, type DbrValues } from './dbr.js';

/** One element as a server holds it: a number, bigint, string or boolean. */
export type Element = number | bigint | string | boolean;

/** Elements of a JavaScript value (a scalar is one element). */
export function elementsOf(v: unknown): ArrayLike<Element> {
  if (v === undefined || v === null) return [];
  if (ArrayBuffer.isView(v)) return v as unknown as ArrayLike<Element>;
  if (Array.isArray(v)) return v as Element[];
  return [v as Element];
}

/** Text of an element, as DBR_STRING gives numbers (shortest exact form, or `precision` places). */
export function elementText(e: Element, labels?: readonly string[], precision?: number): string {
  if (typeof e === 'string') return e;
  if (typeof e === 'boolean') return e ? 'true' : 'false';
  if (typeof e === 'bigint') return e.toString();
  if (labels && Number.isInteger(e) && e >= 0 && e < labels.length) return labels[e] as string;
  if (precision !== undefined && precision >= 0 && precision <= 17 && !Number.isInteger(e)) return e.toFixed(precision);
  return String(e);
}

/**
 * Number of an element; text is parsed (an enum label gives its index). NaN when the text is
 * neither a number nor a label.
 */
export function elementNumber(e: Element, labels?: readonly string[]): number {
  if (typeof e === 'number') return e;
  if (typeof e === 'bigint') return Number(e);
  if (typeof e === 'boolean') return e ? 1 : 0;
  const i = labels ? labels.indexOf(e) : -1;
  if (i >= 0) return i;
  const t = e.trim();
  if (t === '') return NaN;
  return Number(t);
}

/**
 * `count` elements as DBR base type `base` (count 0: all of them; more than there are: zero
 * padded, as CA servers pad fixed-size requests). Numbers that cannot be read become 0.
 */
export function toBase(
  src: ArrayLike<Element>,
  base: DbrBaseType,
  count: number,
  opts: { labels?: readonly string[]; precision?: number } = {},
): DbrValues {
  const n = count === 0 ? src.length : count;
  const have = Math.min(n, src.length);
  // Already the C type and the whole of it: no conversion (encodeDbr copies it).
  if (n === src.length && ArrayBuffer.isView(src) && src.constructor === allocValues(base, 0).constructor)
    return src as unknown as DbrValues;
  const out = allocValues(base, n);
  if (Array.isArray(out)) {
    for (let i = 0; i < have; i++) out[i] = elementText(src[i] as Element, opts.labels, opts.precision);
    return out;
  }
  const arr = out as Exclude<DbrValues, string[]>;
  for (let i = 0; i < have; i++) {
    const x = elementNumber(src[i] as Element, opts.labels);
    arr[i] = Number.isNaN(x) && base !== DbrBase.FLOAT && base !== DbrBase.DOUBLE ? 0 : x;
  }
  return arr;
}

// pvData alarm_t.status codes.
const PVA_STATUS = { NONE: 0, DEVICE: 1, DRIVER: 2, RECORD: 3, DB: 4, CONF: 5, UNDEFINED: 6, CLIENT: 7 } as const;

/** CA alarm status (record alarm condition) → pvData status (the mapping pvAccess gateways use). */
export function pvaStatusOf(caStatus: number): number {
  const name = ALARM_CONDITIONS[caStatus];
  switch (name) {
    case 'NO_ALARM':
      return PVA_STATUS.NONE;
    case 'COMM':
    case 'TIMEOUT':
    case 'UDF':
      return PVA_STATUS.DRIVER;
    case 'CALC':
    case 'SCAN':
    case 'LINK':
    case 'SOFT':
    case 'BAD_SUB':
      return PVA_STATUS.RECORD;
    case 'DISABLE':
    case 'SIMM':
    case 'READ_ACCESS':
    case 'WRITE_ACCESS':
      return PVA_STATUS.DB;
    case undefined:
      return PVA_STATUS.UNDEFINED;
    default:
      return PVA_STATUS.DEVICE; // READ, WRITE, HIHI … HWLIMIT: conditions of the value or the device
  }
}

/** The message pvAccess gateways give a CA alarm status: its condition name. */
export function alarmMessageOf(caStatus: number): string {
  return ALARM_CONDITIONS[caStatus] ?? `status ${caStatus}`;
}

/**
 * pvData alarm → CA alarm status: the condition named by the message when there is one, else a
 * representative condition of the pvData status class.
 */
export function caStatusOf(alarm: { severity?: number; status?: number; message?: string } | undefined): number {
  if (!alarm) return 0;
  const byName = (ALARM_CONDITIONS as readonly string[]).indexOf(alarm.message ?? '');
  if (byName >= 0) return byName;
  if (!alarm.severity && !alarm.status) return 0;
  switch (alarm.status) {
    case PVA_STATUS.DRIVER:
      return ALARM_CONDITIONS.indexOf('COMM');
    case PVA_STATUS.RECORD:
    case PVA_STATUS.CONF:
      return ALARM_CONDITIONS.indexOf('SOFT');
    case PVA_STATUS.DB:
      return ALARM_CONDITIONS.indexOf('DISABLE');
    case PVA_STATUS.UNDEFINED:
      return ALARM_CONDITIONS.indexOf('UDF');
    case PVA_STATUS.CLIENT:
      return ALARM_CONDITIONS.indexOf('LINK');
    default:
      return ALARM_CONDITIONS.indexOf('STATE');
  }
}
