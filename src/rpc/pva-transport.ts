// The pvAccess transport of the RPC core: a server's objects are one RPC PV (`<name>:rpc`) on a
// pvAccess server, each call one pvAccess RPC whose argument and result are wire.ts's request and
// reply structures. The same PV answers a plain NTURI request (what `pvcall` and `sluice call`
// send) and can be monitored: its `state` field turns to 'closed' when the server closes, so
// clients fail their pending calls at once. This is the one file of src/rpc that knows the
// pvAccess client and server classes.
import type { AccessPolicy } from '../access/policy.js';
import { ConnectionError, InvalidArgumentError, TimeoutError } from '../errors.js';
import { PvaClient } from '../pva/client/client.js';
import type { RpcSession } from '../pva/client/rpc-session.js';
import { PvaServer } from '../pva/server/server.js';
import type { PeerInfo, RpcArgs, RpcResult } from '../pv/source.js';
import { SharedPV } from '../pv/shared-pv.js';
import { t } from '../pvdata/types.js';
import type { PVStructure } from '../pvdata/values.js';
import { registerTransport, type RpcConnection, type RpcTransport } from './transport.js';
import { replyType, requestType } from './wire.js';

export const PVA_SCHEME = 'pva';
/** Type fields a request may describe (a pvAccess server's default is 1024). */
const MAX_TYPE_FIELDS = 65_536;
/** RPC operations kept open per client: calls in flight beyond it use one-shot operations. */
const MAX_SESSIONS = 64;

const statusType = t.struct([['state', t.string]], 'sluice:rpc/Status:1.0');

export interface PvaAddress {
  host: string;
  port: number;
  pv: string;
}

export function parsePvaAddress(address: string): PvaAddress {
  const m = /^pva:\/\/(\[[^\]]+\]|[^/:]+):(\d+)\/(.+)$/.exec(address);
  if (!m) throw new InvalidArgumentError(`'${address}' is not a pvAccess RPC address (pva://HOST:PORT/PV)`);
  return { host: (m[1] as string).replace(/^\[|\]$/g, ''), port: Number(m[2]), pv: m[3] as string };
}

export function formatPvaAddress(a: PvaAddress): string {
  const host = a.host.includes(':') ? `[${a.host}]` : a.host;
  return `${PVA_SCHEME}://${host}:${a.port}/${a.pv}`;
}

export interface PvaHostOptions {
  pvName: string;
  /** Interface to listen on (default 127.0.0.1: only this host can call). */
  host?: string;
  /** TCP port (default 0: a free one). */
  port?: number;
  /** Access rules of the pvAccess server (who may call: the RPC PV's ASG rules apply). */
  access?: AccessPolicy;
  /** Access security group of the RPC PV. */
  accessGroup?: string;
  /**
   * Serve the PV on this pvAccess server (listening already) instead of a new one: host, port
   * and access are then the server's, and close() removes only the PV.
   */
  server?: PvaServer;
}

/** What the core answers: a request structure, or an NTURI (pvcall) request. */
export interface PvaRequestHandler {
  request(value: PVStructure, peer: PeerInfo): Promise<PVStructure>;
  uri(args: RpcArgs, peer: PeerInfo): Promise<RpcResult>;
}

export interface PvaHost {
  address: string;
  /** Tell monitoring clients the server closes, then stop listening. */
  close(): Promise<void>;
}

