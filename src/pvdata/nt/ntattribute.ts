// NTAttribute, standalone (name, value, [tags], [descriptor], [alarm], [timeStamp]) and in the
// flavour NTNDArray carries, where normativeTypesCPP's NTNDArrayAttribute always has descriptor,
// sourceType and source: name, value, [tags], descriptor, sourceType, source, [alarm], [timeStamp].
// areaDetector (and the PVXS-served frames in our captures) use that builder with no options.
import type { FieldDesc, StructureDesc } from '../types.js';
import { t } from '../types.js';
import type { PVAny, PVStructure, PVValue } from '../values.js';
import { alarmT, anyOf, flagKey, isPVAny, isStruct, ntIs, num, str, timeT, valueOf, type Typed } from './common.js';

export interface NTAttributeOptions {
  tags?: boolean;
  descriptor?: boolean;
  alarm?: boolean;
  timeStamp?: boolean;
}

/** NDAttribute source types (areaDetector NDAttrSource_t). */
export const AttributeSource = { Driver: 0, Param: 1, EpicsPV: 2, Function: 3 } as const;

export interface NTAttributeData {
  name: string;
  /** The payload of the `any` (null when empty). */
  value: PVValue | null;
  valueType: FieldDesc | null;
  descriptor: string;
  sourceType: number;
  source: string;
  tags: string[];
}

const ID = 'epics:nt/NTAttribute:1.0';
const cache = new Map<string, StructureDesc>();

export const ntattribute = {
  id: ID,
  type(opts: NTAttributeOptions = {}): StructureDesc {
    const key = 's' + flagKey([opts.tags, opts.descriptor, opts.alarm, opts.timeStamp]);
    let type = cache.get(key);
    if (!type) {
      const f: [string, FieldDesc][] = [
        ['name', t.string],
        ['value', t.any],
      ];
      if (opts.tags) f.push(['tags', t.array('string')]);
      if (opts.descriptor) f.push(['descriptor', t.string]);
      if (opts.alarm) f.push(['alarm', alarmT]);
      if (opts.timeStamp) f.push(['timeStamp', timeT]);
      cache.set(key, (type = t.struct(f, ID)));
    }
    return type;
  },
  /** The element type of NTNDArray.attribute. */
  ndType(opts: Omit<NTAttributeOptions, 'descriptor'> = {}): StructureDesc {
    const key = 'nd' + flagKey([opts.tags, opts.alarm, opts.timeStamp]);
    let type = cache.get(key);
    if (!type) {
      const f: [string, FieldDesc][] = [
        ['name', t.string],
        ['value', t.any],
      ];
      if (opts.tags) f.push(['tags', t.array('string')]);
      f.push(['descriptor', t.string], ['sourceType', t.int], ['source', t.string]);
      if (opts.alarm) f.push(['alarm', alarmT]);
      if (opts.timeStamp) f.push(['timeStamp', timeT]);
      cache.set(key, (type = t.struct(f, ID)));
    }
    return type;
  },
  create(name: string, value: PVValue | PVAny, init: PVStructure = {}, opts: NTAttributeOptions = {}): Typed {
    const type = ntattribute.type(opts);
    return { type, value: valueOf(type, { ...init, name, value: anyOf(value) }) };
  },
  is(desc: FieldDesc | null | undefined): boolean {
    return ntIs(desc, 'NTAttribute');
  },
  read(v: PVStructure | null | undefined): NTAttributeData {
    const o = isStruct(v) ? v : {};
    const raw = o['value'];
    const value = isPVAny(raw) ? raw.value : isStruct(raw) && 'field' in raw ? (raw['value'] as PVValue) : ((raw ?? null) as PVValue);
    return {
      name: str(o['name']),
      value,
      valueType: isPVAny(raw) ? raw.type : null,
      descriptor: str(o['descriptor']),
      sourceType: num(o['sourceType']),
      source: str(o['source']),
      tags: Array.isArray(o['tags']) ? (o['tags'] as unknown[]).map(String) : [],
    };
  },
};
