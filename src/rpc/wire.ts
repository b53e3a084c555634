// The RPC wire structures as pvData: a request and a reply are structures whose arguments and
// result travel in `any` fields, each JS value carried by the pvData type inferred for it
// (TypedArrays by reference, so the codec hands their bytes to the socket without a copy).
// Values that pvData has no type for (null, lists, dicts, dates, proxies) are structures marked
// by a type id. This file knows no transport and no object table: encode() asks the caller how
// to send an object by proxy, decode() how to turn a proxy reference back into an object.
import { SluiceError } from '../errors.js';
import { t, type FieldDesc, type StructureDesc } from '../pvdata/types.js';
import { scalarTypeOfArray, type PVAny, type PVStructure, type PVValue } from '../pvdata/values.js';

/** Actions a request may ask for (Pyacq's call_obj, get_obj, set_obj, delete, import, ping, close...). */
export const ACTIONS = ['call', 'get', 'set', 'lookup', 'delete', 'addref', 'import', 'ping', 'close', 'describe'] as const;
export type Action = (typeof ACTIONS)[number];
export type ReturnType = 'auto' | 'value' | 'proxy';
export type SyncMode = 'sync' | 'off';

export const REQUEST_ID = 'sluice:rpc/Request:1.0';
export const REPLY_ID = 'sluice:rpc/Reply:1.0';

export const requestType: StructureDesc = t.struct(
  [
    ['action', t.string],
    ['sync', t.string],
    ['returnType', t.string],
    /** The object the action applies to: its id in the server's table (0: none, use `path`'s head as a published name). */
    ['objectId', t.long],
    /** Attribute path under the object (method name, attribute name); for import, the specifier. */
    ['path', t.array('string')],
    ['args', t.anyArray],
    /** Reference id, for delete and addref. */
    ['refId', t.string],
    /** Address of the caller's own RPC server ('' when it has none): proxies it sends are its own. */
    ['sender', t.string],
  ],
  REQUEST_ID,
);

export const replyType: StructureDesc = t.struct(
  [
    ['ok', t.boolean],
    ['value', t.any],
    ['errorName', t.string],
    ['errorMessage', t.string],
    ['errorStack', t.string],
    /** The remote error's stable code (a SluiceError's `code`), '' when it has none. */
    ['errorCode', t.string],
  ],
  REPLY_ID,
);

/** What a proxy reference carries: where the object lives and what a caller may check before sending. */
export interface ProxyRef {
  address: string;
  objectId: bigint;
  refId: string;
  typeName: string;
  signatures: Signatures;
}

/** Method name -> its parameters (names; `...rest` for a rest parameter) and required count. */
export type Signatures = Map<string, MethodSignature>;
export interface MethodSignature {
  params: string[];
  required: number;
  rest: boolean;
  /** Declared parameter types ('number', 'bigint', 'boolean', 'string', or ''), used to convert pvcall's strings. */
  types: string[];
}

export const MARK = {
  null: 'sluice:null',
  undefined: 'sluice:undefined',
  dict: 'sluice:dict',
  date: 'sluice:date',
  numbers: 'sluice:numbers',
  proxy: 'sluice:proxy',
} as const;

const nullType = t.struct([], MARK.null);
const undefinedType = t.struct([], MARK.undefined);
const dictType = t.struct(
  [
    ['keys', t.array('string')],
    ['values', t.anyArray],
  ],
  MARK.dict,
);
const dateType = t.struct([['ms', t.double]], MARK.date);
/** A list of numbers in one array (one type for the list, not one per element). */
const numbersType = t.struct([['items', t.array('double')]], MARK.numbers);
export const proxyType = t.struct(
  [
    ['address', t.string],
    ['objectId', t.long],
    ['refId', t.string],
    ['typeName', t.string],
    ['methods', t.array('string')],
    ['params', t.array('string')],
    ['types', t.array('string')],
    ['required', t.array('int')],
  ],
  MARK.proxy,
);

/** Bounds that keep a hostile or careless peer from exhausting the stack or the heap. */
export const WIRE_LIMITS = { depth: 32, args: 10_000 } as const;

