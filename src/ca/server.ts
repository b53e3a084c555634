// A Channel Access server for PVs (Sources, such as SharedPVs) whose `value` is a scalar, a
// scalar array or an enum (with optional alarm, timeStamp, display, control). It answers UDP and
// TCP searches for the names it has, and serves gets, puts and subscriptions in any DBR type the
// client asks for. No beacons are sent (clients find a restarted server by searching again).
import type net from 'node:net';
import { AccessPolicy } from '../access/policy.js';
import { InvalidArgumentError, SluiceError } from '../errors.js';
import type { PVSource, Source } from '../pv/source.js';
import { caServerConfigFromEnv } from './config.js';
import { Cmd, SEQUENCE_NO_VALID } from './constants.js';
import { splitDatagram } from './header.js';
import * as msg from './messages.js';
import { caViewOf, encodeForClient, type CaView } from './pv-adapter.js';
import { ServerSession, type ServedPV, type SessionHost } from './server-session.js';
import { TcpLink, UdpEndpoint, listenTcp } from './transport.js';

export interface CaServerLimits {
  /** Largest array (payload) sent or accepted (default EPICS_CA_MAX_ARRAY_BYTES, else 64 MiB). */
  maxArrayBytes: number;
  /** Subscription updates are held back (one per subscription) above this many unsent bytes (≥ 64 KiB). */
  sendHighWater: number;
  /** A client with more than this many unsent bytes is not reading: it is disconnected. */
  sendHardLimit: number;
  /** Channels per client (SLUICE_CAS_MAX_CHANNELS, default 100,000). */
  maxChannels: number;
  /** Subscriptions per client (SLUICE_CAS_MAX_SUBSCRIPTIONS, default 100,000). */
  maxSubscriptions: number;
  /** Clients in all (SLUICE_CAS_MAX_CONNECTIONS, default 4096). */
  maxConnections: number;
  /** Clients from one IP address (SLUICE_CAS_MAX_CONNECTIONS_PER_PEER, default 512). */
  maxConnectionsPerPeer: number;
}

/** The limits a variable may set, and its name. */
const LIMIT_VARIABLES = {
  maxChannels: 'SLUICE_CAS_MAX_CHANNELS',
  maxSubscriptions: 'SLUICE_CAS_MAX_SUBSCRIPTIONS',
  maxConnections: 'SLUICE_CAS_MAX_CONNECTIONS',
  maxConnectionsPerPeer: 'SLUICE_CAS_MAX_CONNECTIONS_PER_PEER',
} as const;
type CountLimit = keyof typeof LIMIT_VARIABLES;
const COUNT_DEFAULTS: Record<CountLimit, number> = {
  maxChannels: 100_000,
  maxSubscriptions: 100_000,
  maxConnections: 4096,
  maxConnectionsPerPeer: 512,
};

/** A count limit: given, else from its variable (a positive whole number), else the default. */
function countLimit(key: CountLimit, given: number | undefined, env: NodeJS.ProcessEnv, warn: (text: string) => void): number {
  if (given !== undefined) return given;
  const name = LIMIT_VARIABLES[key];
  const text = env[name]?.trim();
  if (!text) return COUNT_DEFAULTS[key];
  const n = Number(text);
  if (Number.isSafeInteger(n) && n > 0) return n;
  warn(`ignoring ${name}='${text}': expected a positive whole number`);
  return COUNT_DEFAULTS[key];
}

export interface CaServerOptions {
  /** TCP port (default EPICS_CAS_SERVER_PORT / EPICS_CA_SERVER_PORT, 5064; 0 = any free port). */
  tcpPort?: number;
  /** UDP search port (default the same number as the default TCP port; 0 = any; false = none). */
  udpPort?: number | false;
  /** Address to bind (default the first of EPICS_CAS_INTF_ADDR_LIST, else 0.0.0.0). */
  host?: string;
  env?: NodeJS.ProcessEnv;
  limits?: Partial<CaServerLimits>;
  /** Where notes about misbehaving clients go (default: process warnings). */
  onWarning?: (text: string) => void;
  /** Access rules for reads and writes (default: everything allowed). See docs/security.md. */
  access?: AccessPolicy;
}

export interface CaServerStats {
  clients: number;
  /** Subscription updates replaced by a newer one before they could be sent. */
  overruns: number;
  /** Clients disconnected for breaking the protocol or not reading. */
  badClients: number;
  searches: number;
  /** Reads, subscriptions and writes the access rules refused. */
  denied: number;
  /** Clients, channels and subscriptions refused at a limit (maxConnections, maxChannels, ...). */
  refused: number;
}

const MIN_HIGH_WATER = 64 * 1024;

