// NTEnum: value is enum_t { int index; string[] choices } (normativeTypesCPP field order).
import type { FieldDesc, StructureDesc } from '../types.js';
import { t } from '../types.js';
import type { PVStructure } from '../values.js';
import {
  alarmT,
  enumT,
  flagKey,
  isStruct,
  ntIs,
  num,
  readAlarm,
  readTime,
  timeNow,
  timeT,
  valueOf,
  type Alarm,
  type TimeStamp,
  type Typed,
} from './common.js';

export interface NTEnumOptions {
  descriptor?: boolean;
  /** Default true. */
  alarm?: boolean;
  /** Default true. */
  timeStamp?: boolean;
}

export interface NTEnumData {
  index: number;
  choices: string[];
  /** choices[index], undefined when out of range. */
  choice: string | undefined;
  alarm: Alarm | undefined;
  timeStamp: TimeStamp | undefined;
}

const ID = 'epics:nt/NTEnum:1.0';
const cache = new Map<string, StructureDesc>();

export const ntenum = {
  id: ID,
  type(opts: NTEnumOptions = {}): StructureDesc {
    const flags = [opts.descriptor, opts.alarm ?? true, opts.timeStamp ?? true];
    const key = flagKey(flags);
    let type = cache.get(key);
    if (!type) {
      const f: [string, FieldDesc][] = [['value', enumT]];
      if (flags[0]) f.push(['descriptor', t.string]);
      if (flags[1]) f.push(['alarm', alarmT]);
      if (flags[2]) f.push(['timeStamp', timeT]);
      cache.set(key, (type = t.struct(f, ID)));
    }
    return type;
  },
  create(index: number, choices: string[], init: PVStructure = {}, opts: NTEnumOptions = {}): Typed {
    const type = ntenum.type(opts);
    const v: PVStructure = { ...init, value: { index, choices } };
    if ((opts.timeStamp ?? true) && init['timeStamp'] === undefined) v['timeStamp'] = timeNow();
    return { type, value: valueOf(type, v) };
  },
  is(desc: FieldDesc | null | undefined): boolean {
    return ntIs(desc, 'NTEnum');
  },
  read(v: PVStructure | null | undefined): NTEnumData {
    const o = isStruct(v) ? v : {};
    const e = isStruct(o['value']) ? (o['value'] as PVStructure) : {};
    const choices = Array.isArray(e['choices']) ? (e['choices'] as unknown[]).map(String) : [];
    const index = num(e['index']);
    return { index, choices, choice: choices[index], alarm: readAlarm(o['alarm']), timeStamp: readTime(o['timeStamp']) };
  },
};
