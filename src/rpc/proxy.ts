// ObjectProxy: a local stand-in for an object served by an RPCServer. Reading any property gives
// a callable stub for that attribute path (`dev.method(a, b)` and `dev.sub.method()` send one
// call each and return a Promise); `_get`, `_set`, `_call`, `_callNamed`, `_value`, `_release`,
// `_options` are the proxy's own operations. `then` is undefined, so awaiting a proxy (or
// returning one from an async function) never mistakes it for a promise.
import { inspect } from 'node:util';
import { InvalidArgumentError } from '../errors.js';
import { argumentsByName, checkArgumentCount } from './errors.js';
import type { ProxyRef, ReturnType, SyncMode } from './wire.js';

export interface CallOptions {
  /** Milliseconds to wait for the reply (default 10,000): past it the call rejects with a TimeoutError (ERR_TIMEOUT). */
  timeout?: number;
  /** 'off': fire-and-forget, resolves at once with undefined; the server logs an error. Default 'sync'. */
  sync?: SyncMode;
  /** How the result comes back: 'auto' (plain data by value, the rest by proxy), 'value' or 'proxy'. */
  returnType?: ReturnType;
}

/** What a proxy needs of its client (RPCClient implements it). */
export interface ProxyHost {
  readonly address: string;
  send(action: 'call' | 'get' | 'set', ref: ProxyRef, path: string[], args: unknown[], opts: CallOptions): Promise<unknown>;
  release(ref: ProxyRef): void;
}

interface ProxyState {
  host: ProxyHost;
  ref: ProxyRef;
  released: boolean;
}

/** The operations every proxy has; any other property is a remote attribute (see the file comment). */
export interface ObjectProxyOps {
  /** Attribute value by the proxy's return type (dotted names reach nested attributes). */
  _get(name: string, opts?: CallOptions): Promise<unknown>;
  _set(name: string, value: unknown, opts?: CallOptions): Promise<void>;
  _call(name: string, args?: unknown[], opts?: CallOptions): Promise<unknown>;
  /** Call with named arguments, checked against the published parameter names. */
  _callNamed(name: string, args: Record<string, unknown>, opts?: CallOptions): Promise<unknown>;
  /** The object itself, by value. */
  _value(opts?: CallOptions): Promise<unknown>;
  /** Release this reference now (the server drops the object when no reference remains). */
  _release(): void;
  /** The same remote object with other default options (shares the reference). */
  _options(opts: CallOptions): ObjectProxy;
  readonly _ref: Readonly<ProxyRef>;
  readonly _released: boolean;
  readonly then: undefined;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type ObjectProxy = ObjectProxyOps & ((...args: any[]) => Promise<any>) & { [name: string]: any };

const states = new WeakMap<object, { state: ProxyState; path: string[] }>();

/** Releases references whose proxies were garbage-collected (Pyacq's auto_delete). */
const finalizer = new FinalizationRegistry<{ host: ProxyHost; ref: ProxyRef; flag: { released: boolean } }>((held) => {
  if (!held.flag.released) held.host.release(held.ref);
});

export function createProxy(host: ProxyHost, ref: ProxyRef, opts: CallOptions = {}): ObjectProxy {
  const state: ProxyState = { host, ref, released: false };
  const flag = { released: false };
  // The registry holds the flag, not the state: the state must be collectable.
  Object.defineProperty(state, 'released', {
    get: () => flag.released,
    set: (v: boolean) => (flag.released = v),
  });
  const p = make(state, [], opts);
  finalizer.register(state, { host, ref, flag });
  return p;
}

/** The reference behind `v` when it is a proxy of a whole object (undefined for anything else). */
export function proxyRefOf(v: unknown): ProxyRef | undefined {
  if (typeof v !== 'function') return undefined;
  const s = states.get(v);
  if (!s) return undefined;
  if (s.path.length) throw new InvalidArgumentError(`send the proxy of the object, not its attribute ${s.path.join('.')}`);
  if (s.state.released) throw new InvalidArgumentError(`proxy of ${s.state.ref.typeName} #${s.state.ref.objectId} was released`);
  return s.state.ref;
}

export function isObjectProxy(v: unknown): v is ObjectProxy {
  return typeof v === 'function' && states.has(v);
}

function make(state: ProxyState, path: string[], opts: CallOptions): ObjectProxy {
  const what = (p: string[]): string => [state.ref.typeName || 'object', ...p].join('.');
  const live = (): void => {
    if (state.released) throw new InvalidArgumentError(`proxy of ${what(path)} was released`);
  };
  const send = (action: 'call' | 'get' | 'set', p: string[], args: unknown[], o: CallOptions | undefined): Promise<unknown> => {
    try {
      live();
    } catch (err) {
      return Promise.reject(err as Error);
    }
    return state.host.send(action, state.ref, p, args, o ? { ...opts, ...o } : opts);
  };
  const sigFor = (p: string[]) =>
    p.length === 1 ? state.ref.signatures.get(p[0] as string) : p.length === 0 ? state.ref.signatures.get('') : undefined;
  const split = (name: string) => [...path, ...name.split('.')];
  const call = (p: string[], args: unknown[], o?: CallOptions): Promise<unknown> => {
    try {
      checkArgumentCount(what(p), sigFor(p), args.length);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    return send('call', p, args, o);
  };
  const ops: Record<string, unknown> = {
    _get: (name: string, o?: CallOptions) => send('get', split(name), [], o),
    _set: (name: string, value: unknown, o?: CallOptions) => send('set', split(name), [value], o).then(() => undefined),
    _call: (name: string, args: unknown[] = [], o?: CallOptions) => call(split(name), args, o),
    _callNamed: (name: string, named: Record<string, unknown>, o?: CallOptions) => {
      const p = split(name);
      try {
        return send('call', p, argumentsByName(what(p), sigFor(p), named), o);
      } catch (err) {
        return Promise.reject(err as Error);
      }
    },
    _value: (o?: CallOptions) => send('get', path, [], { ...o, returnType: 'value' }),
    _release: () => {
      if (state.released) return;
      state.released = true;
      state.host.release(state.ref);
    },
    _options: (o: CallOptions) => make(state, path, { ...opts, ...o }),
  };
  const target = function () {};
  const proxy = new Proxy(target, {
    get(_t, prop) {
      if (typeof prop === 'symbol') {
        if (prop === inspect.custom || prop === Symbol.toPrimitive)
          return () => `<ObjectProxy ${what(path)} #${state.ref.objectId} at ${state.host.address}>`;
        return undefined;
      }
      if (prop === 'then') return undefined;
      if (prop === '_ref') return state.ref;
      if (prop === '_released') return state.released;
      if (prop === 'toString' || prop === 'toJSON')
        return () => `<ObjectProxy ${what(path)} #${state.ref.objectId} at ${state.host.address}>`;
      if (Object.hasOwn(ops, prop)) return ops[prop];
      return make(state, [...path, prop], opts);
    },
    set(_t, prop) {
      throw new InvalidArgumentError(`set ${String(prop)} on a proxy with await proxy._set('${String(prop)}', value)`);
    },
    apply(_t, _this, args: unknown[]) {
      return call(path, args);
    },
  }) as unknown as ObjectProxy;
  states.set(proxy, { state, path });
  return proxy;
}
