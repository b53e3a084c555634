// pvData values as JSON: what `sluice get --json` prints and what the dashboard's web socket sends
// for structures. Exact where JSON can be (64-bit integers as numbers when safe, else strings).
import type { FieldDesc } from './types.js';
import type { PVAny, PVUnion, PVStructure } from './values.js';

const t_any: FieldDesc = { kind: 'any' };

/**
 * A JSON-safe copy: 64-bit integers become numbers when exact, else strings; typed arrays
 * become arrays; a union becomes `{ member: value }`; non-finite numbers become strings.
 */
export function toJSONValue(desc: FieldDesc, v: unknown): unknown {
  switch (desc.kind) {
    case 'scalar':
    case 'boundedString':
      return jsonScalar(v);
    case 'scalarArray':
      return Array.from((v ?? []) as ArrayLike<unknown>, jsonScalar);
    case 'structure': {
      const o: Record<string, unknown> = {};
      const s = (v ?? {}) as PVStructure;
      for (const m of desc.fields) if (m.name in s) o[m.name] = toJSONValue(m.type, s[m.name]);
      return o;
    }
    case 'union': {
      const u = v as PVUnion | null;
      const m = u && desc.fields.find((f) => f.name === u.field);
      return u && m ? { [u.field]: toJSONValue(m.type, u.value) } : null;
    }
    case 'any': {
      const a = v as PVAny | null;
      return a ? toJSONValue(a.type, a.value) : null;
    }
    case 'structureArray':
      return ((v ?? []) as (PVStructure | null)[]).map((e) => (e === null ? null : toJSONValue(desc.element, e)));
    case 'unionArray':
      return ((v ?? []) as (PVUnion | null)[]).map((e) => toJSONValue(desc.element, e));
    case 'anyArray':
      return ((v ?? []) as (PVAny | null)[]).map((e) => toJSONValue(t_any, e));
  }
}

function jsonScalar(v: unknown): unknown {
  if (typeof v === 'bigint') return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  return v;
}