export class CaServer implements SessionHost {
  readonly limits: CaServerLimits;
  readonly stats: CaServerStats = { clients: 0, overruns: 0, badClients: 0, searches: 0, denied: 0, refused: 0 };
  readonly #perPeer = new Map<string, number>();
  readonly #pvs = new Map<string, ServedPV>();
  readonly #sources: PVSource[] = [];
  /** What on-demand sources returned, as served (one entry per PV: the encodings cache is keyed on it). */
  readonly #onDemand = new WeakMap<Source, ServedPV>();
  readonly #sessions = new Set<ServerSession>();
  readonly #host: string;
  readonly #wantTcp: number;
  readonly #wantUdp: number | false;
  readonly #warn: (text: string) => void;
  #tcp: { port: number; close(): Promise<void> } | null = null;
  #udp: UdpEndpoint | null = null;
  /** Per PV: its current value's encodings and time stamp (reset by each post). */
  #cache = new WeakMap<
    ServedPV,
    { value: object; posts: number; ms: number; encoded: Map<string, { payload: Uint8Array; count: number }> }
  >();
  #closeListeners = new Set<(peer: string, reason: Error | null) => void>();
  #access: AccessPolicy;

  constructor(options: CaServerOptions = {}) {
    const env = options.env ?? process.env;
    const cfg = caServerConfigFromEnv(env);
    this.#host = options.host ?? cfg.host;
    this.#wantTcp = options.tcpPort ?? cfg.serverPort;
    this.#wantUdp = options.udpPort ?? cfg.serverPort;
    this.#warn = options.onWarning ?? ((text) => process.emitWarning(text, { code: 'SLUICE_CA' }));
    this.#access = options.access ?? new AccessPolicy();
    const l = options.limits ?? {};
    this.limits = {
      maxArrayBytes: l.maxArrayBytes ?? cfg.maxArrayBytes,
      sendHighWater: Math.max(MIN_HIGH_WATER, l.sendHighWater ?? 4 * 1024 * 1024),
      sendHardLimit: l.sendHardLimit ?? 256 * 1024 * 1024,
      maxChannels: countLimit('maxChannels', l.maxChannels, env, this.#warn),
      maxSubscriptions: countLimit('maxSubscriptions', l.maxSubscriptions, env, this.#warn),
      maxConnections: countLimit('maxConnections', l.maxConnections, env, this.#warn),
      maxConnectionsPerPeer: countLimit('maxConnectionsPerPeer', l.maxConnectionsPerPeer, env, this.#warn),
    };
  }

  get tcpPort(): number {
    return this.#tcp?.port ?? 0;
  }

  get udpPort(): number {
    return this.#udp?.port ?? 0;
  }

  /**
   * Serve `pv` as `name`. Its type (checked now if it is open, else when a client connects)
   * must have a `value` that is a scalar, a scalar array or an enum. `maxElements` is the element
   * count an array announces to clients (default: its length then, at least 2): CA clients will
   * not write more elements than that.
   */
  addPV(name: string, pv: Source, opts: { maxElements?: number } = {}): void {
    if (!name) throw new InvalidArgumentError('empty CA channel name');
    if (this.#pvs.has(name)) throw new InvalidArgumentError(`a PV named ${name} is already served`);
    if (pv.type && !caViewOf(pv.type))
      throw new InvalidArgumentError(`${name}: CA serves PVs whose value is a scalar, a scalar array or an enum`);
    this.#pvs.set(name, opts.maxElements !== undefined ? { pv, maxElements: opts.maxElements } : { pv });
  }

  /** Stop serving `name`; its clients are told the channel is gone. */
  removePV(name: string): boolean {
    const pv = this.#pvs.get(name)?.pv;
    if (!pv) return false;
    this.#pvs.delete(name);
    for (const s of this.#sessions) for (const ch of s.channelsOf(pv)) if (ch.name === name) s.disconnectChannel(ch);
    return true;
  }

  /** Serve PVs created on demand for names no added PV has (asked in the order added). */
  addSource(source: PVSource): this {
    this.#sources.push(source);
    return this;
  }

  get access(): AccessPolicy {
    return this.#access;
  }

  /** Replace the access rules (a reload): clients get new ACCESS_RIGHTS for their channels. */
  set access(policy: AccessPolicy) {
    this.#access = policy;
    for (const s of this.#sessions) s.reviewAccess();
  }

  /** @internal SessionHost: an open PV of a type CA can serve (and a PV list does not hide). */
  lookup(name: string): ServedPV | undefined {
    if (this.#access.pvlist && this.#access.hides(name)) return undefined;
    const e = this.#pvs.get(name) ?? this.#fromSources(name);
    return e?.pv.type && caViewOf(e.pv.type) ? e : undefined;
  }

  #fromSources(name: string): ServedPV | undefined {
    for (const source of this.#sources) {
      const pv = source(name);
      if (!pv) continue;
      let served = this.#onDemand.get(pv);
      if (!served) this.#onDemand.set(pv, (served = { pv }));
      return served;
    }
    return undefined;
  }

  /**
   * @internal SessionHost: the current value encoded once per post, type and count, for every
   * client. A value without a time stamp gets the time it was first sent.
   */
  encoded(served: ServedPV, view: CaView, dataType: number, count: number): { payload: Uint8Array; count: number } | null {
    const value = served.pv.value;
    if (!value) return null;
    let c = this.#cache.get(served);
    if (!c || c.value !== value || c.posts !== served.pv.posts) {
      c = { value, posts: served.pv.posts, ms: Date.now(), encoded: new Map() };
      this.#cache.set(served, c);
    }
    const key = `${dataType}/${count}`;
    let e = c.encoded.get(key);
    if (!e) c.encoded.set(key, (e = encodeForClient(view, value, dataType, count, c.ms)));
    return e;
  }

  /** Called with the peer and the reason whenever a client connection ends (null: a clean close). */
  onClientClosed(listener: (peer: string, reason: Error | null) => void): () => void {
    this.#closeListeners.add(listener);
    return () => this.#closeListeners.delete(listener);
  }

  /** Binds TCP, then UDP; resolves with the TCP port. */
  async listen(): Promise<number> {
    this.#tcp = await listenTcp(this.#host, this.#wantTcp, (sock) => this.#accept(sock));
    if (this.#wantUdp !== false) {
      try {
        this.#udp = await UdpEndpoint.bind(
          this.#host,
          this.#wantUdp,
          true,
          (b, from) => this.#onDatagram(b, from),
          (e) => this.#warn(`CA search socket: ${e.message}`),
        );
      } catch (err) {
        await this.#tcp.close();
        this.#tcp = null;
        throw err;
      }
    }
    return this.#tcp.port;
  }

  /**
   * A refusal naming the limit when `count` (the new one included) is above it; counted and
   * logged. @internal (SessionHost)
   */
  limitExceeded(limit: CountLimit, count: number, what: string): string | undefined {
    const max = this.limits[limit];
    if (count <= max) return undefined;
    this.stats.refused++;
    const text = `too many ${what}: the limit is ${max} (${limit}, ${LIMIT_VARIABLES[limit]})`;
    this.#warn(text);
    return text;
  }

  #accept(sock: net.Socket): void {
    const peer = sock.remoteAddress ?? '';
    const peers = (this.#perPeer.get(peer) ?? 0) + 1;
    const refusal =
      this.limitExceeded('maxConnections', this.stats.clients + 1, 'CA clients') ??
      this.limitExceeded('maxConnectionsPerPeer', peers, `CA clients from ${peer}`);
    if (refusal) {
      sock.destroy(); // before any message: the client sees the connection closed and may retry
      return;
    }
    this.#perPeer.set(peer, peers);
    const link = new TcpLink(sock, this.limits.maxArrayBytes + 1024);
    const s = new ServerSession(this, link);
    this.#sessions.add(s);
    this.stats.clients++;
    link.attach({
      onMessage: (m) => s.onMessage(m),
      onDrain: () => s.onDrain(),
      onClose: (reason) => {
        this.#sessions.delete(s);
        this.stats.clients--;
        const left = (this.#perPeer.get(peer) ?? 1) - 1;
        if (left > 0) this.#perPeer.set(peer, left);
        else this.#perPeer.delete(peer);
        s.onClose();
        // A socket error is the network's doing; anything else (bad bytes, a bug) is reported.
        if (reason && !(reason instanceof SluiceError && reason.code === 'ERR_CONNECTION_CLOSED')) {
          this.stats.badClients++;
          this.#warn(`CA client ${link.remote} disconnected: ${reason.message}`);
        }
        for (const l of this.#closeListeners) l(link.remote, reason);
      },
    });
  }

  #onDatagram(bytes: Uint8Array, from: { host: string; port: number }): void {
    let messages;
    try {
      messages = splitDatagram(bytes);
    } catch {
      return; // not CA, or damaged: ignored, as EPICS servers do
    }
    let sequence = 0;
    const replies: Uint8Array[] = [];
    for (const { header: h, payload } of messages) {
      if (h.command === Cmd.VERSION && h.dataType & SEQUENCE_NO_VALID) sequence = h.p1;
      if (h.command !== Cmd.SEARCH || h.count < 4) continue; // clients older than 4.4 are not served
      this.stats.searches++;
      if (this.lookup(msg.readString(payload))) replies.push(msg.searchReply(this.tcpPort, this.#replyAddress(), h.p2));
    }
    if (replies.length === 0) return;
    const out = [msg.udpVersion(sequence), ...replies];
    const total = out.reduce((n, b) => n + b.length, 0);
    const datagram = new Uint8Array(total);
    let at = 0;
    for (const b of out) {
      datagram.set(b, at);
      at += b.length;
    }
    this.#udp?.send(datagram, from.host, from.port);
  }

  /** Our address in search replies: the bound one, or "where this reply came from". */
  #replyAddress(): number {
    return this.#host === '0.0.0.0' ? 0xffffffff : msg.ipv4Number(this.#host);
  }

  async close(): Promise<void> {
    for (const s of [...this.#sessions]) s.link.close(null, true);
    this.#sessions.clear();
    await Promise.all([this.#tcp?.close(), this.#udp?.close()]);
    this.#tcp = null;
    this.#udp = null;
  }
}
