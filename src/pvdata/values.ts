// pvData values as plain JavaScript: numbers, bigints (64-bit integers), strings, TypedArrays,
// objects for structures. A value never carries its type; the FieldDesc travels beside it.
import { InvalidArgumentError } from '../errors.js';
import type { FieldDesc, ScalarType, StructureDesc, UnionDesc } from './types.js';
import { memberIndex } from './types.js';

export type PVTypedArray =
  | Int8Array
  | Int16Array
  | Int32Array
  | BigInt64Array
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | BigUint64Array
  | Float32Array
  | Float64Array;

export type PVScalarValue = boolean | number | bigint | string;
export type PVArrayValue = PVTypedArray | boolean[] | string[];
/** A selected union member (`null` when nothing is selected). */
export interface PVUnion {
  field: string;
  value: PVValue;
}
/** A variant (`any`) value with its type (`null` when empty). */
export interface PVAny {
  type: FieldDesc;
  value: PVValue;
}
// Structures are plain objects keyed by field name; `any` keeps field access easy from TypeScript.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type PVStructure = Record<string, any>;
export type PVValue =
  PVScalarValue | PVArrayValue | PVStructure | PVUnion | PVAny | null | (PVStructure | null)[] | (PVUnion | null)[] | (PVAny | null)[];

type TypedArrayCtor =
  | Int8ArrayConstructor
  | Int16ArrayConstructor
  | Int32ArrayConstructor
  | BigInt64ArrayConstructor
  | Uint8ArrayConstructor
  | Uint16ArrayConstructor
  | Uint32ArrayConstructor
  | BigUint64ArrayConstructor
  | Float32ArrayConstructor
  | Float64ArrayConstructor;

/** dtype ↔ TypedArray map (boolean and string arrays are plain JS arrays). */
export const TYPED_ARRAY: Partial<Record<ScalarType, TypedArrayCtor>> = {
  byte: Int8Array,
  short: Int16Array,
  int: Int32Array,
  long: BigInt64Array,
  ubyte: Uint8Array,
  ushort: Uint16Array,
  uint: Uint32Array,
  ulong: BigUint64Array,
  float: Float32Array,
  double: Float64Array,
};

/** Bytes per element on the wire (strings are variable: 0). */
export const ELEMENT_SIZE: Record<ScalarType, number> = {
  boolean: 1,
  byte: 1,
  ubyte: 1,
  short: 2,
  ushort: 2,
  int: 4,
  uint: 4,
  float: 4,
  long: 8,
  ulong: 8,
  double: 8,
  string: 0,
};

/** The scalar type that a TypedArray holds. */
export function scalarTypeOfArray(a: unknown): ScalarType | undefined {
  if (a instanceof Uint8Array) return 'ubyte';
  if (a instanceof Int8Array) return 'byte';
  if (a instanceof Int16Array) return 'short';
  if (a instanceof Uint16Array) return 'ushort';
  if (a instanceof Int32Array) return 'int';
  if (a instanceof Uint32Array) return 'uint';
  if (a instanceof Float32Array) return 'float';
  if (a instanceof Float64Array) return 'double';
  if (a instanceof BigInt64Array) return 'long';
  if (a instanceof BigUint64Array) return 'ulong';
  return undefined;
}

export function defaultScalar(type: ScalarType): PVScalarValue {
  switch (type) {
    case 'boolean':
      return false;
    case 'string':
      return '';
    case 'long':
    case 'ulong':
      return 0n;
    default:
      return 0;
  }
}

export function emptyArray(type: ScalarType): PVArrayValue {
  const C = TYPED_ARRAY[type];
  if (C) return new C(0);
  return [];
}

/** A value of the given type with every field at its default (zero, empty, unselected). */
export function defaultValue(desc: FieldDesc): PVValue {
  switch (desc.kind) {
    case 'scalar':
      return defaultScalar(desc.type);
    case 'boundedString':
      return '';
    case 'scalarArray':
      return emptyArray(desc.type);
    case 'structure': {
      const o: PVStructure = {};
      for (const m of desc.fields) o[m.name] = defaultValue(m.type);
      return o;
    }
    case 'union':
    case 'any':
      return null;
    case 'structureArray':
    case 'unionArray':
    case 'anyArray':
      return [];
  }
}

/** Member of a structure value by dotted path. */
export function getField(value: PVStructure, path: string): PVValue | undefined {
  let cur: PVValue | undefined = value;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object' || ArrayBuffer.isView(cur) || Array.isArray(cur)) return undefined;
    cur = (cur as PVStructure)[part];
  }
  return cur;
}

/** Select a union member by name; `unionSelect(u, 'ubyteValue', data)`. */
export function unionSelect(desc: UnionDesc, field: string, value: PVValue): PVUnion {
  if (memberIndex(desc, field) < 0) {
    throw new InvalidArgumentError(`union has no member '${field}' (members: ${desc.fields.map((m) => m.name).join(', ')})`);
  }
  return { field, value };
}

/** Complete a partial structure value with defaults, so that every declared field exists. */
export function completeStructure(desc: StructureDesc, partial: PVStructure | undefined): PVStructure {
  const o: PVStructure = {};
  for (const m of desc.fields) {
    const v = partial?.[m.name];
    if (v === undefined) o[m.name] = defaultValue(m.type);
    else if (m.type.kind === 'structure') o[m.name] = completeStructure(m.type, v as PVStructure);
    else o[m.name] = v;
  }
  return o;
}

/** Deep copy (arrays are copied too). */
export function cloneValue<V extends PVValue>(v: V): V {
  if (v === null || typeof v !== 'object') return v;
  if (ArrayBuffer.isView(v)) return (v as PVTypedArray).slice() as V;
  if (Array.isArray(v)) return (v as PVValue[]).map((e) => cloneValue(e)) as V;
  const o: PVStructure = {};
  for (const [k, e] of Object.entries(v)) o[k] = k === 'type' && isFieldDesc(e) ? e : cloneValue(e as PVValue);
  return o as V;
}

function isFieldDesc(x: unknown): boolean {
  return typeof x === 'object' && x !== null && typeof (x as { kind?: unknown }).kind === 'string';
}

/** The last value measured, so a value posted to many subscribers is measured once. */
let lastMeasured: object | null = null;
let lastBytes = 0;

/**
 * Roughly the memory a value holds: array and string contents plus a few bytes per field, for
 * byte budgets such as a monitor queue's. Not remembered per nested object: a WeakMap entry for
 * every new object of every post cost ten times the walk itself (a sim posting 40,000 frames/s
 * spent 14% of its time here).
 */
export function valueBytes(v: PVValue | undefined): number {
  if (v === null || typeof v !== 'object') return scalarBytes(v);
  if (v === lastMeasured) return lastBytes;
  const n = walkBytes(v);
  lastMeasured = v;
  lastBytes = n;
  return n;
}

function scalarBytes(v: PVValue | undefined): number {
  return typeof v === 'string' ? 16 + v.length : 8;
}

function walkBytes(v: PVValue | undefined): number {
  if (v === null || typeof v !== 'object') return scalarBytes(v);
  if (ArrayBuffer.isView(v)) return 16 + v.byteLength;
  let n = 16;
  if (Array.isArray(v)) for (const e of v as readonly PVValue[]) n += walkBytes(e);
  else for (const k in v) n += walkBytes((v as PVStructure)[k]);
  return n;
}