/** True for values sent by value in 'auto' mode: plain data, TypedArrays, Dates, and lists and plain objects of those. */
export function isPlainData(v: unknown, depth = 0): boolean {
  if (depth > WIRE_LIMITS.depth) return false;
  if (v === null || v === undefined) return true;
  switch (typeof v) {
    case 'boolean':
    case 'number':
    case 'bigint':
    case 'string':
      return true;
    case 'object':
      break;
    default:
      return false;
  }
  if (scalarTypeOfArray(v) !== undefined || v instanceof Date) return true;
  if (Array.isArray(v)) return v.every((e) => isPlainData(e, depth + 1));
  const proto = Object.getPrototypeOf(v) as unknown;
  if (proto !== Object.prototype && proto !== null) return false;
  return Object.values(v as object).every((e) => isPlainData(e, depth + 1));
}

export interface EncodeContext {
  /** A reference for `v`, which must go by proxy (a class instance, a function, or returnType 'proxy'). */
  proxyOf(v: object): ProxyRef;
  /** The reference an ObjectProxy stands for, or undefined when `v` is not one. */
  refOf(v: unknown): ProxyRef | undefined;
}

/**
 * Encode a JS value as a variant. With `byValue` false the value itself goes by proxy; nested
 * values of a by-value list or dict follow the auto rule.
 */
export function encodeValue(v: unknown, ctx: EncodeContext, mode: ReturnType = 'auto', depth = 0): PVAny {
  if (depth > WIRE_LIMITS.depth) throw new SluiceError('ERR_LIMIT', `value nested deeper than ${WIRE_LIMITS.depth} levels`);
  const ref = ctx.refOf(v);
  if (ref) return { type: proxyType, value: proxyValue(ref) };
  if (mode === 'proxy' && v !== null && (typeof v === 'object' || typeof v === 'function')) {
    return { type: proxyType, value: proxyValue(ctx.proxyOf(v)) };
  }
  switch (typeof v) {
    case 'undefined':
      return { type: undefinedType, value: {} };
    case 'boolean':
      return { type: t.boolean, value: v };
    case 'number':
      return { type: t.double, value: v };
    case 'bigint':
      return { type: t.long, value: v };
    case 'string':
      return { type: t.string, value: v };
    case 'symbol':
      throw new SluiceError('ERR_ENCODE', 'a symbol cannot be sent');
  }
  if (v === null) return { type: nullType, value: {} };
  const st = scalarTypeOfArray(v);
  if (st !== undefined) return { type: t.array(st), value: v as PVValue };
  if (mode !== 'proxy' && typeof v === 'object') {
    if (v instanceof Date) return { type: dateType, value: { ms: v.getTime() } };
    if (Array.isArray(v) && v.length > 0 && v.every((e) => typeof e === 'number')) {
      return { type: numbersType, value: { items: Float64Array.from(v as number[]) } };
    }
    if (Array.isArray(v) && v.length > 0 && v.every((e) => typeof e === 'string')) return { type: t.array('string'), value: v as string[] };
    // Lists and plain objects go by value; their members each by the auto rule.
    if (Array.isArray(v)) {
      return { type: t.anyArray, value: v.map((e) => encodeValue(e, ctx, 'auto', depth + 1)) };
    }
    const proto = Object.getPrototypeOf(v) as unknown;
    if (proto === Object.prototype || (proto === null && Object.prototype.toString.call(v) !== '[object Module]')) {
      const keys = Object.keys(v);
      const values = keys.map((k) => encodeValue((v as Record<string, unknown>)[k], ctx, 'auto', depth + 1));
      return { type: dictType, value: { keys, values } };
    }
    // 'value' of a class instance: its own enumerable fields, as a dict (its methods stay behind).
    if (mode === 'value') {
      const keys = Object.keys(v).filter((k) => typeof (v as Record<string, unknown>)[k] !== 'function');
      const values = keys.map((k) => encodeValue((v as Record<string, unknown>)[k], ctx, 'auto', depth + 1));
      return { type: dictType, value: { keys, values } };
    }
  }
  return { type: proxyType, value: proxyValue(ctx.proxyOf(v as object)) };
}

