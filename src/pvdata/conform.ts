// Does a value fit a type? A structural check, as lenient as the encoder is with scalars (a
// number for a string, a string for a double convert) but not with shapes: a field the type does
// not have, a scalar where a structure or an array is expected, or the reverse, is a mismatch.
// For publishers that must say why an update cannot go out, instead of counting it as sent.
// Walks the value without allocating; the description is built only for a mismatch.
import type { FieldDesc, StructureDesc } from './types.js';

function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (ArrayBuffer.isView(v)) return `a ${v.constructor.name}`;
  if (typeof v === 'object') return 'a structure';
  return `a ${typeof v}`;
}

function typeName(d: FieldDesc): string {
  switch (d.kind) {
    case 'scalar':
      return d.type;
    case 'scalarArray':
      return `${d.type}[]`;
    case 'boundedString':
      return 'string';
    case 'structure':
    case 'union':
      return d.id ? `${d.kind} ${d.id}` : d.kind;
    case 'structureArray':
      return 'structure[]';
    case 'unionArray':
      return 'union[]';
    default:
      return d.kind;
  }
}

const isScalar = (v: unknown): boolean => ['number', 'bigint', 'string', 'boolean'].includes(typeof v);

function fieldMismatch(d: FieldDesc, v: unknown, path: string): string | null {
  if (v === undefined) return null; // absent: left unchanged / default
  switch (d.kind) {
    case 'scalar':
    case 'boundedString':
      return isScalar(v) ? null : `field '${path}' is ${kindOf(v)} where the type has ${typeName(d)}`;
    case 'scalarArray':
      return Array.isArray(v) || (ArrayBuffer.isView(v) && !(v instanceof DataView))
        ? null
        : `field '${path}' is ${kindOf(v)} where the type has ${typeName(d)}`;
    case 'structure':
      if (v === null || typeof v !== 'object' || Array.isArray(v) || ArrayBuffer.isView(v))
        return `field '${path}' is ${kindOf(v)} where the type has ${typeName(d)}`;
      return structureMismatch(d, v as Record<string, unknown>, `${path}.`);
    case 'structureArray':
    case 'unionArray':
    case 'anyArray':
      return v === null || Array.isArray(v) ? null : `field '${path}' is ${kindOf(v)} where the type has ${typeName(d)}`;
    case 'union': {
      if (v === null) return null;
      if (typeof v !== 'object' || Array.isArray(v) || ArrayBuffer.isView(v) || !('field' in v)) {
        return `field '${path}' is ${kindOf(v)} where the type has ${typeName(d)} (give {field, value})`;
      }
      const f = (v as { field: unknown }).field;
      return d.fields.some((m) => m.name === f)
        ? null
        : `field '${path}' selects union member '${String(f)}' that ${typeName(d)} does not have`;
    }
    default:
      return null;
  }
}

function structureMismatch(d: StructureDesc, v: Record<string, unknown>, prefix: string): string | null {
  for (const key in v) {
    const m = d.fields.find((f) => f.name === key);
    if (!m) return `field '${prefix}${key}' is not in the type`;
    const bad = fieldMismatch(m.type, v[key], prefix + key);
    if (bad) return bad;
  }
  return null;
}

/** Why `value` does not fit `type` (one line), or null when it does. */
export function mismatch(type: StructureDesc, value: unknown): string | null {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || ArrayBuffer.isView(value)) {
    return `the value is ${kindOf(value)}, not a structure`;
  }
  return structureMismatch(type, value as Record<string, unknown>, '');
}

/** A short name of a structure type for messages: its id, or its field names. */
export function describeType(type: StructureDesc): string {
  return type.id || `structure {${type.fields.map((f) => f.name).join(', ')}}`;
}
