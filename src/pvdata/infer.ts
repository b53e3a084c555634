// Type inference for values put into `any` fields or given on the command line without a type.
import { EncodeError } from '../errors.js';
import type { FieldDesc } from './types.js';
import { sameType, t } from './types.js';
import { scalarTypeOfArray, type PVValue } from './values.js';

export function inferType(v: PVValue | undefined): FieldDesc {
  switch (typeof v) {
    case 'number':
      return Number.isInteger(v) && Math.abs(v) < 2 ** 31 ? t.int : t.double;
    case 'bigint':
      return t.long;
    case 'boolean':
      return t.boolean;
    case 'string':
      return t.string;
  }
  if (v === null || v === undefined) throw new EncodeError('cannot infer a type for null');
  const st = scalarTypeOfArray(v);
  if (st) return t.array(st);
  if (Array.isArray(v)) {
    if (v.every((e) => typeof e === 'string')) return t.array('string');
    if (v.every((e) => typeof e === 'boolean')) return t.array('boolean');
    if (v.every((e) => typeof e === 'number')) return t.array('double');
    if (v.every((e) => typeof e === 'bigint')) return t.array('long');
    // Records of one shape (a list of summaries): a structure array.
    if (v.every((e) => e !== null && typeof e === 'object' && !Array.isArray(e) && scalarTypeOfArray(e) === undefined)) {
      const first = inferType(v[0] as PVValue);
      if (first.kind === 'structure' && v.every((e) => sameType(inferType(e as PVValue), first))) return t.structArray(first);
    }
    throw new EncodeError('cannot infer a type for an array of mixed elements');
  }
  const fields = Object.entries(v as Record<string, PVValue>).map(([name, e]) => [name, inferType(e)] as const);
  return t.struct(fields);
}
