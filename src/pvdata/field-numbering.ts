// BitSet field numbering (pvAccess Protocol-Encoding "BitSet"): depth-first pre-order, the top
// structure is bit 0, a nested structure takes a bit before its members, every other field
// (scalar, array, union, any, structure array) takes exactly one bit.
import { InvalidArgumentError } from '../errors.js';
import { BitSet } from './bitset.js';
import type { FieldDesc, Member, StructureDesc } from './types.js';
import { memberIndex } from './types.js';

const countCache = new WeakMap<StructureDesc, number>();
const offsetCache = new WeakMap<StructureDesc, Int32Array>();

/** Bits a field takes: itself plus, for a structure, all its descendants. */
export function fieldCount(desc: FieldDesc): number {
  if (desc.kind !== 'structure') return 1;
  let n = countCache.get(desc);
  if (n === undefined) {
    n = 1;
    for (const m of desc.fields) n += fieldCount(m.type);
    countCache.set(desc, n);
  }
  return n;
}

/** Bit offset of each member relative to its structure's own bit. */
export function memberOffsets(desc: StructureDesc): Int32Array {
  let offs = offsetCache.get(desc);
  if (!offs) {
    offs = new Int32Array(desc.fields.length);
    let at = 1;
    desc.fields.forEach((m, i) => {
      (offs as Int32Array)[i] = at;
      at += fieldCount(m.type);
    });
    offsetCache.set(desc, offs);
  }
  return offs;
}

/** Bit number of a dotted field path (`''` is the top structure, bit 0). */
export function bitOf(desc: StructureDesc, path: string): number {
  if (path === '') return 0;
  let cur: FieldDesc = desc;
  let bit = 0;
  for (const part of path.split('.')) {
    if (cur.kind !== 'structure') throw new InvalidArgumentError(`'${path}': '${part}' is inside a non-structure`);
    const i = memberIndex(cur, part);
    if (i < 0) throw new InvalidArgumentError(`no field '${path}' (no '${part}')`);
    bit += memberOffsets(cur)[i] as number;
    cur = (cur.fields[i] as Member).type;
  }
  return bit;
}

/** Dotted path of a bit number, or undefined when out of range. */
export function pathOf(desc: StructureDesc, bit: number): string | undefined {
  if (bit === 0) return '';
  if (bit < 0 || bit >= fieldCount(desc)) return undefined;
  let cur: StructureDesc = desc;
  let base = 0;
  const parts: string[] = [];
  for (;;) {
    const offs = memberOffsets(cur);
    let i = offs.length - 1;
    while (i > 0 && base + (offs[i] as number) > bit) i--;
    const m = cur.fields[i] as Member;
    parts.push(m.name);
    base += offs[i] as number;
    if (base === bit) return parts.join('.');
    if (m.type.kind !== 'structure') return undefined;
    cur = m.type;
  }
}

/** BitSet marking the given dotted paths. */
export function bitsOf(desc: StructureDesc, paths: Iterable<string>): BitSet {
  const b = new BitSet();
  for (const p of paths) b.set(bitOf(desc, p));
  return b;
}

/**
 * Expand a BitSet so that every field under a marked structure is marked too, and a structure
 * is marked when all of its children are. Useful to ask "did field X change?" with one get().
 */
export function expandBits(desc: StructureDesc, bits: BitSet): BitSet {
  const out = new BitSet();
  walk(desc, 0, bits.get(0));
  return out;
  function walk(d: FieldDesc, at: number, parentMarked: boolean): boolean {
    const marked = parentMarked || bits.get(at);
    if (d.kind !== 'structure') {
      if (marked) out.set(at);
      return marked;
    }
    const offs = memberOffsets(d);
    let all = d.fields.length > 0;
    d.fields.forEach((m, i) => {
      if (!walk(m.type, at + (offs[i] as number), marked)) all = false;
    });
    if (marked || all) out.set(at);
    return marked || all;
  }
}