function proxyValue(ref: ProxyRef): PVStructure {
  const methods = [...ref.signatures.keys()];
  const sigs = [...ref.signatures.values()];
  return {
    address: ref.address,
    objectId: ref.objectId,
    refId: ref.refId,
    typeName: ref.typeName,
    methods,
    params: sigs.map((s) => s.params.join(',')),
    types: sigs.map((s) => s.types.join(',')),
    required: Int32Array.from(sigs, (s) => (s.rest ? -1 - s.required : s.required)),
  };
}

export interface DecodeContext {
  /** The object a proxy reference names: the real object at its owner, else an ObjectProxy. */
  fromRef(ref: ProxyRef): unknown;
}

/** Decode a variant made by encodeValue (or any pvData value a foreign peer sent: taken as is). */
export function decodeValue(a: PVAny | null | undefined, ctx: DecodeContext, depth = 0): unknown {
  if (depth > WIRE_LIMITS.depth) throw new SluiceError('ERR_LIMIT', `value nested deeper than ${WIRE_LIMITS.depth} levels`);
  if (a === null || a === undefined) return null;
  const type = a.type;
  if (type.kind === 'anyArray') {
    const items = a.value as (PVAny | null)[];
    return items.map((e) => decodeValue(e, ctx, depth + 1));
  }
  if (type.kind !== 'structure') return a.value;
  const v = a.value as PVStructure;
  switch (type.id) {
    case MARK.null:
      return null;
    case MARK.undefined:
      return undefined;
    case MARK.numbers:
      return Array.from(v['items'] as Float64Array);
    case MARK.date:
      return new Date(Number(v['ms']));
    case MARK.dict: {
      const keys = v['keys'] as string[];
      const values = v['values'] as (PVAny | null)[];
      if (!Array.isArray(keys) || !Array.isArray(values) || keys.length !== values.length) {
        throw new SluiceError('ERR_DECODE', 'a dict whose keys and values differ in number');
      }
      const out: Record<string, unknown> = {};
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i] as string;
        // A key such as __proto__ must stay a plain field, never reach the prototype.
        Object.defineProperty(out, k, {
          value: decodeValue(values[i], ctx, depth + 1),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return out;
    }
    case MARK.proxy:
      return ctx.fromRef(readProxyRef(v));
  }
  return v;
}

export function readProxyRef(v: PVStructure): ProxyRef {
  const methods = (v['methods'] ?? []) as string[];
  const params = (v['params'] ?? []) as string[];
  const types = (v['types'] ?? []) as string[];
  const required = (v['required'] ?? new Int32Array(0)) as Int32Array;
  const signatures: Signatures = new Map();
  methods.forEach((m, i) => {
    const r = required[i] ?? 0;
    const p = params[i] ? (params[i] as string).split(',') : [];
    const ty = types[i] ? (types[i] as string).split(',') : [];
    signatures.set(m, { params: p, required: r < 0 ? -1 - r : r, rest: r < 0, types: ty });
  });
  return {
    address: String(v['address'] ?? ''),
    objectId: BigInt(v['objectId'] ?? 0),
    refId: String(v['refId'] ?? ''),
    typeName: String(v['typeName'] ?? ''),
    signatures,
  };
}

/** A request as the core sees it, decoded from (or to be encoded as) requestType. */
export interface RpcRequest {
  action: Action;
  sync: SyncMode;
  returnType: ReturnType;
  objectId: bigint;
  path: string[];
  args: (PVAny | null)[];
  refId: string;
  sender: string;
}

export interface RpcReply {
  ok: boolean;
  value: PVAny | null;
  errorName: string;
  errorMessage: string;
  errorStack: string;
  /** Absent in replies of servers older than this field. */
  errorCode?: string;
}

export function isRequestType(type: FieldDesc | null): boolean {
  return type !== null && type.kind === 'structure' && type.id === REQUEST_ID;
}
