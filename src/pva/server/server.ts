// The pvAccess server: a table of named PVs (Sources, plus on-demand PVSources), a TCP listener, and
// UDP discovery. handle() takes any Duplex stream, so tests can run it over an in-memory pair.
import { randomBytes } from 'node:crypto';
import { createServer, isIP, type Server as NetServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { AccessPolicy } from '../../access/policy.js';
import { ProtocolError } from '../../errors.js';
import { PVDirectory } from '../../pv/directory.js';
import { serverConfigFromEnv, type Env, type PvaServerConfig } from '../config.js';
import type { ConnectionLimits } from '../connection.js';
import { ServerDiscovery } from '../discovery/server-discovery.js';
import { MonitorOp, type MonitorStats } from './monitor-op.js';
import { ServerConnection } from './server-conn.js';
import { SERVER_INFO_PV, serveServerInfo } from './server-info.js';
import { envNameOf, serverLimits, type PvaServerLimits } from './server-limits.js';
import type { PVSource, Source } from '../../pv/source.js';

export type { PVSource } from '../../pv/source.js';

export interface PvaServerOptions {
  /** TCP port; 0 picks a free one. Default EPICS_PVAS_SERVER_PORT or 5075, or a free port if taken. */
  port?: number;
  /**
   * Interface to listen on (default all, or the first of EPICS_PVAS_INTF_ADDR_LIST). UDP
   * searches are answered on this address only, or on every listed one.
   */
  host?: string;
  /**
   * UDP port to answer searches on (default EPICS_PVAS_BROADCAST_PORT or 5076; 0 = a free
   * port), or false for no UDP discovery (clients then find the server as a name server).
   */
  udpPort?: number | false;
  /** Environment to read EPICS_PVAS_* from (default process.env). */
  env?: Env;
  /** Limits applied to each client connection. */
  limits?: Partial<ConnectionLimits>;
  /** Receive buffer size announced in the handshake (informational for peers). */
  receiveBufferSize?: number;
  /** Access rules for reads, puts and RPCs (default: everything allowed). See docs/security.md. */
  access?: AccessPolicy;
  /**
   * What clients may use: connections, channels, monitors and monitor queue bytes (each else from
   * its SLUICE_PVAS_MAX_* variable, else its default; see docs/limits.md).
   */
  serverLimits?: Partial<PvaServerLimits>;
}

export interface PvaServerStats {
  connections: number;
  channels: number;
  puts: number;
  rpcs: number;
  /** Open monitors. */
  monitors: number;
  /**
   * Monitor updates squashed because a subscriber's queue was full (queueSize entries, or
   * maxQueueBytes / maxQueueBytesTotal bytes). Each subscription counts its own in MonitorOp.stats.overruns.
   */
  overruns: number;
  /** Monitor entries lost to reader policies (ring, clear, skip, raise; see MonitorOp.stats.dropped). */
  dropped: number;
  /** Posts a monitor did not keep because of its fill rate (MonitorOp.stats.fillSkipped). */
  fillSkipped: number;
  /** Bytes now held in all monitor queues (as bounded by maxQueueBytesTotal). */
  queuedBytes: number;
  /** Connections closed because the peer misbehaved (or was refused at a limit). */
  rejected: number;
  /** Requests (channel creations, puts, RPCs) the access rules refused. */
  denied: number;
  /** Connections, channels and monitors refused because a limit of serverLimits was reached. */
  refused: number;
}

export class PvaServer {
  readonly guid: Uint8Array = randomBytes(12);
  readonly receiveBufferSize: number;
  readonly stats: PvaServerStats = {
    connections: 0,
    channels: 0,
    puts: 0,
    rpcs: 0,
    monitors: 0,
    overruns: 0,
    dropped: 0,
    fillSkipped: 0,
    queuedBytes: 0,
    rejected: 0,
    refused: 0,
    denied: 0,
  };
  readonly serverLimits: Readonly<PvaServerLimits>;
  readonly #perPeer = new Map<string, number>();
  readonly #pvs = new PVDirectory();
  readonly #conns = new Set<ServerConnection>();
  readonly #options: PvaServerOptions;
  #net: NetServer | null = null;
  #discovery: ServerDiscovery | null = null;
  readonly config: PvaServerConfig;
  #closeListeners: ((c: ServerConnection, reason: Error | null) => void)[] = [];
  #access: AccessPolicy;

  constructor(options: PvaServerOptions = {}) {
    this.#options = options;
    this.#access = options.access ?? new AccessPolicy();
    this.config = serverConfigFromEnv(options.env ?? process.env);
    this.serverLimits = serverLimits(options.serverLimits ?? {}, options.env ?? process.env, this.config.warnings);
    this.receiveBufferSize = options.receiveBufferSize ?? 0x4400;
    serveServerInfo(this); // the "server" PV that pvlist calls
  }

  addPV(name: string, pv: Source): this {
    this.#pvs.add(name, pv);
    return this;
  }

  /**
   * Stop serving `name`, then close its PV (when it can close and is open). Its channels go after
   * their monitors sent what is queued: clients see a disconnect and search again, resuming when the
   * name is served again (as PVXS clients do). With `end`, the monitors end instead (the finish
   * update), as when the PV itself is closed.
   */
  removePV(name: string, options: { end?: boolean } = {}): boolean {
    const pv = this.#pvs.remove(name);
    if (!pv) return false;
    const monitors = options.end === true ? 'end' : 'disconnect';
    // Ours first: the PV's close() would end the monitors (see CloseKind).
    for (const c of this.#conns)
      for (const ch of [...c.channels.values()]) if (ch.name === name && ch.pv === pv) c.dropChannel(ch, monitors);
    if (pv.close && pv.type) pv.close();
    return true;
  }

  /** Names of the static PVs (what `pvlist` shows). */
  get pvNames(): string[] {
    return this.#pvs.names;
  }

  addSource(source: PVSource): this {
    this.#pvs.addSource(source);
    return this;
  }

  lookup(name: string): Source | undefined {
    return this.#pvs.lookup(name);
  }

  get access(): AccessPolicy {
    return this.#access;
  }

  /**
   * Replace the access rules (a reload): every open channel gets its rights again, and channels
   * the client may no longer read are closed (the client sees them disconnect).
   */
  set access(policy: AccessPolicy) {
    this.#access = policy;
    for (const c of this.#conns) c.reviewAccess();
  }

  /** Does this server have the channel? (discovery asks this for every searched name) */
  has(name: string): boolean {
    if (this.#access.pvlist && this.#access.hides(name)) return false;
    // Like EPICS servers, do not answer searches for the built-in "server" PV: every server has
    // one, and clients reach it by connecting to an address (pvlist HOST:PORT).
    if (name === SERVER_INFO_PV && !this.#pvs.get(name)) return false;
    return this.lookup(name) !== undefined;
  }

  /** Serve one client over any duplex stream. */
  handle(stream: Duplex): ServerConnection {
    const conn = new ServerConnection(this, stream, this.#options.limits ?? {});
    this.#conns.add(conn);
    this.stats.connections++;
    const peers = (this.#perPeer.get(conn.peerHost) ?? 0) + 1;
    this.#perPeer.set(conn.peerHost, peers);
    const refusal =
      this.limitExceeded('maxConnections', this.stats.connections, 'connections') ??
      this.limitExceeded('maxConnectionsPerPeer', peers, `connections from ${conn.peerHost}`);
    if (refusal) {
      conn.refuse(refusal);
      return conn;
    }
    conn.start();
    return conn;
  }

  /**
   * A refusal naming the limit when `count` (including the one being added) is above it, else
   * undefined. Counted in stats.refused.
   * @internal
   */
  limitExceeded(limit: keyof PvaServerLimits, count: number, what: string): ProtocolError | undefined {
    const max = this.serverLimits[limit];
    if (count <= max) return undefined;
    this.stats.refused++;
    return new ProtocolError('ERR_LIMIT', `too many ${what}: the limit is ${max} (${limit}, ${envNameOf(limit)})`);
  }

  /** @internal */
  connectionClosed(conn: ServerConnection, reason: Error | null): void {
    if (!this.#conns.delete(conn)) return;
    const peers = (this.#perPeer.get(conn.peerHost) ?? 1) - 1;
    if (peers > 0) this.#perPeer.set(conn.peerHost, peers);
    else this.#perPeer.delete(conn.peerHost);
    this.stats.connections--;
    if (reason) this.stats.rejected++;
    for (const l of this.#closeListeners) l(conn, reason);
  }

  onConnectionClosed(listener: (c: ServerConnection, reason: Error | null) => void): void {
    this.#closeListeners.push(listener);
  }

  /**
   * Every open monitor: its PV, its client, its request id and its counters (`stats.overruns`:
   * updates squashed into another because its queue was full; `stats.queuedBytes`).
   */
  subscriptions(): { pv: string; peer: string; ioid: number; stats: Readonly<MonitorStats> }[] {
    const out: { pv: string; peer: string; ioid: number; stats: Readonly<MonitorStats> }[] = [];
    for (const c of this.#conns) {
      for (const op of c.ops.values()) {
        if (op instanceof MonitorOp) out.push({ pv: op.channel.name, peer: c.peerName(), ioid: op.ioid, stats: op.stats });
      }
    }
    return out;
  }

  get connections(): ReadonlySet<ServerConnection> {
    return this.#conns;
  }

  /** Listen on TCP, then answer UDP searches. Resolves with the TCP port actually bound. */
  async listen(): Promise<number> {
    const net = createServer({ noDelay: true }, (sock: Socket) => this.handle(sock));
    this.#net = net;
    const host = this.#options.host ?? this.config.interfaces[0]?.host;
    const wanted = this.#options.port ?? this.config.serverPort;
    try {
      await listenOn(net, wanted, host);
    } catch (err) {
      // Like EPICS servers: when the default port is taken, take any port and advertise it.
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || this.#options.port !== undefined) throw err;
      await listenOn(net, 0, host);
    }
    net.on('error', (err) => process.emitWarning(`pvAccess server: ${err.message}`));
    const udpPort = this.#options.udpPort ?? this.config.broadcastPort;
    if (udpPort !== false) {
      // Searches are answered on the listed interfaces only, naming the address TCP listens on.
      const listed = this.#options.host !== undefined ? [this.#options.host] : this.config.interfaces.map((i) => i.host);
      const udpHosts = listed.filter((h) => isIP(h) === 4);
      const d = new ServerDiscovery({
        guid: this.guid,
        tcpPort: this.tcpPort,
        ...(host !== undefined && isIP(host) === 4 && host !== '0.0.0.0' ? { serverAddress: host } : {}),
        udpPort,
        bindAddresses: udpHosts.length > 0 ? udpHosts : ['0.0.0.0'],
        has: (name) => this.has(name),
        beaconAddresses: this.config.beaconAddressList,
        ignoreAddresses: this.config.ignoreAddressList,
        logger: { warn: (m) => process.emitWarning(m, { code: 'SLUICE_PVA' }) },
      });
      await d.start();
      this.#discovery = d;
    }
    return this.tcpPort;
  }

  /** UDP port answering searches (0 when discovery is off). */
  get udpPort(): number {
    return this.#discovery?.udpPort ?? 0;
  }

  get tcpPort(): number {
    const a = this.#net?.address();
    return a && typeof a === 'object' ? a.port : 0;
  }

  /** Address the TCP listener is bound to: 0.0.0.0 (or ::) for every interface, '' before listen(). */
  get tcpHost(): string {
    const a = this.#net?.address();
    return a && typeof a === 'object' ? a.address : '';
  }

  async close(): Promise<void> {
    const net = this.#net;
    this.#net = null;
    const d = this.#discovery;
    this.#discovery = null;
    await d?.close();
    // PVs removed or closed just before: their monitors' last updates (and finish updates) go out
    // first, within a bound (a client that does not read is not waited for).
    const conns = [...this.#conns];
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_DRAIN_MS)));
    await Promise.race([Promise.all(conns.map((c) => c.whenDropsSent())), bound]);
    clearTimeout(timer);
    for (const c of conns) {
      c.flush();
      c.close(null);
    }
    if (net) await new Promise<void>((resolve) => net.close(() => resolve()));
  }
}

/** Longest wait of close() for monitors of dropped channels to send what they hold. */
const CLOSE_DRAIN_MS = 1000;

function listenOn(net: NetServer, port: number, host: string | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    net.once('error', reject);
    net.listen(port, host, () => {
      net.off('error', reject);
      resolve();
    });
  });
}
