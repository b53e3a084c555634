// The pvData type system (introspection interfaces): what a value looks like, not the value itself.
// Descriptions are immutable plain objects; build them with `t` and compare them with `sameType`.
import { InvalidArgumentError } from '../errors.js';

export type ScalarType =
  'boolean' | 'byte' | 'short' | 'int' | 'long' | 'ubyte' | 'ushort' | 'uint' | 'ulong' | 'float' | 'double' | 'string';

export const SCALAR_TYPES: readonly ScalarType[] = [
  'boolean',
  'byte',
  'short',
  'int',
  'long',
  'ubyte',
  'ushort',
  'uint',
  'ulong',
  'float',
  'double',
  'string',
];

/** Variable arrays are what every mainstream peer uses; bounded and fixed ones exist in the type system. */
export type ArrayKind = 'variable' | 'bounded' | 'fixed';

export interface ScalarDesc {
  readonly kind: 'scalar';
  readonly type: ScalarType;
}
export interface ScalarArrayDesc {
  readonly kind: 'scalarArray';
  readonly type: ScalarType;
  readonly arrayKind: ArrayKind;
  /** Bound (bounded arrays) or exact length (fixed arrays); 0 for variable arrays. */
  readonly bound: number;
}
export interface BoundedStringDesc {
  readonly kind: 'boundedString';
  readonly bound: number;
}
export interface Member {
  readonly name: string;
  readonly type: FieldDesc;
}
export interface StructureDesc {
  readonly kind: 'structure';
  readonly id: string;
  readonly fields: readonly Member[];
}
export interface UnionDesc {
  readonly kind: 'union';
  readonly id: string;
  readonly fields: readonly Member[];
}
export interface AnyDesc {
  readonly kind: 'any';
}
export interface StructureArrayDesc {
  readonly kind: 'structureArray';
  readonly element: StructureDesc;
}
export interface UnionArrayDesc {
  readonly kind: 'unionArray';
  readonly element: UnionDesc;
}
export interface AnyArrayDesc {
  readonly kind: 'anyArray';
}

export type FieldDesc =
  | ScalarDesc
  | ScalarArrayDesc
  | BoundedStringDesc
  | StructureDesc
  | UnionDesc
  | AnyDesc
  | StructureArrayDesc
  | UnionArrayDesc
  | AnyArrayDesc;

const scalarCache = new Map<ScalarType, ScalarDesc>();
const arrayCache = new Map<ScalarType, ScalarArrayDesc>();
for (const s of SCALAR_TYPES) {
  scalarCache.set(s, Object.freeze({ kind: 'scalar', type: s }));
  arrayCache.set(s, Object.freeze({ kind: 'scalarArray', type: s, arrayKind: 'variable', bound: 0 }));
}

export function scalar(type: ScalarType): ScalarDesc {
  const d = scalarCache.get(type);
  if (!d) throw new InvalidArgumentError(`unknown scalar type '${type}'`);
  return d;
}

export function scalarArray(type: ScalarType, arrayKind: ArrayKind = 'variable', bound = 0): ScalarArrayDesc {
  if (arrayKind === 'variable') {
    const d = arrayCache.get(type);
    if (!d) throw new InvalidArgumentError(`unknown scalar type '${type}'`);
    return d;
  }
  if (!SCALAR_TYPES.includes(type)) throw new InvalidArgumentError(`unknown scalar type '${type}'`);
  return Object.freeze({ kind: 'scalarArray', type, arrayKind, bound });
}

type MemberSpec = Record<string, FieldDesc> | readonly Member[] | readonly (readonly [string, FieldDesc])[];

function toMembers(spec: MemberSpec): Member[] {
  const list: Member[] = Array.isArray(spec)
    ? spec.map((m: Member | readonly [string, FieldDesc]) =>
        Array.isArray(m) ? { name: m[0] as string, type: m[1] as FieldDesc } : (m as Member),
      )
    : Object.entries(spec as Record<string, FieldDesc>).map(([name, type]) => ({ name, type }));
  const seen = new Set<string>();
  for (const m of list) {
    if (seen.has(m.name)) throw new InvalidArgumentError(`duplicate field name '${m.name}'`);
    // Values are plain objects keyed by field name: this one name would set their prototype.
    if (m.name === '__proto__') throw new InvalidArgumentError(`field name '__proto__' is not accepted`);
    seen.add(m.name);
    Object.freeze(m);
  }
  return list;
}

export function structure(fields: MemberSpec, id = ''): StructureDesc {
  return Object.freeze({ kind: 'structure', id, fields: Object.freeze(toMembers(fields)) });
}

export function union(fields: MemberSpec, id = ''): UnionDesc {
  return Object.freeze({ kind: 'union', id, fields: Object.freeze(toMembers(fields)) });
}

