// RPCClient: calls objects of one RPC server. One client per server address in a process
// (RPCClient.connect and proxy references share it). Arguments go by value when they are plain
// data and by proxy otherwise, through this process's RPCServer (the `localServer` option, else
// the first one started); results come back by the call's return type.
import { ConnectionError, InvalidArgumentError, TimeoutError } from '../errors.js';
import type { PVAny, PVStructure } from '../pvdata/values.js';
import { RemoteCallError } from './errors.js';
import { newRefId } from './objects.js';
import { createProxy, proxyRefOf, type CallOptions, type ObjectProxy, type ProxyHost } from './proxy.js';
import { transportFor, type RpcConnection } from './transport.js';
import { decodeValue, encodeValue, type Action, type DecodeContext, type EncodeContext, type ProxyRef, type RpcReply } from './wire.js';

export const DEFAULT_TIMEOUT_MS = 10_000;

/** What a client needs of a server in its own process, to lend it objects (RPCServer implements it). */
export interface LocalEndpoint {
  readonly address: string;
  /** A new reference to a local object, for sending it by proxy. */
  lend(obj: object): ProxyRef;
  /** The local object a reference of this endpoint names. */
  objectOf(ref: ProxyRef): object;
}

const endpoints: LocalEndpoint[] = [];
/** @internal RPCServer registers itself while it runs. */
export function registerEndpoint(e: LocalEndpoint): () => void {
  endpoints.push(e);
  return () => {
    const i = endpoints.indexOf(e);
    if (i >= 0) endpoints.splice(i, 1);
  };
}

const clients = new Map<string, RPCClient>();

export interface RPCClientOptions {
  /** The server that lends this client's local objects (default: the first RPCServer started in this process). */
  localServer?: LocalEndpoint;
  /** Default call options of proxies made by this client. */
  defaults?: CallOptions;
}

export class RPCClient implements ProxyHost {
  readonly address: string;
  readonly #conn: RpcConnection;
  readonly #pending = new Set<(err: Error) => void>();
  #localServer: LocalEndpoint | undefined;
  #closedReason: string | null = null;
  defaults: CallOptions;

  private constructor(address: string, options: RPCClientOptions) {
    this.address = address;
    this.#localServer = options.localServer;
    this.defaults = options.defaults ?? {};
    this.#conn = transportFor(address).connect(address);
    this.#conn.onClosed((reason) => {
      // The server's address dies with it (port 0, objects gone): a lost link is final too.
      this.#closedReason ??= reason;
      const err = new ConnectionError('ERR_CONNECTION_CLOSED', `${reason} (${address}): the call did not complete`);
      for (const reject of [...this.#pending]) reject(err);
      // Nothing more will come from there: free the socket (a process must be able to exit).
      if (clients.get(address) === this) clients.delete(address);
      this.#conn.close();
    });
  }

  /** The client of `address` (created on first use; the connection opens with the first call). */
  static forAddress(address: string, options: RPCClientOptions = {}): RPCClient {
    let c = clients.get(address);
    if (!c) {
      c = new RPCClient(address, options);
      clients.set(address, c);
    } else if (options.localServer) c.#localServer = options.localServer;
    return c;
  }

  /** The client of `address`, once the server answered a ping. */
  static async connect(address: string, options: RPCClientOptions & { timeout?: number } = {}): Promise<RPCClient> {
    const c = RPCClient.forAddress(address, options);
    await c.ping({ timeout: options.timeout ?? DEFAULT_TIMEOUT_MS });
    return c;
  }

  /** Set when the server said it closed: every call fails at once. */
  get closedReason(): string | null {
    return this.#closedReason;
  }

  /** A proxy to the object published under `name` (Pyacq's `client['name']`). */
  get(name: string, opts: CallOptions = {}): Promise<ObjectProxy> {
    return this.#request('lookup', 0n, [name], [], { returnType: 'proxy', ...opts }) as Promise<ObjectProxy>;
  }

  /** A proxy to a module imported by the server (`await import(specifier)` there; the server must allow imports). */
  import(specifier: string, opts: CallOptions = {}): Promise<ObjectProxy> {
    return this.#request('import', 0n, [specifier], [], { returnType: 'proxy', ...opts }) as Promise<ObjectProxy>;
  }

