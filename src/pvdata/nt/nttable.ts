// NTTable: labels (string[]) and a value structure with one scalar array per column, all columns
// the same length (normativeTypesCPP: labels first; the value structure has no type id).
import { InvalidArgumentError } from '../../errors.js';
import type { FieldDesc, ScalarType, StructureDesc } from '../types.js';
import { t } from '../types.js';
import { scalarTypeOfArray, type PVArrayValue, type PVScalarValue, type PVStructure } from '../values.js';
import { alarmT, isStruct, ntIs, readAlarm, readTime, timeT, valueOf, type Alarm, type TimeStamp, type Typed } from './common.js';

export interface NTTableOptions {
  descriptor?: boolean;
  alarm?: boolean;
  timeStamp?: boolean;
}

export interface NTTableData {
  labels: string[];
  /** Columns in declaration order. */
  columns: Record<string, PVArrayValue>;
  /** Length of the shortest column. */
  rowCount: number;
  alarm: Alarm | undefined;
  timeStamp: TimeStamp | undefined;
}

const ID = 'epics:nt/NTTable:1.0';

function columnType(a: PVArrayValue | number[]): ScalarType {
  const st = scalarTypeOfArray(a);
  if (st) return st;
  const list = a as readonly unknown[];
  if (list.every((x) => typeof x === 'string')) return 'string';
  if (list.every((x) => typeof x === 'boolean')) return 'boolean';
  if (list.every((x) => typeof x === 'number')) return 'double';
  throw new InvalidArgumentError('NTTable column of mixed or unsupported elements');
}

export const nttable = {
  id: ID,
  type(columns: Record<string, ScalarType> | readonly (readonly [string, ScalarType])[], opts: NTTableOptions = {}): StructureDesc {
    const cols = Array.isArray(columns) ? columns : Object.entries(columns);
    const f: [string, FieldDesc][] = [
      ['labels', t.array('string')],
      ['value', t.struct(cols.map(([n, st]) => [n, t.array(st)] as const))],
    ];
    if (opts.descriptor) f.push(['descriptor', t.string]);
    if (opts.alarm) f.push(['alarm', alarmT]);
    if (opts.timeStamp) f.push(['timeStamp', timeT]);
    return t.struct(f, ID);
  },
  /** Column types come from the arrays (TypedArray type; string[]; boolean[]; number[] → double). */
  create(data: Record<string, PVArrayValue | number[]>, labels?: string[], opts: NTTableOptions = {}): Typed {
    const names = Object.keys(data);
    const type = nttable.type(
      names.map((n) => [n, columnType(data[n] as PVArrayValue)] as const),
      opts,
    );
    return { type, value: valueOf(type, { labels: labels ?? names, value: { ...data } }) };
  },
  is(desc: FieldDesc | null | undefined): boolean {
    return ntIs(desc, 'NTTable');
  },
  read(v: PVStructure | null | undefined): NTTableData {
    const o = isStruct(v) ? v : {};
    const val = isStruct(o['value']) ? (o['value'] as PVStructure) : {};
    const columns: Record<string, PVArrayValue> = {};
    let rowCount = Infinity;
    for (const [n, c] of Object.entries(val)) {
      if (!Array.isArray(c) && !ArrayBuffer.isView(c)) continue;
      columns[n] = c as PVArrayValue;
      rowCount = Math.min(rowCount, (c as PVArrayValue).length);
    }
    const labels = Array.isArray(o['labels']) ? (o['labels'] as unknown[]).map(String) : Object.keys(columns);
    return {
      labels,
      columns,
      rowCount: rowCount === Infinity ? 0 : rowCount,
      alarm: readAlarm(o['alarm']),
      timeStamp: readTime(o['timeStamp']),
    };
  },
  /** Rows as objects keyed by column name. */
  rows(v: PVStructure | null | undefined): Record<string, PVScalarValue>[] {
    const { columns, rowCount } = nttable.read(v);
    const out: Record<string, PVScalarValue>[] = [];
    for (let i = 0; i < rowCount; i++) {
      const row: Record<string, PVScalarValue> = {};
      for (const [n, c] of Object.entries(columns)) row[n] = c[i] as PVScalarValue;
      out.push(row);
    }
    return out;
  },
};