export async function hostOnPva(opts: PvaHostOptions, handler: PvaRequestHandler): Promise<PvaHost> {
  const host = opts.host ?? '127.0.0.1';
  const shared = opts.server;
  const server =
    shared ??
    new PvaServer({
      host,
      port: opts.port ?? 0,
      udpPort: false,
      env: { EPICS_PVAS_AUTO_BEACON_ADDR_LIST: 'NO', EPICS_PVAS_BEACON_ADDR_LIST: '' },
      // Every argument and list element carries its type: room for wire.ts's argument limit.
      limits: { maxTypeFields: MAX_TYPE_FIELDS },
      ...(opts.access ? { access: opts.access } : {}),
    });
  const pv = new SharedPV({
    ...(opts.accessGroup !== undefined ? { accessGroup: opts.accessGroup } : {}),
    onRpc: (_pv, args, peer) => {
      if (args.type && args.type.kind === 'structure' && args.type.id === requestType.id) {
        return handler.request(args.value as PVStructure, peer).then((value) => ({ type: replyType, value }));
      }
      return handler.uri(args, peer);
    },
  });
  pv.open(statusType, { state: 'open' });
  server.addPV(opts.pvName, pv);
  const port = shared ? shared.tcpPort : await server.listen();
  // A server listening on every interface is reached on this host's loopback address.
  const bound = shared ? shared.tcpHost : host;
  const reachable = !shared ? host : bound === '' || bound === '0.0.0.0' ? '127.0.0.1' : bound === '::' ? '::1' : bound;
  return {
    address: formatPvaAddress({ host: reachable, port, pv: opts.pvName }),
    async close() {
      pv.post({ state: 'closed' });
      if (shared) {
        // Monitors get the 'closed' state, then the finish update (their monitor ends).
        shared.removePV(opts.pvName, { end: true });
        return;
      }
      // The post is queued per monitor; closing the PV sends it before the final message.
      pv.close();
      await server.close();
    },
  };
}

/** One pvAccess client per RPC server address; its channel is the RPC PV. */
class PvaConnection implements RpcConnection {
  readonly #client: PvaClient;
  readonly #pv: string;
  readonly #listeners = new Set<(reason: string) => void>();
  #closed = false;
  readonly #idle: RpcSession[] = [];
  #sessions = 0;

  constructor(address: string) {
    const a = parsePvaAddress(address);
    this.#pv = a.pv;
    this.#client = new PvaClient({
      env: {},
      config: { nameServers: [{ host: a.host, port: a.port }], addressList: [], autoAddressList: false },
      beaconPort: false,
      reconnectDelayMs: 200,
    });
    void this.#watch();
  }

  async #watch(): Promise<void> {
    const sub = this.#client.monitor(this.#pv, { queueSize: 2 });
    sub.on('disconnect', () => this.#tell('the connection to the RPC server was lost'));
    sub.on('error', () => {});
    try {
      for await (const u of sub) {
        if (u.value['state'] === 'closed') {
          this.#tell('the RPC server closed');
          break;
        }
      }
    } catch {
      // The client closed, or the PV went away: nothing more to watch.
    }
    sub.close();
  }

  #tell(reason: string): void {
    for (const l of [...this.#listeners]) l(reason);
  }

  request(request: PVStructure, timeoutMs: number): Promise<PVStructure> {
    if (this.#closed) return Promise.reject(new ConnectionError('ERR_CONNECTION_CLOSED', 'the RPC connection is closed'));
    // An idle session if there is one (one round trip), else a new one while there is room.
    const session = this.#idle.pop() ?? (this.#sessions < MAX_SESSIONS ? (this.#sessions++, this.#client.rpcSession(this.#pv)) : null);
    const args = { type: requestType, value: request };
    const sent = session ? session.request(args, timeoutMs) : this.#client.rpc(this.#pv, args, { timeoutMs });
    return sent.then(
      (r) => {
        if (session) this.#idle.push(session);
        return r.value as PVStructure;
      },
      (err: unknown) => {
        // A session that failed reopens on its next request.
        if (session) this.#idle.push(session);
        if (err instanceof TimeoutError) throw new TimeoutError(`no reply within ${timeoutMs} ms`, { cause: err });
        throw err;
      },
    );
  }

  onClosed(listener: (reason: string) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  close(): void {
    this.#closed = true;
    for (const s of this.#idle.splice(0)) s.close();
    this.#client.close();
  }
}

export const pvaTransport: RpcTransport = {
  scheme: PVA_SCHEME,
  connect: (address) => new PvaConnection(address),
};

registerTransport(pvaTransport);
