// Value encoding: full values, and BitSet-partial values (only the marked fields, in field order).
// Spec: pvAccess Protocol-Encoding "Data encoding"; field numbering in field-numbering.ts.
import { DecodeError, EncodeError } from '../errors.js';
import { BitSet } from './bitset.js';
import { fieldCount, memberOffsets } from './field-numbering.js';
import { decodeType, encodeType, type TypeCache } from './type-codec.js';
import type { FieldDesc, ScalarArrayDesc, ScalarType, StructureDesc, UnionDesc } from './types.js';
import { memberIndex } from './types.js';
import {
  TYPED_ARRAY,
  ELEMENT_SIZE,
  defaultValue,
  type PVAny,
  type PVStructure,
  type PVTypedArray,
  type PVUnion,
  type PVValue,
} from './values.js';
import type { ByteReader, ByteWriter } from './wire.js';
import { inferType } from './infer.js';

// ---- encode ----------------------------------------------------------------------------------

function toNumber(v: unknown, type: ScalarType): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint' || typeof v === 'boolean') return Number(v);
  if (typeof v === 'string' && v.trim() !== '' && !Number.isNaN(Number(v))) return Number(v);
  throw new EncodeError(`cannot encode ${describe(v)} as ${type}`);
}

function toBigInt(v: unknown, type: ScalarType): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
  if (typeof v === 'boolean') return v ? 1n : 0n;
  if (typeof v === 'string' && /^\s*-?\d+\s*$/.test(v)) return BigInt(v);
  throw new EncodeError(`cannot encode ${describe(v)} as ${type}`);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (ArrayBuffer.isView(v)) return v.constructor.name;
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'string' ? `'${v.slice(0, 40)}'` : `${typeof v} ${String(v).slice(0, 40)}`;
}

export function encodeScalar(w: ByteWriter, type: ScalarType, v: unknown): void {
  switch (type) {
    case 'boolean':
      w.bool(Boolean(v));
      return;
    case 'byte':
      w.i8(toNumber(v, type));
      return;
    case 'ubyte':
      w.u8(toNumber(v, type) & 0xff);
      return;
    case 'short':
      w.i16(toNumber(v, type));
      return;
    case 'ushort':
      w.u16(toNumber(v, type) & 0xffff);
      return;
    case 'int':
      w.i32(toNumber(v, type) | 0);
      return;
    case 'uint':
      w.u32(toNumber(v, type) >>> 0);
      return;
    case 'long':
      w.i64(BigInt.asIntN(64, toBigInt(v, type)));
      return;
    case 'ulong':
      w.u64(BigInt.asUintN(64, toBigInt(v, type)));
      return;
    case 'float':
      w.f32(toNumber(v, type));
      return;
    case 'double':
      w.f64(toNumber(v, type));
      return;
    case 'string':
      if (typeof v !== 'string') {
        if (v === null || v === undefined || typeof v === 'object') throw new EncodeError(`cannot encode ${describe(v)} as string`);
        w.string(String(v));
      } else w.string(v);
      return;
  }
}

/** Coerce an array-like to the TypedArray of `type` (no copy when it already is one). */
export function toTypedArray(type: ScalarType, v: unknown): PVTypedArray {
  const C = TYPED_ARRAY[type];
  if (!C) throw new EncodeError(`'${type}' has no typed array`);
  if (v instanceof C) return v as PVTypedArray;
  if (Array.isArray(v) || ArrayBuffer.isView(v)) {
    const src = Array.from(v as ArrayLike<unknown>);
    if (C === BigInt64Array || C === BigUint64Array) {
      return (C as BigInt64ArrayConstructor).from(src.map((x) => toBigInt(x, type))) as PVTypedArray;
    }
    return (C as Float64ArrayConstructor).from(src.map((x) => toNumber(x, type))) as PVTypedArray;
  }
  throw new EncodeError(`cannot encode ${describe(v)} as ${type}[]`);
}

function encodeScalarArray(w: ByteWriter, desc: ScalarArrayDesc, v: unknown): void {
  const fixed = desc.arrayKind === 'fixed';
  if (desc.type === 'string' || desc.type === 'boolean') {
    if (!Array.isArray(v) && !ArrayBuffer.isView(v)) throw new EncodeError(`cannot encode ${describe(v)} as ${desc.type}[]`);
    const a = v as ArrayLike<unknown>;
    checkLength(desc, a.length);
    if (!fixed) w.size(a.length);
    for (let i = 0; i < a.length; i++) encodeScalar(w, desc.type, a[i]);
    return;
  }
  const a = toTypedArray(desc.type, v);
  checkLength(desc, a.length);
  if (!fixed) w.size(a.length);
  w.typedArray(a);
}

