// The transport-neutral server side: decodes a request structure, finds its object (a published
// name, or an id of the object table), runs the action and encodes the reply. Every failure,
// hostile input included, becomes an error reply naming the cause; nothing here throws to the
// transport. Calls run concurrently, so a method may call back into its caller's server (A -> B
// -> A) while its own reply waits.
import { AsyncLocalStorage } from 'node:async_hooks';
import { performance } from 'node:perf_hooks';
import { SluiceError } from '../errors.js';
import type { PeerInfo } from '../pv/source.js';
import type { PVAny, PVStructure } from '../pvdata/values.js';
import { forwardedProxy, RPCClient, type LocalEndpoint } from './client.js';
import { ObjectTable } from './objects.js';
import { createProxy, proxyRefOf } from './proxy.js';
import { signaturesOf } from './signature.js';
import {
  ACTIONS,
  decodeValue,
  encodeValue,
  WIRE_LIMITS,
  type Action,
  type DecodeContext,
  type EncodeContext,
  type ProxyRef,
  type ReturnType,
  type RpcRequest,
} from './wire.js';

const callers = new AsyncLocalStorage<PeerInfo>();

/**
 * Who sent the request a published method is running for (its pvAccess peer, account and the RPC
 * PV's name), or undefined outside a request (a local call). A service that must know its caller
 * (the channel server's registered clients) asks this instead of trusting an argument.
 */
export function currentCaller(): PeerInfo | undefined {
  return callers.getStore();
}

/** Run `fn` as the handling of a request from `caller` (what currentCaller() returns inside). */
export function runAsCaller<T>(caller: PeerInfo | undefined, fn: () => T): T {
  return caller ? callers.run(caller, fn) : fn();
}

/** Attribute names never followed: they lead from any object to the Function constructor. */
const FORBIDDEN = new Set(['__proto__', 'prototype', 'constructor']);

export interface CoreStats {
  /** Objects lent out (by proxy) and not yet released by every holder. */
  objects: number;
  references: number;
  published: number;
  requests: number;
  errors: number;
}

export interface CoreOptions {
  /** Lines about requests that failed with nobody to tell (fire-and-forget calls). */
  log?: (line: string) => void;
  /** Allow the import action (`await import(specifier)` on request): default false. */
  allowImport?: boolean;
  /** Called after a client asked the server to close (the close action). */
  onCloseRequest?: () => void;
}

export class RpcCore implements LocalEndpoint {
  readonly table = new ObjectTable();
  address = '';
  #requests = 0;
  #errors = 0;
  /** Where failures nobody waits for are told. */
  readonly log: (line: string) => void;
  readonly #allowImport: boolean;
  readonly #onCloseRequest: (() => void) | undefined;

  constructor(options: CoreOptions = {}) {
    this.log = options.log ?? ((line) => process.emitWarning(line, { code: 'SLUICE_RPC' }));
    this.#allowImport = options.allowImport ?? false;
    this.#onCloseRequest = options.onCloseRequest;
  }

  get stats(): CoreStats {
    return {
      objects: this.table.objectCount,
      references: this.table.referenceCount,
      published: this.table.publishedNames.length,
      requests: this.#requests,
      errors: this.#errors,
    };
  }

  lend(obj: object): ProxyRef {
    const { objectId, refId } = this.table.issue(obj);
    return { address: this.address, objectId, refId, typeName: typeNameOf(obj), signatures: signaturesOf(obj) };
  }

  objectOf(ref: ProxyRef): object {
    return this.table.get(ref.objectId);
  }

