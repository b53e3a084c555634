// A published method called the way `pvcall` and `sluice call` call any RPC PV: an NTURI whose
// query names the method (`method=NAME.method`, or `object=NAME method=method`) and gives the
// arguments by parameter name, as strings. A string becomes a number, bigint or boolean where the
// method's signature says so (a declared type, or the type of the parameter's default value).
// The result comes back as an NTScalar or NTScalarArray when it is one value, else as a structure.
import { SluiceError } from '../errors.js';
import { inferType } from '../pvdata/infer.js';
import { ntscalar, ntscalarArray, nturi } from '../pvdata/nt/index.js';
import type { FieldDesc } from '../pvdata/types.js';
import { scalarTypeOfArray, type PVStructure, type PVValue } from '../pvdata/values.js';
import { argumentsByName } from './errors.js';
import { signaturesOf } from './signature.js';
import type { MethodSignature } from './wire.js';

/** Split the query into the method's path (published name first) and its named arguments. */
export function uriCall(value: PVStructure): { path: string[]; named: Record<string, unknown> } {
  const { query } = nturi.read(value);
  const method = query['method'];
  if (typeof method !== 'string' || method === '') {
    throw new SluiceError('ERR_INVALID_ARGUMENT', 'an NTURI call needs method=NAME.METHOD (or object=NAME method=METHOD) in its query');
  }
  const object = query['object'];
  const path = typeof object === 'string' && object !== '' ? [object, ...method.split('.')] : method.split('.');
  if (path.length < 2)
    throw new SluiceError('ERR_INVALID_ARGUMENT', `method=${method}: name the object too (method=OBJECT.${method} or object=OBJECT)`);
  const named: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(query)) if (k !== 'method' && k !== 'object') named[k] = v;
  return { path, named };
}

/** Positional arguments of `fn` on `owner` for the named (string) ones. */
export function uriArguments(what: string, owner: object, name: string, named: Record<string, unknown>): unknown[] {
  const sig = signaturesOf(owner).get(name);
  const args = argumentsByName(what, sig, named);
  return args.map((a, i) => convert(what, sig as MethodSignature, i, a));
}

function convert(what: string, sig: MethodSignature, i: number, a: unknown): unknown {
  if (typeof a !== 'string') return a;
  const type = sig.types[i] ?? '';
  const bad = () => new SluiceError('ERR_INVALID_ARGUMENT', `${what}: ${sig.params[i]}=${a} is not a ${type}`);
  switch (type) {
    case 'number': {
      const n = Number(a);
      if (a.trim() === '' || Number.isNaN(n)) throw bad();
      return n;
    }
    case 'bigint':
      try {
        return BigInt(a);
      } catch {
        throw bad();
      }
    case 'boolean':
      if (a === 'true' || a === '1') return true;
      if (a === 'false' || a === '0') return false;
      throw bad();
  }
  return a;
}

/** The result as pvcall prints it. */
export function uriResult(v: unknown): { type: FieldDesc; value: PVValue } {
  if (v === undefined || v === null) return ntscalar.create('string', '');
  switch (typeof v) {
    case 'number':
      return ntscalar.create('double', v);
    case 'bigint':
      return ntscalar.create('long', v);
    case 'boolean':
      return ntscalar.create('boolean', v);
    case 'string':
      return ntscalar.create('string', v);
  }
  const st = scalarTypeOfArray(v);
  if (st !== undefined) return ntscalarArray.create(st, v as PVValue);
  try {
    const value = { value: v as PVValue };
    return { type: inferType(value), value };
  } catch (err) {
    throw new SluiceError('ERR_ENCODE', `the result cannot be sent as a pvData value: ${(err as Error).message}`, { cause: err });
  }
}