function checkLength(desc: ScalarArrayDesc, n: number): void {
  if (desc.arrayKind === 'fixed' && n !== desc.bound) {
    throw new EncodeError(`fixed array needs ${desc.bound} elements, got ${n}`);
  }
  if (desc.arrayKind === 'bounded' && n > desc.bound) {
    throw new EncodeError(`bounded array allows ${desc.bound} elements, got ${n}`);
  }
}

function encodeUnion(w: ByteWriter, desc: UnionDesc, v: PVUnion | null | undefined): void {
  if (v === null || v === undefined) {
    w.size(-1);
    return;
  }
  const i = memberIndex(desc, v.field);
  if (i < 0) throw new EncodeError(`union has no member '${v.field}'`);
  w.size(i);
  encodeValue(w, (desc.fields[i] as { type: FieldDesc }).type, v.value);
}

function encodeAny(w: ByteWriter, v: PVAny | PVValue | undefined): void {
  if (v === null || v === undefined) {
    w.u8(0xff);
    return;
  }
  const a = isAny(v) ? v : { type: inferType(v), value: v };
  encodeType(w, a.type);
  encodeValue(w, a.type, a.value);
}

function isAny(v: unknown): v is PVAny {
  return (
    typeof v === 'object' &&
    v !== null &&
    !ArrayBuffer.isView(v) &&
    'type' in v &&
    'value' in v &&
    typeof (v as { type: { kind?: unknown } }).type?.kind === 'string'
  );
}

export function encodeValue(w: ByteWriter, desc: FieldDesc, v: PVValue | undefined): void {
  switch (desc.kind) {
    case 'scalar':
      encodeScalar(w, desc.type, v ?? defaultValue(desc));
      return;
    case 'boundedString': {
      const s = typeof v === 'string' ? v : String(v ?? '');
      if (Buffer.byteLength(s) > desc.bound) throw new EncodeError(`string longer than its bound ${desc.bound}`);
      w.string(s);
      return;
    }
    case 'scalarArray':
      encodeScalarArray(w, desc, v ?? defaultValue(desc));
      return;
    case 'structure': {
      const o = (v ?? {}) as PVStructure;
      if (typeof o !== 'object' || ArrayBuffer.isView(o) || Array.isArray(o)) {
        throw new EncodeError(`cannot encode ${describe(v)} as a structure`);
      }
      for (const m of desc.fields) encodeValue(w, m.type, o[m.name]);
      return;
    }
    case 'union':
      encodeUnion(w, desc, v as PVUnion | null);
      return;
    case 'any':
      encodeAny(w, v);
      return;
    case 'structureArray':
    case 'unionArray':
    case 'anyArray': {
      const a = (v ?? []) as unknown[];
      if (!Array.isArray(a)) throw new EncodeError(`cannot encode ${describe(v)} as ${desc.kind}`);
      w.size(a.length);
      for (const e of a) {
        if (e === null || e === undefined) {
          w.u8(0);
          continue;
        }
        w.u8(1);
        if (desc.kind === 'structureArray') encodeValue(w, desc.element, e as PVStructure);
        else if (desc.kind === 'unionArray') encodeUnion(w, desc.element, e as PVUnion);
        else encodeAny(w, e as PVAny);
      }
      return;
    }
  }
}

/** The values of the fields marked in `changed` (BitSet numbering), in field order. */
export function encodePartial(w: ByteWriter, desc: StructureDesc, v: PVStructure, changed: BitSet): void {
  encodeMarked(w, desc, v, changed, 0);
}

function encodeMarked(w: ByteWriter, desc: FieldDesc, v: PVValue | undefined, bits: BitSet, at: number): void {
  if (bits.get(at)) {
    encodeValue(w, desc, v);
    return;
  }
  if (desc.kind !== 'structure' || !bits.anyInRange(at + 1, at + fieldCount(desc))) return;
  const offs = memberOffsets(desc);
  const o = (v ?? {}) as PVStructure;
  for (let i = 0; i < desc.fields.length; i++) {
    const m = desc.fields[i] as { name: string; type: FieldDesc };
    encodeMarked(w, m.type, o[m.name], bits, at + (offs[i] as number));
  }
}

// ---- decode ----------------------------------------------------------------------------------

export function decodeScalar(r: ByteReader, type: ScalarType): boolean | number | bigint | string {
  switch (type) {
    case 'boolean':
      return r.bool();
    case 'byte':
      return r.i8();
    case 'ubyte':
      return r.u8();
    case 'short':
      return r.i16();
    case 'ushort':
      return r.u16();
    case 'int':
      return r.i32();
    case 'uint':
      return r.u32();
    case 'long':
      return r.i64();
    case 'ulong':
      return r.u64();
    case 'float':
      return r.f32();
    case 'double':
      return r.f64();
    case 'string':
      return r.string();
  }
}

