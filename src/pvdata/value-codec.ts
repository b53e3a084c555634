// Value encoding: full values, and BitSet-partial values (only the marked fields, in field order).
// Spec: pvAccess Protocol-Encoding "Data encoding"; field numbering in field-numbering.ts.
import { EncodeError } from '../errors.js';
import { BitSet } from './bitset.js';
import { fieldCount, memberOffsets } from './field-numbering.js';
import { encodeType } from './type-codec.js';
import type { FieldDesc, ScalarArrayDesc, ScalarType, StructureDesc, UnionDesc } from './types.js';
import { memberIndex } from './types.js';
import { TYPED_ARRAY, defaultValue, type PVAny, type PVStructure, type PVTypedArray, type PVUnion, type PVValue } from './values.js';
import type { ByteWriter } from './wire.js';
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
  encoderFor(a.type)(w, a.value);
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

type Enc = (w: ByteWriter, v: any) => void; // eslint-disable-line @typescript-eslint/no-explicit-any
const encoders = new WeakMap<FieldDesc, Enc>();

/** The encoder of a type, compiled once and cached on the type description. */
export function encoderFor(desc: FieldDesc): Enc {
  let e = encoders.get(desc);
  if (!e) {
    e = compileEncoder(desc);
    encoders.set(desc, e);
  }
  return e;
}

export function encodeValue(w: ByteWriter, desc: FieldDesc, v: PVValue | undefined): void {
  encoderFor(desc)(w, v);
}

// Fast paths for values of the natural JS type; anything else goes through the coercions.
const SCALAR_ENC: Record<ScalarType, Enc> = {
  boolean: (w, v) => w.bool(Boolean(v)),
  byte: (w, v) => w.i8(typeof v === 'number' ? v : v === undefined ? 0 : toNumber(v, 'byte')),
  ubyte: (w, v) => w.u8((typeof v === 'number' ? v : v === undefined ? 0 : toNumber(v, 'ubyte')) & 0xff),
  short: (w, v) => w.i16(typeof v === 'number' ? v : v === undefined ? 0 : toNumber(v, 'short')),
  ushort: (w, v) => w.u16((typeof v === 'number' ? v : v === undefined ? 0 : toNumber(v, 'ushort')) & 0xffff),
  int: (w, v) => w.i32((typeof v === 'number' ? v : v === undefined ? 0 : toNumber(v, 'int')) | 0),
  uint: (w, v) => w.u32((typeof v === 'number' ? v : v === undefined ? 0 : toNumber(v, 'uint')) >>> 0),
  // DataView.setBigInt64 wraps modulo 2^64 by itself.
  long: (w, v) => w.i64(typeof v === 'bigint' ? v : v === undefined ? 0n : toBigInt(v, 'long')),
  ulong: (w, v) => w.u64(typeof v === 'bigint' ? v : v === undefined ? 0n : toBigInt(v, 'ulong')),
  float: (w, v) => w.f32(typeof v === 'number' ? v : v === undefined ? 0 : toNumber(v, 'float')),
  double: (w, v) => w.f64(typeof v === 'number' ? v : v === undefined ? 0 : toNumber(v, 'double')),
  string: (w, v) => (typeof v === 'string' ? w.string(v) : encodeScalar(w, 'string', v ?? '')),
};

function compileEncoder(desc: FieldDesc): Enc {
  switch (desc.kind) {
    case 'scalar':
      return SCALAR_ENC[desc.type];
    case 'boundedString':
      return (w, v) => {
        const s = typeof v === 'string' ? v : String(v ?? '');
        if (Buffer.byteLength(s) > desc.bound) throw new EncodeError(`string longer than its bound ${desc.bound}`);
        w.string(s);
      };
    case 'scalarArray': {
      const C = TYPED_ARRAY[desc.type];
      if (C && desc.arrayKind === 'variable') {
        return (w, v) => {
          if (v instanceof C) {
            w.size(v.length);
            w.typedArray(v as PVTypedArray);
          } else encodeScalarArray(w, desc, v ?? defaultValue(desc));
        };
      }
      return (w, v) => encodeScalarArray(w, desc, v ?? defaultValue(desc));
    }
    case 'structure':
      return structureEncoder(desc);
    case 'union':
      return (w, v) => encodeUnion(w, desc, v as PVUnion | null);
    case 'any':
      return encodeAny;
    case 'structureArray':
    case 'unionArray':
    case 'anyArray': {
      const el: Enc = desc.kind === 'anyArray' ? encodeAny : encoderFor(desc.element);
      const kind = desc.kind;
      return (w, v) => {
        const a = (v ?? []) as unknown[];
        if (!Array.isArray(a)) throw new EncodeError(`cannot encode ${describe(v)} as ${kind}`);
        w.size(a.length);
        for (let i = 0; i < a.length; i++) {
          const e = a[i];
          if (e === null || e === undefined) w.u8(0);
          else {
            w.u8(1);
            el(w, e);
          }
        }
      };
    }
  }
}

/** A structure encoder as straight-line code: `e[0](w, v["a"]); e[1](w, v["b"]); …`. */
function structureEncoder(desc: StructureDesc): Enc {
  const encs = desc.fields.map((m) => encoderFor(m.type));
  const body = desc.fields.map((m, i) => `e[${i}](w, v[${JSON.stringify(m.name)}]);`).join('\n');
  const inner = new Function('e', `return function encodeStructure(w, v) {\n${body}\n};`)(encs) as Enc;
  return (w, v) => {
    if (v === undefined || v === null) v = EMPTY_STRUCT;
    else if (typeof v !== 'object' || ArrayBuffer.isView(v) || Array.isArray(v)) {
      throw new EncodeError(`cannot encode ${describe(v)} as a structure`);
    }
    inner(w, v);
  };
}

const EMPTY_STRUCT: PVStructure = Object.freeze({});

/** The values of the fields marked in `changed` (BitSet numbering), in field order. */
export function encodePartial(w: ByteWriter, desc: StructureDesc, v: PVStructure, changed: BitSet): void {
  encodeMarked(w, desc, v, changed, 0);
}

function encodeMarked(w: ByteWriter, desc: FieldDesc, v: PVValue | undefined, bits: BitSet, at: number): void {
  if (bits.get(at)) {
    encoderFor(desc)(w, v);
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

/** A BitSet with only bit 0 set: "the whole structure". */
export function wholeStructure(): BitSet {
  return BitSet.of(0);
}

export function encodeBitSet(w: ByteWriter, b: BitSet): void {
  const n = b.byteLength();
  w.size(n);
  for (let i = 0; i < n; i++) w.u8(b.byteAt(i));
}

/** A typed value as it travels in RPC, `any` and pvRequests: FieldDesc (or 0xFF) then the value. */
export function encodeTyped(w: ByteWriter, type: FieldDesc | null, value: PVValue | undefined): void {
  encodeType(w, type);
  if (type) encodeValue(w, type, value);
}

export { decodeValue, decodePartial, decodeBitSet, decodeTyped, decodeScalar, decoderFor } from './value-decode.js';
