// Applying a partial structure value to a full one, marking which fields it changed. Used by
// SharedPV.post() and by client puts: `{ value: 3 }` changes only `value`.
import { BitSet } from './bitset.js';
import { memberOffsets } from './field-numbering.js';
import type { FieldDesc, StructureDesc } from './types.js';
import type { PVStructure } from './values.js';

/**
 * Merge `update` into `base` (new objects along changed paths, `base` untouched) and set the bit
 * of each field given. A structure whose every member was given is marked with its own bit
 * only, so a full update costs one bit (bit 0) instead of one per leaf.
 */
export function mergeMarked(desc: StructureDesc, base: PVStructure, update: PVStructure, bits: BitSet, at = 0): PVStructure {
  if (isComplete(desc, update)) {
    // A complete value replaces the old one as it is: no copy (the common case for frames).
    for (let b = bits.nextSetBit(at + 1); b >= 0; b = bits.nextSetBit(b + 1)) bits.clear(b);
    bits.set(at);
    return update;
  }
  const out: PVStructure = { ...base };
  const offs = memberOffsets(desc);
  let whole = desc.fields.length > 0;
  for (let i = 0; i < desc.fields.length; i++) {
    const m = desc.fields[i] as { name: string; type: FieldDesc };
    const u = update[m.name];
    if (u === undefined) {
      whole = false;
      continue;
    }
    const bit = at + (offs[i] as number);
    if (m.type.kind === 'structure' && isPlainObject(u)) {
      out[m.name] = mergeMarked(m.type, (base[m.name] ?? {}) as PVStructure, u as PVStructure, bits, bit);
      if (!bits.get(bit)) whole = false;
    } else {
      out[m.name] = u;
      bits.set(bit);
    }
  }
  if (whole) {
    // Later siblings are not processed yet, so every bit above `at` belongs to this structure.
    for (let b = bits.nextSetBit(at + 1); b >= 0; b = bits.nextSetBit(b + 1)) bits.clear(b);
    bits.set(at);
  }
  return out;
}

/** Does `v` give every field of `desc` (nested structures complete too)? */
export function isComplete(desc: StructureDesc, v: PVStructure): boolean {
  const fields = desc.fields;
  for (let i = 0; i < fields.length; i++) {
    const m = fields[i] as { name: string; type: FieldDesc };
    const x = v[m.name];
    if (x === undefined) return false;
    if (m.type.kind === 'structure' && !(isPlainObject(x) && isComplete(m.type, x as PVStructure))) return false;
  }
  return true;
}

/** The fields present in a partial value, as a BitSet. */
export function presentFields(desc: StructureDesc, partial: PVStructure): BitSet {
  const bits = new BitSet();
  mergeMarked(desc, {}, partial, bits);
  return bits;
}

function isPlainObject(v: unknown): boolean {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v);
}
