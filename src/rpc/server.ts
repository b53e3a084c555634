// RPCServer: serves named objects (`server.publish('name', obj)`, Pyacq's `server['name'] = obj`)
// on a pvAccess RPC PV, `<name>:rpc`, of its own pvAccess server. Clients get proxies to them
// (RPCClient); `pvcall` and `sluice call` can call their methods with NTURI queries.
// Not a sandbox: anyone who reaches the port and passes the access rules can call every method
// of every published object and of every object lent out (docs/rpc.md, security).
import type { AccessPolicy } from '../access/policy.js';
import { SluiceError } from '../errors.js';
import type { PVStructure } from '../pvdata/values.js';
import { registerEndpoint, type LocalEndpoint } from './client.js';
import type { PvaServer } from '../pva/server/server.js';
import { RpcCore, runAsCaller, type CoreStats } from './core.js';
import { hostOnPva, type PvaHost } from './pva-transport.js';
import { isObjectProxy } from './proxy.js';
import type { ProxyRef } from './wire.js';
import { uriArguments, uriCall, uriResult } from './uri.js';

export interface RPCServerOptions {
  /** Server name: the RPC PV is `<name>:rpc` (default 'sluice'). */
  name?: string;
  /** The RPC PV's full name, instead of `<name>:rpc`. */
  pvName?: string;
  /** Interface to listen on (default 127.0.0.1; '0.0.0.0' serves other hosts). */
  host?: string;
  /** TCP port (default 0: a free one). */
  port?: number;
  /** pvAccess access rules (ACF, PV lists) that decide who may call (default: everyone). */
  access?: AccessPolicy;
  /** Access security group of the RPC PV. */
  accessGroup?: string;
  /** Where errors nobody waits for go (fire-and-forget calls); default a process warning. */
  log?: (line: string) => void;
  /** Allow clients to import modules here (`client.import(specifier)`); default false. */
  allowImport?: boolean;
  /**
   * Serve the RPC PV on this pvAccess server (listening already) instead of starting one; host,
   * port and access are then the server's, and close() leaves it running.
   */
  server?: PvaServer;
}

export class RPCServer implements LocalEndpoint {
  readonly name: string;
  readonly #core: RpcCore;
  readonly #host: PvaHost;
  readonly #unregister: () => void;
  #closing: Promise<void> | null = null;
  #closedWaiters: (() => void)[] = [];

  private constructor(name: string, core: RpcCore, host: PvaHost) {
    this.name = name;
    this.#core = core;
    this.#host = host;
    core.address = host.address;
    this.#unregister = registerEndpoint(this);
  }

  static async start(options: RPCServerOptions = {}): Promise<RPCServer> {
    const name = options.name ?? 'sluice';
    // The core exists before the server it asks to close (a client's close request).
    const self: { server?: RPCServer } = {};
    const core = new RpcCore({
      ...(options.log ? { log: options.log } : {}),
      allowImport: options.allowImport ?? false,
      onCloseRequest: () => void self.server?.close(),
    });
    const host = await hostOnPva(
      {
        pvName: options.pvName ?? `${name}:rpc`,
        ...(options.host !== undefined ? { host: options.host } : {}),
        ...(options.port !== undefined ? { port: options.port } : {}),
        ...(options.access ? { access: options.access } : {}),
        ...(options.accessGroup !== undefined ? { accessGroup: options.accessGroup } : {}),
        ...(options.server ? { server: options.server } : {}),
      },
      {
        request: (value, peer) => core.handle(value, peer),
        uri: (args, peer) =>
          runAsCaller(peer, async () => {
            const { path, named } = uriCall(args.value as PVStructure);
            const owner = core.table.published(path[0] as string);
            if (owner === undefined) throw new SluiceError('ERR_INVALID_ARGUMENT', `no object published as '${path[0]}'`);
            const method = path[path.length - 1] as string;
            let target: object = owner;
            for (const k of path.slice(1, -1)) target = (target as Record<string, object>)[k] as object;
            const what = path.join('.');
            const fn = (target as Record<string, unknown> | undefined)?.[method];
            if (typeof fn !== 'function') throw new SluiceError('ERR_INVALID_ARGUMENT', `${what} is not a method`);
            const result = (await (fn as (...a: unknown[]) => unknown).apply(target, uriArguments(what, target, method, named))) as unknown;
            return uriResult(result);
          }),
      },
    );
    self.server = new RPCServer(name, core, host);
    return self.server;
  }

  /** `pva://HOST:PORT/PV`: what RPCClient.connect takes. */
  get address(): string {
    return this.#host.address;
  }

  /** Serve `obj` as `name` (replacing an object of that name). */
  publish(name: string, obj: object): this {
    if (obj === null || (typeof obj !== 'object' && typeof obj !== 'function'))
      throw new SluiceError('ERR_INVALID_ARGUMENT', `publish('${name}'): only objects and functions can be published`);
    this.#core.table.publish(name, obj);
    return this;
  }

  unpublish(name: string): boolean {
    return this.#core.table.unpublish(name);
  }

  /** Objects lent out and their references, published names, requests and failed requests. */
  get stats(): CoreStats {
    return this.#core.stats;
  }

  /** @internal LocalEndpoint */
  lend(obj: object): ProxyRef {
    return this.#core.lend(obj);
  }

  /** @internal LocalEndpoint */
  objectOf(ref: ProxyRef): object {
    return this.#core.objectOf(ref);
  }

  /**
   * Call `callback` (a proxy of a remote function or object method, or a local function) every
   * `intervalMs`, at most `limit` times (Pyacq's start_timer). Remote calls are fire-and-forget:
   * a slow receiver does not delay the schedule; failures of local calls go to the log.
   */
  startTimer(callback: (...args: unknown[]) => unknown, intervalMs: number, limit = Infinity): { stop(): void; readonly count: number } {
    if (!(intervalMs > 0)) throw new SluiceError('ERR_INVALID_ARGUMENT', `timer interval must be positive, got ${intervalMs}`);
    const remote = isObjectProxy(callback) ? callback._options({ sync: 'off' }) : null;
    let count = 0;
    const tick = (): void => {
      count++;
      if (count >= limit) stop();
      if (remote) void remote();
      else {
        Promise.resolve()
          .then(() => callback())
          .catch((err: unknown) => this.#core.log(`timer callback failed: ${err instanceof Error ? err.message : String(err)}`));
      }
    };
    const timer = setInterval(tick, intervalMs);
    const stop = (): void => {
      clearInterval(timer);
      this.#timers.delete(stop);
    };
    this.#timers.add(stop);
    return {
      stop,
      get count() {
        return count;
      },
    };
  }

  readonly #timers = new Set<() => void>();

  /** Tell clients (their pending calls fail), stop listening and drop every object. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const stop of [...this.#timers]) stop();
      this.#unregister();
      await this.#host.close();
      this.#core.table.clear();
      for (const w of this.#closedWaiters.splice(0)) w();
    })();
    return this.#closing;
  }

  /** Resolves once the server closed (by close(), or a client's closeServer()). */
  whenClosed(): Promise<void> {
    if (this.#closing) return this.#closing;
    return new Promise((resolve) => this.#closedWaiters.push(resolve));
  }
}
