// NTURI, the argument of pvAccess RPC calls: scheme, [authority], path, [query { … }] in
// normativeTypesCPP's order (authority and query only when wanted; PVXS always sends both).
import type { FieldDesc, ScalarType, StructureDesc } from '../types.js';
import { t } from '../types.js';
import { inferType } from '../infer.js';
import type { PVStructure, PVValue } from '../values.js';
import { isStruct, ntIs, str, valueOf, type Typed } from './common.js';

export interface NTURIData {
  scheme: string;
  authority: string;
  path: string;
  query: Record<string, PVValue>;
}

const ID = 'epics:nt/NTURI:1.0';

export const nturi = {
  id: ID,
  type(query: Record<string, ScalarType | FieldDesc> = {}, opts: { authority?: boolean } = {}): StructureDesc {
    const f: [string, FieldDesc][] = [['scheme', t.string]];
    if (opts.authority) f.push(['authority', t.string]);
    f.push(['path', t.string]);
    const q = Object.entries(query).map(([n, d]) => [n, typeof d === 'string' ? t.scalar(d) : d] as const);
    if (q.length) f.push(['query', t.struct(q)]);
    return t.struct(f, ID);
  },
  /** Query member types are inferred (string, boolean, int/double, bigint → long, arrays). */
  create(path: string, query: Record<string, PVValue> = {}, opts: { scheme?: string; authority?: string } = {}): Typed {
    const qt = Object.fromEntries(Object.entries(query).map(([n, v]) => [n, inferType(v)]));
    const type = nturi.type(qt, { authority: opts.authority !== undefined });
    const v: PVStructure = { scheme: opts.scheme ?? 'pva', path, query: { ...query } };
    if (opts.authority !== undefined) v['authority'] = opts.authority;
    return { type, value: valueOf(type, v) };
  },
  is(desc: FieldDesc | null | undefined): boolean {
    return ntIs(desc, 'NTURI');
  },
  read(v: PVStructure | null | undefined): NTURIData {
    const o = isStruct(v) ? v : {};
    const q = isStruct(o['query']) ? (o['query'] as PVStructure) : {};
    return { scheme: str(o['scheme']), authority: str(o['authority']), path: str(o['path']), query: { ...q } };
  },
};
