// FieldDesc (type introspection) encoding, with the per-connection type cache on decode.
// Spec: pvAccess Protocol-Encoding "Introspection data"; type bytes as pvDataCPP writes them
// (bounded string is 0x83, see reference notes 3.12). 0xFD defines a cache entry, 0xFE reuses one,
// 0xFF means "no type". We never use the cache on send (legal, and what PVXS does).
import { DecodeError, ProtocolError } from '../errors.js';
import type { ArrayKind, FieldDesc, Member, ScalarType, StructureDesc, UnionDesc } from './types.js';
import { scalar, scalarArray, t } from './types.js';
import type { ByteReader, ByteWriter } from './wire.js';

const SCALAR_CODE: Record<ScalarType, number> = {
  boolean: 0x00,
  byte: 0x20,
  short: 0x21,
  int: 0x22,
  long: 0x23,
  ubyte: 0x24,
  ushort: 0x25,
  uint: 0x26,
  ulong: 0x27,
  float: 0x42,
  double: 0x43,
  string: 0x60,
};
const CODE_SCALAR = new Map<number, ScalarType>(Object.entries(SCALAR_CODE).map(([k, v]) => [v, k as ScalarType]));
const ARRAY_BITS: Record<ArrayKind, number> = { variable: 0x08, bounded: 0x10, fixed: 0x18 };

export const NULL_TYPE_CODE = 0xff;
const ONLY_ID_CODE = 0xfe;
const FULL_WITH_ID_CODE = 0xfd;
const FULL_TAGGED_ID_CODE = 0xfc;

/** Limits that keep a hostile peer from making us build huge or deep types. */
export interface TypeLimits {
  maxDepth: number;
  /** Total fields a connection's cache may hold. */
  maxCachedFields: number;
}
export const DEFAULT_TYPE_LIMITS: TypeLimits = { maxDepth: 64, maxCachedFields: 1_000_000 };

/** The registry a receiver keeps per connection (and direction) for 0xFD/0xFE. */
export class TypeCache {
  readonly #types = new Map<number, FieldDesc>();
  #fields = 0;
  readonly limits: TypeLimits;
  constructor(limits: TypeLimits = DEFAULT_TYPE_LIMITS) {
    this.limits = limits;
  }
  get(id: number): FieldDesc | undefined {
    return this.#types.get(id);
  }
  set(id: number, desc: FieldDesc, fields: number): void {
    this.#fields += fields;
    if (this.#fields > this.limits.maxCachedFields) {
      throw new ProtocolError('ERR_LIMIT', `type cache holds more than ${this.limits.maxCachedFields} fields`);
    }
    this.#types.set(id, desc);
  }
  get size(): number {
    return this.#types.size;
  }
}

export function encodeType(w: ByteWriter, desc: FieldDesc | null): void {
  if (desc === null) {
    w.u8(NULL_TYPE_CODE);
    return;
  }
  switch (desc.kind) {
    case 'scalar':
      w.u8(SCALAR_CODE[desc.type]);
      return;
    case 'scalarArray':
      w.u8(SCALAR_CODE[desc.type] | ARRAY_BITS[desc.arrayKind]);
      if (desc.arrayKind !== 'variable') w.size(desc.bound);
      return;
    case 'boundedString':
      w.u8(0x83);
      w.size(desc.bound);
      return;
    case 'structure':
      w.u8(0x80);
      encodeMembers(w, desc);
      return;
    case 'union':
      w.u8(0x81);
      encodeMembers(w, desc);
      return;
    case 'any':
      w.u8(0x82);
      return;
    case 'structureArray':
      w.u8(0x88);
      encodeType(w, desc.element);
      return;
    case 'unionArray':
      w.u8(0x89);
      encodeType(w, desc.element);
      return;
    case 'anyArray':
      w.u8(0x8a);
      return;
  }
}

function encodeMembers(w: ByteWriter, desc: StructureDesc | UnionDesc): void {
  w.string(desc.id);
  w.size(desc.fields.length);
  for (const m of desc.fields) {
    w.string(m.name);
    encodeType(w, m.type);
  }
}

/** Fields a description stands for (every node, union members and array elements included) and its nesting height. */
interface Shape {
  size: number;
  height: number;
}
const shapes = new WeakMap<FieldDesc, Shape>();

function shapeOf(d: FieldDesc): Shape {
  let s = shapes.get(d);
  if (s) return s;
  s = { size: 1, height: 0 };
  const kids =
    d.kind === 'structure' || d.kind === 'union'
      ? d.fields.map((m) => m.type)
      : d.kind === 'structureArray' || d.kind === 'unionArray'
        ? [d.element]
        : [];
  for (const k of kids) {
    const ks = shapeOf(k);
    s.size += ks.size;
    s.height = Math.max(s.height, ks.height + 1);
  }
  shapes.set(d, s);
  return s;
}