  /** The server's clock (ms since the epoch, sub-millisecond resolution) when it answered. */
  async ping(opts: CallOptions = {}): Promise<number> {
    return (await this.#request('ping', 0n, [], [], opts)) as number;
  }

  /** Ask the server to close (Pyacq's close_server); its clients' pending calls fail. */
  async closeServer(opts: CallOptions = {}): Promise<void> {
    await this.#request('close', 0n, [], [], opts);
  }

  /** @internal ProxyHost */
  send(action: 'call' | 'get' | 'set', ref: ProxyRef, path: string[], args: unknown[], opts: CallOptions): Promise<unknown> {
    return this.#request(action, ref.objectId, path, args, opts, ref);
  }

  /** @internal ProxyHost: a fire-and-forget delete; a closed server has nothing left to release. */
  release(ref: ProxyRef): void {
    if (this.#closedReason !== null) return;
    this.#request('delete', ref.objectId, [], [], { sync: 'off' }, ref).catch(() => {});
  }

  /** @internal Tell the owner of `ref` (this client's server) that one more holder, `ref.refId`, has it. */
  async addRef(ref: ProxyRef): Promise<void> {
    await this.#request('addref', ref.objectId, [], [], {}, ref);
  }

  async #request(action: Action, objectId: bigint, path: string[], args: unknown[], opts: CallOptions, ref?: ProxyRef): Promise<unknown> {
    const o = { ...this.defaults, ...opts };
    const what = describe(action, ref, path);
    if (this.#closedReason !== null) throw new ConnectionError('ERR_CONNECTION_CLOSED', `${what}: ${this.#closedReason} (${this.address})`);
    const timeout = o.timeout ?? DEFAULT_TIMEOUT_MS;
    const local = this.#local();
    const enc: EncodeContext = {
      refOf: proxyRefOf,
      proxyOf: (v) => {
        if (!local) {
          throw new InvalidArgumentError(
            `${what}: sending a ${typeNameOf(v)} by proxy needs an RPCServer in this process (start one, or pass localServer)`,
          );
        }
        return local.lend(v);
      },
    };
    const request: PVStructure = {
      action,
      sync: o.sync ?? 'sync',
      returnType: o.returnType ?? 'auto',
      objectId,
      path,
      args: args.map((a) => encodeValue(a, enc)),
      refId: ref?.refId ?? '',
      sender: local?.address ?? '',
    };
    if (o.sync === 'off') {
      this.#conn.request(request, timeout).catch(() => {});
      return undefined;
    }
    const reply = await this.#track(this.#conn.request(request, timeout), what, timeout);
    return this.#decodeReply(reply as unknown as RpcReply, what, local);
  }

  #track(p: Promise<PVStructure>, what: string, timeout: number): Promise<PVStructure> {
    return new Promise((resolve, reject) => {
      const fail = (err: Error) => {
        this.#pending.delete(fail);
        if (err instanceof TimeoutError)
          reject(new TimeoutError(`${what} got no reply within ${timeout} ms (${this.address})`, { cause: err }));
        else if (err instanceof ConnectionError)
          reject(new ConnectionError(err.code as 'ERR_CONNECTION_CLOSED', `${what}: ${err.message}`, { cause: err }));
        else reject(err);
      };
      this.#pending.add(fail);
      p.then((v) => {
        this.#pending.delete(fail);
        resolve(v);
      }, fail);
    });
  }

  async #decodeReply(reply: RpcReply, what: string, local: LocalEndpoint | undefined): Promise<unknown> {
    if (!reply.ok) throw new RemoteCallError(what, reply.errorName, reply.errorMessage, reply.errorStack, reply.errorCode ?? '');
    const pending: Promise<unknown>[] = [];
    const dec: DecodeContext = {
      fromRef: (ref) => {
        // The server we called lent it: the reference is ours already (a proxy even when that
        // server runs in this process: the caller asked for a remote object).
        if (ref.address === this.address) return createProxy(this, ref, this.defaults);
        if (local && ref.address === local.address) return local.objectOf(ref);
        return forwardedProxy(ref, pending, this.defaults);
      },
    };
    const v = decodeValue(reply.value as PVAny | null, dec);
    if (pending.length) await Promise.all(pending);
    return v;
  }

  #local(): LocalEndpoint | undefined {
    return this.#localServer ?? endpoints[0];
  }

  /** Stop using this address (proxies made by this client fail their calls). */
  close(): void {
    clients.delete(this.address);
    this.#closedReason = 'the client closed';
    this.#conn.close();
  }
}

/**
 * A proxy of an object that a third process lent to the sender: it becomes ours under a new
 * reference id, registered with the owner before the value is used (awaited via `pending`), so
 * the sender may release its own reference at once.
 */
export function forwardedProxy(ref: ProxyRef, pending: Promise<unknown>[], defaults: CallOptions = {}): ObjectProxy {
  const client = RPCClient.forAddress(ref.address);
  const mine = { ...ref, refId: newRefId() };
  pending.push(client.addRef(mine));
  return createProxy(client, mine, defaults);
}

function describe(action: Action, ref: ProxyRef | undefined, path: string[]): string {
  const target = [ref?.typeName || (ref ? 'object' : ''), ...path].filter((s) => s !== '').join('.');
  return action === 'call' ? `call of ${target}()` : `${action} ${target}`.trim();
}

function typeNameOf(v: unknown): string {
  if (typeof v === 'function') return `function ${v.name || '(anonymous)'}`;
  return (v as object | null)?.constructor?.name ?? typeof v;
}