  /** Answer one request (a value of wire.ts's requestType) from `caller`; never rejects. */
  handle(req: PVStructure, caller?: PeerInfo): Promise<PVStructure> {
    return runAsCaller(caller, () => this.#handle(req));
  }

  async #handle(req: PVStructure): Promise<PVStructure> {
    this.#requests++;
    let what = 'request';
    try {
      const r = checkRequest(req);
      what = `${r.action} ${r.path.join('.')}`.trim();
      const pending: Promise<unknown>[] = [];
      const args = r.args.map((a) => decodeValue(a, this.#decodeContext(r.sender, pending)));
      if (pending.length) await Promise.all(pending);
      if (r.sync === 'off') {
        this.#run(r.action, r.objectId, r.path, args, r.refId).catch((err: unknown) => {
          this.#errors++;
          this.log(`fire-and-forget ${what} failed: ${describeError(err)}`);
        });
        return okReply({ type: encodeValue(undefined, this.#encodeContext()).type, value: {} });
      }
      const result = await this.#run(r.action, r.objectId, r.path, args, r.refId);
      return okReply(encodeValue(result, this.#encodeContext(), r.returnType));
    } catch (err) {
      this.#errors++;
      return errorReply(err, what);
    }
  }

  #encodeContext(): EncodeContext {
    return { refOf: proxyRefOf, proxyOf: (v) => this.lend(v) };
  }

  #decodeContext(sender: string, pending: Promise<unknown>[]): DecodeContext {
    return {
      fromRef: (ref) => {
        if (ref.address === this.address) return this.objectOf(ref);
        // The caller lent it: the reference is ours already.
        if (ref.address === sender) return createProxy(RPCClient.forAddress(ref.address), ref);
        return forwardedProxy(ref, pending);
      },
    };
  }

  async #run(action: Action, objectId: bigint, path: string[], args: unknown[], refId: string): Promise<unknown> {
    switch (action) {
      case 'ping':
        return performance.timeOrigin + performance.now();
      case 'lookup': {
        const name = path[0] ?? '';
        const obj = this.table.published(name);
        if (obj === undefined) {
          throw new SluiceError(
            'ERR_INVALID_ARGUMENT',
            `no object published as '${name}' (published: ${this.table.publishedNames.join(', ') || 'none'})`,
          );
        }
        return obj;
      }
      case 'import': {
        if (!this.#allowImport) throw new SluiceError('ERR_ACCESS_DENIED', 'this RPC server does not allow imports (allowImport option)');
        const spec = path[0] ?? '';
        return (await import(spec)) as object;
      }
      case 'delete':
        this.table.release(objectId, refId);
        return undefined;
      case 'addref':
        this.table.addRef(objectId, refId);
        return undefined;
      case 'close':
        if (this.#onCloseRequest) setImmediate(this.#onCloseRequest);
        return undefined;
      case 'get':
        return walk(this.#target(objectId, path), path, path.length);
      case 'set': {
        if (path.length === 0) throw new SluiceError('ERR_INVALID_ARGUMENT', 'set needs an attribute name');
        const owner = walk(this.#target(objectId, path), path, path.length - 1) as Record<string, unknown>;
        if (owner === null || (typeof owner !== 'object' && typeof owner !== 'function')) {
          throw new SluiceError('ERR_INVALID_ARGUMENT', `${path.slice(0, -1).join('.') || 'the object'} has no attributes`);
        }
        owner[path[path.length - 1] as string] = args[0];
        return undefined;
      }
      case 'call': {
        const target = this.#target(objectId, path);
        const owner = walk(target, path, path.length - 1);
        const fn = path.length === 0 ? target : (owner as Record<string, unknown>)[path[path.length - 1] as string];
        if (typeof fn !== 'function') throw new SluiceError('ERR_INVALID_ARGUMENT', `${path.join('.') || 'the object'} is not a function`);
        return await (fn as (...a: unknown[]) => unknown).apply(owner, args);
      }
    }
    throw new SluiceError('ERR_INVALID_ARGUMENT', `unknown action '${String(action)}'`);
  }

  #target(objectId: bigint, path: string[]): unknown {
    if (objectId !== 0n) return this.table.get(objectId);
    // Id 0: the head of the path is a published name (pvcall's object=NAME or NAME.method).
    const name = path.shift() ?? '';
    const obj = this.table.published(name);
    if (obj === undefined) throw new SluiceError('ERR_INVALID_ARGUMENT', `no object published as '${name}'`);
    return obj;
  }
}

function walk(root: unknown, path: string[], n: number): unknown {
  let o = root;
  for (let i = 0; i < n; i++) {
    const k = path[i] as string;
    if (FORBIDDEN.has(k)) throw new SluiceError('ERR_ACCESS_DENIED', `attribute '${k}' is not reachable over RPC`);
    if (o === null || o === undefined)
      throw new SluiceError('ERR_INVALID_ARGUMENT', `${path.slice(0, i).join('.')} is ${String(o)}: no attribute ${k}`);
    o = (o as Record<string, unknown>)[k];
  }
  return o;
}

/** A request whose fields were checked; a fire-and-forget one is 'off', any other answers. */
type CheckedRequest = Omit<RpcRequest, 'sync'> & { sync: 'sync' | 'off' };

/** The fields of a request, checked: a peer may send anything of the request type's shape. */
function checkRequest(req: PVStructure): CheckedRequest {
  const action = req['action'] as Action;
  if (!(ACTIONS as readonly string[]).includes(action))
    throw new SluiceError('ERR_INVALID_ARGUMENT', `unknown action '${String(action)}' (known: ${ACTIONS.join(', ')})`);
  const sync = req['sync'] === 'off' ? 'off' : 'sync';
  const rt = req['returnType'];
  const returnType: ReturnType = rt === 'value' || rt === 'proxy' ? rt : 'auto';
  const path = req['path'] as unknown;
  if (!Array.isArray(path) || !path.every((p) => typeof p === 'string'))
    throw new SluiceError('ERR_INVALID_ARGUMENT', 'path must be an array of strings');
  const args = (req['args'] ?? []) as unknown;
  if (!Array.isArray(args)) throw new SluiceError('ERR_INVALID_ARGUMENT', 'args must be an array of variants');
  if (args.length > WIRE_LIMITS.args) throw new SluiceError('ERR_LIMIT', `${args.length} arguments: at most ${WIRE_LIMITS.args}`);
  const objectId = typeof req['objectId'] === 'bigint' ? (req['objectId'] as bigint) : 0n;
  return {
    action,
    sync,
    returnType,
    objectId,
    path: [...(path as string[])],
    args: args as (PVAny | null)[],
    refId: String(req['refId'] ?? ''),
    sender: String(req['sender'] ?? ''),
  };
}

function okReply(value: PVAny): PVStructure {
  return { ok: true, value, errorName: '', errorMessage: '', errorStack: '', errorCode: '' };
}

export function describeError(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

function errorReply(err: unknown, what: string): PVStructure {
  if (!(err instanceof Error))
    return { ok: false, value: null, errorName: typeof err, errorMessage: `${what} threw ${String(err)}`, errorStack: '', errorCode: '' };
  const e = err;
  const code = (e as { code?: unknown }).code;
  return {
    ok: false,
    value: null,
    errorName: e.name,
    errorMessage: e.message || `${what} failed`,
    errorStack: e.stack ?? '',
    // A SluiceError's stable code (or a Node error's), so the caller can tell causes apart.
    errorCode: typeof code === 'string' ? code : '',
  };
}

export function typeNameOf(v: object): string {
  if (typeof v === 'function') return v.name || 'function';
  if (Object.prototype.toString.call(v) === '[object Module]') return 'module';
  return (v as { constructor?: { name?: string } }).constructor?.name ?? 'object';
}