function decodeScalarArray(r: ByteReader, desc: ScalarArrayDesc): PVValue {
  const n = desc.arrayKind === 'fixed' ? desc.bound : r.count(`${desc.type}[]`, ELEMENT_SIZE[desc.type] || 1);
  if (desc.arrayKind === 'bounded' && n > desc.bound) {
    throw new DecodeError(`bounded array of ${desc.bound} elements arrived with ${n}`);
  }
  if (desc.type === 'string') {
    const out: string[] = new Array(n);
    for (let i = 0; i < n; i++) out[i] = r.string();
    return out;
  }
  if (desc.type === 'boolean') {
    const out: boolean[] = new Array(n);
    for (let i = 0; i < n; i++) out[i] = r.bool();
    return out;
  }
  return r.typedArray(desc.type, n);
}

export function decodeValue(r: ByteReader, desc: FieldDesc, cache: TypeCache): PVValue {
  switch (desc.kind) {
    case 'scalar':
      return decodeScalar(r, desc.type);
    case 'boundedString':
      return r.string();
    case 'scalarArray':
      return decodeScalarArray(r, desc);
    case 'structure': {
      const o: PVStructure = {};
      for (const m of desc.fields) o[m.name] = decodeValue(r, m.type, cache);
      return o;
    }
    case 'union':
      return decodeUnion(r, desc, cache);
    case 'any':
      return decodeAny(r, cache);
    case 'structureArray':
    case 'unionArray':
    case 'anyArray': {
      const n = r.count(desc.kind, 1);
      const out: (PVValue | null)[] = new Array(n);
      for (let i = 0; i < n; i++) {
        const present = r.u8();
        if (present === 0) {
          out[i] = null;
          continue;
        }
        if (desc.kind === 'structureArray') out[i] = decodeValue(r, desc.element, cache);
        else if (desc.kind === 'unionArray') out[i] = decodeUnion(r, desc.element, cache);
        else out[i] = decodeAny(r, cache);
      }
      return out as PVValue;
    }
  }
}

function decodeUnion(r: ByteReader, desc: UnionDesc, cache: TypeCache): PVUnion | null {
  const i = r.size();
  if (i < 0) return null;
  const m = desc.fields[i];
  if (!m) throw new DecodeError(`union selector ${i} out of range (${desc.fields.length} members)`);
  return { field: m.name, value: decodeValue(r, m.type, cache) };
}

function decodeAny(r: ByteReader, cache: TypeCache): PVAny | null {
  const type = decodeType(r, cache);
  if (type === null) return null;
  return { type, value: decodeValue(r, type, cache) };
}

/**
 * Decode the fields marked in `changed` and return `base` updated with them. Unchanged
 * sub-structures are shared with `base`; changed paths are new objects, so a caller holding
 * the previous value never sees it change.
 */
export function decodePartial(
  r: ByteReader,
  desc: StructureDesc,
  base: PVStructure,
  changed: BitSet,
  cache: TypeCache,
): PVStructure {
  return decodeMarked(r, desc, base, changed, 0, cache) as PVStructure;
}

function decodeMarked(r: ByteReader, desc: FieldDesc, old: PVValue, bits: BitSet, at: number, cache: TypeCache): PVValue {
  if (bits.get(at)) return decodeValue(r, desc, cache);
  if (desc.kind !== 'structure' || !bits.anyInRange(at + 1, at + fieldCount(desc))) return old;
  const offs = memberOffsets(desc);
  const o: PVStructure = { ...(old as PVStructure) };
  for (let i = 0; i < desc.fields.length; i++) {
    const m = desc.fields[i] as { name: string; type: FieldDesc };
    o[m.name] = decodeMarked(r, m.type, o[m.name] ?? defaultValue(m.type), bits, at + (offs[i] as number), cache);
  }
  return o;
}

/** A BitSet with only bit 0 set: "the whole structure". */
export function wholeStructure(): BitSet {
  return BitSet.of(0);
}

export function encodeBitSet(w: ByteWriter, b: BitSet): void {
  const bytes = b.toBytes();
  w.size(bytes.length);
  w.bytes(bytes);
}

export function decodeBitSet(r: ByteReader): BitSet {
  const n = r.count('BitSet');
  return BitSet.fromBytes(r.bytes(n));
}

/** A typed value as it travels in RPC, `any` and pvRequests: FieldDesc (or 0xFF) then the value. */
export function encodeTyped(w: ByteWriter, type: FieldDesc | null, value: PVValue | undefined): void {
  encodeType(w, type);
  if (type) encodeValue(w, type, value);
}

export function decodeTyped(r: ByteReader, cache: TypeCache): { type: FieldDesc | null; value: PVValue } {
  const type = decodeType(r, cache);
  return { type, value: type ? decodeValue(r, type, cache) : null };
}
