// Value decoding: full values, and BitSet-partial values merged into the previous value.
// Decoders are compiled once per type (closures; generated object literals for structures, so
// every decoded structure of a type has one hidden class) and cached on the type description.
import { DecodeError, ProtocolError } from '../errors.js';
import { BitSet } from './bitset.js';
import { fieldCount, memberOffsets } from './field-numbering.js';
import { decodeType, type TypeCache } from './type-codec.js';
import type { FieldDesc, ScalarArrayDesc, ScalarType, StructureDesc, UnionDesc } from './types.js';
import { ELEMENT_SIZE, defaultValue, type PVAny, type PVStructure, type PVUnion, type PVValue } from './values.js';
import type { ByteReader } from './wire.js';

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
  if (desc.type === 'string' || desc.type === 'boolean') r.chargeElements(n, `${desc.type}[]`);
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

export type Dec = (r: ByteReader, cache: TypeCache) => PVValue | null;
const decoders = new WeakMap<FieldDesc, Dec>();

export function decoderFor(desc: FieldDesc): Dec {
  let d = decoders.get(desc);
  if (!d) {
    d = compileDecoder(desc);
    decoders.set(desc, d);
  }
  return d;
}

export function decodeValue(r: ByteReader, desc: FieldDesc, cache: TypeCache): PVValue {
  return decoderFor(desc)(r, cache);
}

const SCALAR_DEC: Record<ScalarType, Dec> = {
  boolean: (r) => r.bool(),
  byte: (r) => r.i8(),
  ubyte: (r) => r.u8(),
  short: (r) => r.i16(),
  ushort: (r) => r.u16(),
  int: (r) => r.i32(),
  uint: (r) => r.u32(),
  long: (r) => r.i64(),
  ulong: (r) => r.u64(),
  float: (r) => r.f32(),
  double: (r) => r.f64(),
  string: (r) => r.string(),
};

function compileDecoder(desc: FieldDesc): Dec {
  switch (desc.kind) {
    case 'scalar':
      return SCALAR_DEC[desc.type];
    case 'boundedString':
      return (r) => r.string();
    case 'scalarArray':
      return (r) => decodeScalarArray(r, desc);
    case 'structure':
      return structureDecoder(desc);
    case 'union':
      return (r, c) => decodeUnion(r, desc, c);
    case 'any':
      return decodeAny;
    case 'structureArray':
    case 'unionArray':
    case 'anyArray': {
      const el: Dec =
        desc.kind === 'structureArray' ? decoderFor(desc.element) : desc.kind === 'unionArray' ? decoderFor(desc.element) : decodeAny;
      const what = desc.kind;
      // Each element is an object: a structure element is as many as its fields.
      const weight = desc.kind === 'structureArray' ? fieldCount(desc.element) : 1;
      return (r, c) => {
        const n = r.count(what, 1);
        r.chargeElements(n * weight, what);
        const out: (PVValue | null)[] = new Array(n);
        for (let i = 0; i < n; i++) out[i] = r.u8() === 0 ? null : el(r, c);
        return out as PVValue;
      };
    }
  }
}

const decodeEmpty: Dec = () => ({});
/** Compiling an object literal costs more per member than a loop would ever spend: large structures loop. */
const MAX_COMPILED_MEMBERS = 64;

/** A structure decoder as one object literal: `{"a": d[0](r, c), "b": d[1](r, c)}`. */
function structureDecoder(desc: StructureDesc): Dec {
  if (desc.fields.length === 0) return decodeEmpty;
  const decs = desc.fields.map((m) => decoderFor(m.type));
  if (desc.fields.length > MAX_COMPILED_MEMBERS) {
    const names = desc.fields.map((m) => m.name);
    return (r, c) => {
      const o: PVStructure = {};
      for (let i = 0; i < names.length; i++) o[names[i] as string] = (decs[i] as Dec)(r, c);
      return o;
    };
  }
  const body = desc.fields.map((m, i) => `${JSON.stringify(m.name)}: d[${i}](r, c)`).join(',\n');
  // Property values are evaluated in source order, which is the wire order.
  return new Function('d', `return function decodeStructure(r, c) { return {\n${body}\n}; };`)(decs) as Dec;
}