const ANY: AnyDesc = Object.freeze({ kind: 'any' });
const ANY_ARRAY: AnyArrayDesc = Object.freeze({ kind: 'anyArray' });

/** Short builders: `t.struct({ value: t.double, alarm: alarmT })`, `t.array('ubyte')`. */
export const t = {
  boolean: scalar('boolean'),
  byte: scalar('byte'),
  short: scalar('short'),
  int: scalar('int'),
  long: scalar('long'),
  ubyte: scalar('ubyte'),
  ushort: scalar('ushort'),
  uint: scalar('uint'),
  ulong: scalar('ulong'),
  float: scalar('float'),
  double: scalar('double'),
  string: scalar('string'),
  any: ANY,
  anyArray: ANY_ARRAY,
  scalar,
  array: scalarArray,
  struct: structure,
  union,
  boundedString(bound: number): BoundedStringDesc {
    return Object.freeze({ kind: 'boundedString', bound });
  },
  structArray(element: StructureDesc): StructureArrayDesc {
    return Object.freeze({ kind: 'structureArray', element });
  },
  unionArray(element: UnionDesc): UnionArrayDesc {
    return Object.freeze({ kind: 'unionArray', element });
  },
} as const;

// ---- lookups -------------------------------------------------------------------------------

const indexCache = new WeakMap<StructureDesc | UnionDesc, Map<string, number>>();

/** Index of a member by name, or -1. Cached per description, so repeated lookups are cheap. */
export function memberIndex(desc: StructureDesc | UnionDesc, name: string): number {
  let map = indexCache.get(desc);
  if (!map) {
    map = new Map(desc.fields.map((m, i) => [m.name, i]));
    indexCache.set(desc, map);
  }
  return map.get(name) ?? -1;
}

/** The description of a (dotted) sub-field, or undefined. */
export function fieldByPath(desc: FieldDesc, path: string): FieldDesc | undefined {
  if (path === '') return desc;
  let cur: FieldDesc = desc;
  for (const part of path.split('.')) {
    if (cur.kind !== 'structure' && cur.kind !== 'union') return undefined;
    const i = memberIndex(cur, part);
    if (i < 0) return undefined;
    cur = (cur.fields[i] as Member).type;
  }
  return cur;
}

export function sameType(a: FieldDesc, b: FieldDesc): boolean {
  if (a === b) return true;
  if (a.kind !== b.kind) return false;
  switch (a.kind) {
    case 'scalar':
      return a.type === (b as ScalarDesc).type;
    case 'scalarArray': {
      const o = b as ScalarArrayDesc;
      return a.type === o.type && a.arrayKind === o.arrayKind && a.bound === o.bound;
    }
    case 'boundedString':
      return a.bound === (b as BoundedStringDesc).bound;
    case 'structure':
    case 'union': {
      const o = b as StructureDesc | UnionDesc;
      if (a.id !== o.id || a.fields.length !== o.fields.length) return false;
      return a.fields.every((m, i) => {
        const n = o.fields[i] as Member;
        return m.name === n.name && sameType(m.type, n.type);
      });
    }
    case 'structureArray':
      return sameType(a.element, (b as StructureArrayDesc).element);
    case 'unionArray':
      return sameType(a.element, (b as UnionArrayDesc).element);
    case 'any':
    case 'anyArray':
      return true;
  }
}

/** Type name as pvData prints it (`double[]`, `structure`, `epics:nt/NTScalar:1.0`). */
export function typeName(desc: FieldDesc): string {
  switch (desc.kind) {
    case 'scalar':
      return desc.type;
    case 'scalarArray':
      return desc.arrayKind === 'variable' ? `${desc.type}[]` : `${desc.type}[${desc.bound}]`;
    case 'boundedString':
      return `string(${desc.bound})`;
    case 'structure':
      return desc.id || 'structure';
    case 'union':
      return desc.id || 'union';
    case 'any':
      return 'any';
    case 'structureArray':
      return `${desc.element.id || 'structure'}[]`;
    case 'unionArray':
      return `${desc.element.id || 'union'}[]`;
    case 'anyArray':
      return 'any[]';
  }
}

/** Indented description like `pvinfo` prints. */
export function formatType(desc: FieldDesc, name = '', indent = ''): string {
  const head = `${indent}${typeName(desc)}${name ? ' ' + name : ''}`;
  if (desc.kind === 'structure' || desc.kind === 'union') {
    return [head, ...desc.fields.map((m) => formatType(m.type, m.name, indent + '    '))].join('\n');
  }
  if (desc.kind === 'structureArray' || desc.kind === 'unionArray') {
    return [head, ...desc.element.fields.map((m) => formatType(m.type, m.name, indent + '    '))].join('\n');
  }
  return head;
}
