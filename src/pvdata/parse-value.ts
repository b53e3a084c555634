// Text and JSON → pvData values of a known type (command-line words, web socket writes). The codec
// coerces numbers and numeric strings, but it would wrap out-of-range integers and read "false" as
// true, so values are checked here first, with messages that name the field.
import { inferType } from './infer.js';
import type { FieldDesc, ScalarType } from './types.js';
import { SCALAR_TYPES } from './types.js';
import { TYPED_ARRAY, type PVStructure, type PVValue } from './values.js';
import { InvalidArgumentError } from '../errors.js';

const INT_RANGE: Partial<Record<ScalarType, [number, number]>> = {
  byte: [-128, 127],
  ubyte: [0, 255],
  short: [-32768, 32767],
  ushort: [0, 65535],
  int: [-(2 ** 31), 2 ** 31 - 1],
  uint: [0, 2 ** 32 - 1],
};
const LONG_RANGE: Partial<Record<ScalarType, [bigint, bigint]>> = {
  long: [-(2n ** 63n), 2n ** 63n - 1n],
  ulong: [0n, 2n ** 64n - 1n],
};

function fail(what: string, v: unknown, type: string): never {
  const shown = typeof v === 'string' ? `'${v}'` : JSON.stringify(v);
  throw new InvalidArgumentError(`${what}: cannot use ${shown} as ${type}`);
}

export function isScalarType(s: string): s is ScalarType {
  return (SCALAR_TYPES as readonly string[]).includes(s);
}

/** A scalar from text or a JSON scalar; `what` names the field in errors. */
export function toScalar(type: ScalarType, v: unknown, what: string): boolean | number | bigint | string {
  if (type === 'string') {
    if (typeof v === 'object' && v !== null) fail(what, v, type);
    return String(v);
  }
  if (type === 'boolean') {
    if (typeof v === 'boolean') return v;
    const s = String(v).trim().toLowerCase();
    if (s === 'true' || s === '1') return true;
    if (s === 'false' || s === '0') return false;
    return fail(what, v, type);
  }
  const text = typeof v === 'string' ? v.trim() : typeof v === 'number' || typeof v === 'bigint' ? String(v) : null;
  if (text === null || text === '') return fail(what, v, type);
  const longRange = LONG_RANGE[type];
  if (longRange) {
    if (!/^[+-]?(\d+|0x[0-9a-f]+)$/i.test(text)) return fail(what, v, type);
    const n = text.startsWith('-') ? -BigInt(text.slice(1)) : BigInt(text.replace(/^\+/, ''));
    if (n < longRange[0] || n > longRange[1]) return fail(what, v, `${type} (out of range)`);
    return n;
  }
  const range = INT_RANGE[type];
  if (range) {
    const n = /^[+-]?0x[0-9a-f]+$/i.test(text) ? Number.parseInt(text, 16) : Number(text);
    if (!/^[+-]?(\d+|0x[0-9a-f]+)$/i.test(text) || !Number.isSafeInteger(n)) return fail(what, v, type);
    if (n < range[0] || n > range[1]) return fail(what, v, `${type} (out of range)`);
    return n;
  }
  // float and double; C-style spellings of the special values are accepted too.
  const special = /^([+-]?)(inf|infinity|nan)$/i.exec(text);
  if (special) return special[2]?.toLowerCase() === 'nan' ? NaN : special[1] === '-' ? -Infinity : Infinity;
  const n = Number(text);
  if (Number.isNaN(n)) return fail(what, v, type);
  return n;
}

/** An array of `type` from JSON elements (typed arrays for numbers, plain arrays otherwise). */
export function toArray(type: ScalarType, items: unknown, what: string): PVValue {
  if (!Array.isArray(items)) return fail(what, items, `${type}[]`);
  const values = items.map((e, i) => toScalar(type, e, `${what}[${i}]`));
  const C = TYPED_ARRAY[type];
  if (!C) return values as string[] | boolean[];
  return (C as unknown as { from(a: unknown[]): PVValue }).from(values);
}

/** Parse `[1, 2, 3]` (JSON) into an array of `type`. */
export function parseArrayText(type: ScalarType, text: string, what: string): PVValue {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new InvalidArgumentError(`${what}: '${text}' is not a JSON array`);
  }
  return toArray(type, json, what);
}

export function parseJSONText(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new InvalidArgumentError(`${what}: not valid JSON (${(err as Error).message})`);
  }
}

/**
 * A JSON value converted to the pvData value of `desc`: objects give structures (unknown
 * member names are errors), `{ "member": v }` selects a union member, `any` infers a type.
 */
export function fromJSON(desc: FieldDesc, json: unknown, what: string): PVValue {
  switch (desc.kind) {
    case 'scalar':
      return toScalar(desc.type, json, what);
    case 'boundedString':
      return toScalar('string', json, what);
    case 'scalarArray':
      return toArray(desc.type, json, what);
    case 'structure': {
      if (!isObject(json)) return fail(what, json, desc.id || 'structure');
      const out: PVStructure = {};
      for (const [k, v] of Object.entries(json)) {
        const m = desc.fields.find((f) => f.name === k);
        if (!m) throw new InvalidArgumentError(`${what}: no field '${k}' (fields: ${desc.fields.map((f) => f.name).join(', ')})`);
        out[k] = fromJSON(m.type, v, what ? `${what}.${k}` : k);
      }
      return out;
    }
    case 'union': {
      if (json === null) return null;
      const keys = isObject(json) ? Object.keys(json) : [];
      const m = keys.length === 1 ? desc.fields.find((f) => f.name === keys[0]) : undefined;
      if (!m) {
        const members = desc.fields.map((f) => f.name).join(', ');
        throw new InvalidArgumentError(`${what}: a union value is {"<member>": value}, members: ${members}`);
      }
      return { field: m.name, value: fromJSON(m.type, (json as Record<string, unknown>)[m.name], `${what}.${m.name}`) };
    }
    case 'any':
      return json === null ? null : { type: inferType(json as PVValue), value: json as PVValue };
    case 'structureArray':
      if (!Array.isArray(json)) return fail(what, json, 'structure[]');
      return json.map((e, i) => (e === null ? null : (fromJSON(desc.element, e, `${what}[${i}]`) as PVStructure)));
    case 'unionArray':
      if (!Array.isArray(json)) return fail(what, json, 'union[]');
      return json.map((e, i) => fromJSON(desc.element, e, `${what}[${i}]`) as { field: string; value: PVValue } | null);
    case 'anyArray':
      if (!Array.isArray(json)) return fail(what, json, 'any[]');
      return json.map((e) => (e === null ? null : { type: inferType(e as PVValue), value: e as PVValue }));
  }
}

/** A value for `desc` from one command-line word: JSON for arrays and structures, text else. */
export function fromText(desc: FieldDesc, text: string, what: string): PVValue {
  if (desc.kind === 'scalar') return toScalar(desc.type, text, what);
  if (desc.kind === 'boundedString') return text;
  if (desc.kind === 'scalarArray') return parseArrayText(desc.type, text, what);
  return fromJSON(desc, parseJSONText(text, what), what);
}

/** `{ a: { b: v } }` from the path `a.b` (the shape client.put expects). */
export function nest(path: string, value: PVValue, into: PVStructure = {}): PVStructure {
  const parts = path.split('.');
  let cur = into;
  parts.slice(0, -1).forEach((p) => {
    if (!isObject(cur[p])) cur[p] = {};
    cur = cur[p] as PVStructure;
  });
  cur[parts[parts.length - 1] as string] = value;
  return into;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
