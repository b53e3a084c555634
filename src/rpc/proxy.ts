// ObjectProxy: a local stand-in for an object served by an RPCServer. Reading any property gives
// a deferred attribute (Pyacq's defer_getattr): nothing is sent until it is used, so
// `dev.sub.method(a)` is one call, `await dev.a.b` one get of the path `a.b`, `dev.a = v` one
// fire-and-forget set and `for await (x of dev.items)` iterates a remote (async) iterable.
// `_get`, `_set`, `_call`, `_getitem`... are the proxy's own operations. The proxy of a whole
// object has no `then`, so awaiting it (or returning it from an async function) gives the proxy.
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
  send(action: ProxyAction, ref: ProxyRef, path: string[], args: unknown[], opts: CallOptions): Promise<unknown>;
  release(ref: ProxyRef): void;
}

/** The actions a proxy sends (wire.ts's ACTIONS that apply to one object). */
export type ProxyAction = 'call' | 'get' | 'set' | 'getitem' | 'setitem' | 'iterate';

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
  /** A deferred attribute's value (one get of its path); the proxy itself for a whole object. */
  _undefer(opts?: CallOptions): Promise<unknown>;
  /** `obj[key]` there (`obj.get(key)` for a Map): numbers, strings and other keys by value. */
  _getitem(key: unknown, opts?: CallOptions): Promise<unknown>;
  /** `obj[key] = value` there (`obj.set(key, value)` for a Map). */
  _setitem(key: unknown, value: unknown, opts?: CallOptions): Promise<void>;
  /** Release this reference now (the server drops the object when no reference remains). */
  _release(): void;
  /** The same remote object with other default options (shares the reference). */
  _options(opts: CallOptions): ObjectProxy;
  readonly _ref: Readonly<ProxyRef>;
  readonly _released: boolean;
  readonly then: undefined;
  /** Iterates the remote object (async or sync iterable), one round trip per item. */
  [Symbol.asyncIterator](): AsyncIterator<unknown>;
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
  if (s.path.length)
    throw new InvalidArgumentError(
      `send the proxy of the object or the attribute's value (await proxy.${s.path.join('.')}), not a deferred attribute`,
    );
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
  const send = (action: ProxyAction, p: string[], args: unknown[], o: CallOptions | undefined): Promise<unknown> => {
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
    _undefer: (o?: CallOptions) => (path.length ? send('get', path, [], o) : Promise.resolve(proxy)),
    _getitem: (key: unknown, o?: CallOptions) => send('getitem', path, [key], o),
    _setitem: (key: unknown, value: unknown, o?: CallOptions) => send('setitem', path, [key, value], o).then(() => undefined),
    _release: () => {
      if (state.released) return;
      state.released = true;
      state.host.release(state.ref);
    },
    _options: (o: CallOptions) => make(state, path, { ...opts, ...o }),
  };
  // A deferred attribute is awaitable: its `then` sends one get of the whole path.
  const then = (onValue?: (v: unknown) => unknown, onError?: (e: unknown) => unknown) =>
    send('get', path, [], undefined).then(onValue, onError);
  const iterate = () => remoteIterator(send('iterate', path, [], { returnType: 'proxy' }) as Promise<ObjectProxy>, opts);
  const target = function () {};
  const proxy: ObjectProxy = new Proxy(target, {
    get(_t, prop) {
      if (typeof prop === 'symbol') {
        if (prop === inspect.custom || prop === Symbol.toPrimitive)
          return () => `<ObjectProxy ${what(path)} #${state.ref.objectId} at ${state.host.address}>`;
        if (prop === Symbol.asyncIterator) return iterate;
        return undefined;
      }
      if (prop === 'then') return path.length ? then : undefined;
      if (prop === '_ref') return state.ref;
      if (prop === '_released') return state.released;
      if (prop === 'toString' || prop === 'toJSON')
        return () => `<ObjectProxy ${what(path)} #${state.ref.objectId} at ${state.host.address}>`;
      if (Object.hasOwn(ops, prop)) return ops[prop];
      return make(state, [...path, prop], opts);
    },
    // Pyacq's attribute set: fire-and-forget (`await proxy._set(name, v)` waits and reports errors).
    set(_t, prop, value: unknown) {
      if (typeof prop === 'symbol') throw new InvalidArgumentError(`a proxy's symbol properties cannot be set (${String(prop)})`);
      live();
      const p = [...path, prop];
      send('set', p, [value], { sync: 'off' }).catch((err: unknown) =>
        process.emitWarning(`set ${what(p)} was not sent: ${err instanceof Error ? err.message : String(err)}`, { code: 'SLUICE_RPC' }),
      );
      return true;
    },
    apply(_t, _this, args: unknown[]) {
      return call(path, args);
    },
  }) as unknown as ObjectProxy;
  states.set(proxy, { state, path });
  return proxy;
}

/** Drives the server's iterator handle (core.ts's RemoteIterator): next() per item, close() when left early. */
async function* remoteIterator(handle: Promise<ObjectProxy>, opts: CallOptions): AsyncGenerator<unknown, void, undefined> {
  // Each next() waits as long as the iterated proxy's timeout allows (a slow source: _options({ timeout })).
  const it = (await handle)._options(opts);
  let done = false;
  try {
    for (;;) {
      const r = (await it.next()) as { done: boolean; value: unknown };
      if (r.done) {
        done = true;
        return;
      }
      yield r.value;
    }
  } finally {
    // A loop left by break or an error: let the remote iterator run its cleanup (return()).
    if (!done) await it.close().catch(() => {});
    it._release();
  }
}