function decodeUnion(r: ByteReader, desc: UnionDesc, cache: TypeCache): PVUnion | null {
  const i = r.size();
  if (i < 0) return null;
  const m = desc.fields[i];
  if (!m) throw new DecodeError(`union selector ${i} out of range (${desc.fields.length} members)`);
  if (m.type.kind === 'structure') r.chargeElements(fieldCount(m.type), 'union');
  return { field: m.name, value: decoderFor(m.type)(r, cache) };
}

// Each `any` value brings its own type, so type-nesting limits do not bound `any` inside `any`:
// count those levels too, or a few kilobytes of 0x82 bytes overflow the stack.
let anyDepth = 0;

function decodeAny(r: ByteReader, cache: TypeCache): PVAny | null {
  const type = decodeType(r, cache);
  if (type === null) return null;
  if (anyDepth >= cache.limits.maxDepth) {
    throw new ProtocolError('ERR_LIMIT', `'any' values nested deeper than ${cache.limits.maxDepth}`);
  }
  anyDepth++;
  try {
    return { type, value: decoderFor(type)(r, cache) };
  } finally {
    anyDepth--;
  }
}

/**
 * Decode the fields marked in `changed` and return `base` updated with them. Unchanged
 * sub-structures are shared with `base`; changed paths are new objects, so a caller holding
 * the previous value never sees it change.
 */
export function decodePartial(r: ByteReader, desc: StructureDesc, base: PVStructure, changed: BitSet, cache: TypeCache): PVStructure {
  return decodeMarked(r, desc, base, changed, 0, cache) as PVStructure;
}

function decodeMarked(r: ByteReader, desc: FieldDesc, old: PVValue, bits: BitSet, at: number, cache: TypeCache): PVValue {
  if (bits.get(at)) return decoderFor(desc)(r, cache);
  if (desc.kind !== 'structure' || !bits.anyInRange(at + 1, at + fieldCount(desc))) return old;
  const offs = memberOffsets(desc);
  const o: PVStructure = { ...(old as PVStructure) };
  for (let i = 0; i < desc.fields.length; i++) {
    const m = desc.fields[i] as { name: string; type: FieldDesc };
    o[m.name] = decodeMarked(r, m.type, o[m.name] ?? defaultValue(m.type), bits, at + (offs[i] as number), cache);
  }
  return o;
}

/**
 * A reader of one field of a value of `type`, named by a dotted path through structures: from
 * the value's start it passes over the fields before it (numeric arrays skipped, the others
 * decoded and dropped) and decodes that field alone. null when the path names no field. For a
 * stage that needs one field of values it passes on undecoded (merge --sort).
 */
export function fieldReader(type: StructureDesc, path: string): Dec | null {
  const before: Dec[] = [];
  let desc: FieldDesc = type;
  for (const name of path.split('.')) {
    if (desc.kind !== 'structure') return null;
    const i = desc.fields.findIndex((m) => m.name === name);
    if (i < 0) return null;
    // A structure has no bytes of its own: its fields follow those before it.
    for (const m of desc.fields.slice(0, i)) before.push(skipperFor(m.type));
    desc = (desc.fields[i] as { type: FieldDesc }).type;
  }
  const read = decoderFor(desc);
  return (r, c) => {
    for (const skip of before) skip(r, c);
    return read(r, c);
  };
}

function skipperFor(desc: FieldDesc): Dec {
  if (desc.kind !== 'scalarArray' || desc.type === 'string' || desc.type === 'boolean') return decoderFor(desc);
  const width = ELEMENT_SIZE[desc.type];
  return (r) => {
    const n = desc.arrayKind === 'fixed' ? desc.bound : r.count(`${desc.type}[]`, width);
    if (desc.arrayKind === 'bounded' && n > desc.bound) throw new DecodeError(`bounded array of ${desc.bound} elements arrived with ${n}`);
    r.skip(n * width);
    return null;
  };
}

export function decodeBitSet(r: ByteReader): BitSet {
  const n = r.count('BitSet');
  const b = new BitSet();
  for (let i = 0; i < n; i++) b.orByte(i, r.u8());
  return b;
}

export function decodeTyped(r: ByteReader, cache: TypeCache): { type: FieldDesc | null; value: PVValue } {
  const type = decodeType(r, cache);
  return { type, value: type ? decoderFor(type)(r, cache) : null };
}