/**
 * Decode a FieldDesc (or null for 0xFF), resolving and filling the cache. Every field is charged
 * to the reader's decode limits; a cached type reused by id is charged what it stands for, and
 * counts towards the nesting depth where it is used.
 */
export function decodeType(r: ByteReader, cache: TypeCache): FieldDesc | null {
  const counter = { fields: 0 };
  return decodeTypeAt(r, cache, 0, counter);
}

function decodeTypeAt(r: ByteReader, cache: TypeCache, depth: number, counter: { fields: number }, defining = false): FieldDesc | null {
  if (depth > cache.limits.maxDepth) {
    throw new ProtocolError('ERR_LIMIT', `type nesting deeper than ${cache.limits.maxDepth}`);
  }
  const code = r.u8();
  // 0xFD is followed by a full description; another cache code there would let a chain of
  // `fd id` prefixes recurse without bound (no nesting level is added).
  if (defining && code >= FULL_TAGGED_ID_CODE && code !== NULL_TYPE_CODE) {
    throw new DecodeError(`type cache definition followed by 0x${code.toString(16)} instead of a type`);
  }
  switch (code) {
    case NULL_TYPE_CODE:
      return null;
    case ONLY_ID_CODE: {
      const id = r.i16();
      const d = cache.get(id);
      if (!d) throw new DecodeError(`type cache id ${id} used before it was defined`);
      const shape = shapeOf(d);
      if (depth + shape.height > cache.limits.maxDepth) {
        throw new ProtocolError('ERR_LIMIT', `type nesting deeper than ${cache.limits.maxDepth} (through cached type ${id})`);
      }
      r.chargeTypeFields(shape.size);
      return d;
    }
    case FULL_WITH_ID_CODE: {
      const id = r.i16();
      const before = counter.fields;
      const d = decodeTypeAt(r, cache, depth, counter, true);
      if (!d) throw new DecodeError(`type cache id ${id} defined as no type`);
      cache.set(id, d, counter.fields - before + 1);
      return d;
    }
    case FULL_TAGGED_ID_CODE:
      throw new DecodeError('tagged type ids (0xFC) are only for unreliable transports');
  }
  counter.fields++;
  r.chargeTypeFields(1);
  return decodeTypeCode(code, r, cache, depth, counter);
}

function decodeTypeCode(code: number, r: ByteReader, cache: TypeCache, depth: number, counter: { fields: number }): FieldDesc {
  const kind = code >> 5;
  const arrayBits = code & 0x18;
  if (kind === 4) {
    switch (code) {
      case 0x80: {
        const { id, members } = decodeMembers(r, cache, depth, counter, 'structure');
        return t.struct(members, id);
      }
      case 0x81: {
        const { id, members } = decodeMembers(r, cache, depth, counter, 'union');
        return t.union(members, id);
      }
      case 0x82:
        return t.any;
      case 0x83:
        return t.boundedString(r.count('bounded string bound', 0));
      case 0x88: {
        const e = decodeTypeAt(r, cache, depth + 1, counter);
        if (!e || e.kind !== 'structure') throw new DecodeError('structure[] element is not a structure');
        return t.structArray(e);
      }
      case 0x89: {
        const e = decodeTypeAt(r, cache, depth + 1, counter);
        if (!e || e.kind !== 'union') throw new DecodeError('union[] element is not a union');
        return t.unionArray(e);
      }
      case 0x8a:
        return t.anyArray;
    }
    throw new DecodeError(`unknown type code 0x${code.toString(16)}`);
  }
  const base = CODE_SCALAR.get(code & ~0x18);
  if (base === undefined) throw new DecodeError(`unknown type code 0x${code.toString(16)}`);
  if (arrayBits === 0) return scalar(base);
  if (arrayBits === 0x08) return scalarArray(base);
  const bound = r.count('array bound', 0);
  return scalarArray(base, arrayBits === 0x10 ? 'bounded' : 'fixed', bound);
}

function decodeMembers(
  r: ByteReader,
  cache: TypeCache,
  depth: number,
  counter: { fields: number },
  what: string,
): { id: string; members: Member[] } {
  const id = r.string();
  // Each member takes at least 2 bytes (empty name + type code): bounds the count by the data present.
  const n = r.count(`${what} member`, 2);
  const members: Member[] = new Array(n);
  const names = new Set<string>();
  for (let i = 0; i < n; i++) {
    const name = r.string();
    if (names.has(name)) throw new DecodeError(`${what} has field '${name}' twice`);
    // Values are plain objects keyed by field name: this one name would set their prototype.
    if (name === '__proto__') throw new DecodeError(`${what} field name '__proto__' is not accepted`);
    names.add(name);
    const type = decodeTypeAt(r, cache, depth + 1, counter);
    if (!type) throw new DecodeError(`${what} field '${name}' has no type`);
    members[i] = { name, type };
  }
  return { id, members };
}
