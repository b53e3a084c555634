// NTScalar and NTScalarArray. Field order as normativeTypesCPP builds them (value, descriptor,
// alarm, timeStamp, display, control) with valueAlarm last, where QSRV puts it.
import type { FieldDesc, ScalarType, StructureDesc } from '../types.js';
import { t } from '../types.js';
import type { PVStructure, PVValue } from '../values.js';
import {
  alarmT,
  controlT,
  displayT,
  flagKey,
  isStruct,
  ntIs,
  readAlarm,
  readTime,
  str,
  timeNow,
  timeT,
  valueAlarmTypeFor,
  valueOf,
  type Alarm,
  type TimeStamp,
  type Typed,
} from './common.js';

export interface NTScalarOptions {
  descriptor?: boolean;
  /** Default true. */
  alarm?: boolean;
  /** Default true. */
  timeStamp?: boolean;
  display?: boolean;
  control?: boolean;
  valueAlarm?: boolean;
  /** Further fields appended after the standard ones (the type is then not cached). */
  extra?: Record<string, FieldDesc>;
}

export interface NTScalarData {
  value: PVValue | undefined;
  alarm: Alarm | undefined;
  timeStamp: TimeStamp | undefined;
  descriptor: string | undefined;
  /** display.units, '' when absent. */
  units: string;
  display: PVStructure | undefined;
  control: PVStructure | undefined;
}

function makeScalarNT(name: 'NTScalar' | 'NTScalarArray', array: boolean) {
  const id = `epics:nt/${name}:1.0`;
  const cache = new Map<string, StructureDesc>();
  const nt = {
    id,
    type(valueType: ScalarType, opts: NTScalarOptions = {}): StructureDesc {
      const flags = [opts.descriptor, opts.alarm ?? true, opts.timeStamp ?? true, opts.display, opts.control, opts.valueAlarm];
      const key = `${valueType}:${flagKey(flags)}`;
      const hit = opts.extra ? undefined : cache.get(key);
      if (hit) return hit;
      const f: [string, FieldDesc][] = [['value', array ? t.array(valueType) : t.scalar(valueType)]];
      if (flags[0]) f.push(['descriptor', t.string]);
      if (flags[1]) f.push(['alarm', alarmT]);
      if (flags[2]) f.push(['timeStamp', timeT]);
      if (flags[3]) f.push(['display', displayT]);
      if (flags[4]) f.push(['control', controlT]);
      if (flags[5]) f.push(['valueAlarm', valueAlarmTypeFor(valueType)]);
      for (const [n, d] of Object.entries(opts.extra ?? {})) f.push([n, d]);
      const type = t.struct(f, id);
      if (!opts.extra) cache.set(key, type);
      return type;
    },
    /** A type and value; timeStamp defaults to now, everything else not given to its default. */
    create(valueType: ScalarType, value: PVValue, init: PVStructure = {}, opts: NTScalarOptions = {}): Typed {
      const type = nt.type(valueType, opts);
      const v: PVStructure = { ...init, value };
      if ((opts.timeStamp ?? true) && init['timeStamp'] === undefined) v['timeStamp'] = timeNow();
      return { type, value: valueOf(type, v) };
    },
    is(desc: FieldDesc | null | undefined): boolean {
      return ntIs(desc, name);
    },
    read(v: PVStructure | null | undefined): NTScalarData {
      const o = isStruct(v) ? v : {};
      const display = isStruct(o['display']) ? (o['display'] as PVStructure) : undefined;
      return {
        value: o['value'] as PVValue | undefined,
        alarm: readAlarm(o['alarm']),
        timeStamp: readTime(o['timeStamp']),
        descriptor: 'descriptor' in o ? str(o['descriptor']) : undefined,
        units: str(display?.['units']),
        display,
        control: isStruct(o['control']) ? (o['control'] as PVStructure) : undefined,
      };
    },
  };
  return nt;
}

export const ntscalar = makeScalarNT('NTScalar', false);
export const ntscalarArray = makeScalarNT('NTScalarArray', true);
