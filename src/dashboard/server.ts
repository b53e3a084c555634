// The dashboard server: HTTP for the page and its API, and a PV Web Socket gateway at /pvws/pv
// (the path ornl-epics/pvws serves), sharing one pvAccess client and one monitor per PV.
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { AccessPolicy, ClientIdentity } from '../access/policy.js';
import { CaClient } from '../ca/client.js';
import type { PvaClient } from '../pva/client/client.js';
import { discoverServers, serverChannels } from '../pva/discovery/servers.js';
import { Hub } from './hub.js';
import { defaultWebDir, route, uplotDir } from './http.js';
import type { BinMode } from './image.js';
import { Session, type SessionOptions } from './session.js';
import { Writer } from './write.js';

/** The web socket path, as PVWS serves it (ws://host:port/pvws/pv). */
export const PVWS_PATH = '/pvws/pv';

export interface DashboardOptions {
  client: PvaClient;
  /** Makes the Channel Access client for ca:// PVs, on the first one (default: from EPICS_CA_* of the process). */
  caClient?: () => CaClient;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** PVs to show (the page subscribes to them); /api/config lists them. */
  pvs?: string[];
  /** Allow writes (else every write is refused). */
  write?: boolean;
  policy?: AccessPolicy | undefined;
  /** Updates per second per PV per client (default 10). */
  maxFps?: number;
  /** Images per second per PV per client (default maxFps). */
  imageFps?: number;
  /** Largest side of a sent image (default 1024). */
  imageSize?: number;
  binMode?: BinMode;
  /** Per client: nothing more is sent while this many bytes wait unsent (default 8 MiB). */
  maxBufferedBytes?: number;
  /** Per client (default 1000). */
  maxSubscriptions?: number;
  /** Largest message a client may send (default 1 MiB); bigger ones close its socket (1009). */
  maxMessageBytes?: number;
  /** How long /api/servers waits for servers to answer (default 1000 ms). */
  discoverMs?: number;
  webDir?: string;
  /** Timeout of writes and their reads (default 5000 ms). */
  timeoutMs?: number;
  log?: (line: string) => void;
  /** Clients that do not answer a ping within this time are dropped (default 30 s). */
  heartbeatMs?: number;
}

export interface ServerListing {
  guid: string;
  addresses: string[];
  channels: string[];
  error?: string;
}

/** Emits 'session' (a web client connected) and 'session-closed' (it went), with its Session. */
export class DashboardServer extends EventEmitter {
  readonly hub: Hub;
  readonly sessions = new Set<Session>();
  readonly writer: Writer;
  readonly #o: DashboardOptions;
  readonly #http: Server;
  readonly #wss: WebSocketServer;
  readonly #sessionOptions: SessionOptions;
  #address: { host: string; port: number } | null = null;
  readonly #heartbeat: NodeJS.Timeout;
  #listing: Promise<ServerListing[]> | null = null;
  /** Sockets that answered the last heartbeat ping. */
  readonly #alive = new WeakSet<WebSocket>();

  constructor(options: DashboardOptions) {
    super();
    this.#o = options;
    this.hub = new Hub(options.client, options.caClient ?? (() => new CaClient({ timeoutMs: options.timeoutMs ?? 5000 })));
    const log = options.log ?? (() => undefined);
    this.writer = new Writer(this.hub, {
      enabled: options.write === true,
      policy: options.policy,
      timeoutMs: options.timeoutMs ?? 5000,
      log,
    });
    const maxFps = options.maxFps ?? 10;
    this.#sessionOptions = {
      maxFps,
      imageFps: options.imageFps ?? maxFps,
      imageSize: options.imageSize ?? 1024,
      binMode: options.binMode ?? 'mean',
      maxBufferedBytes: options.maxBufferedBytes ?? 8 * 1024 * 1024,
      maxSubscriptions: options.maxSubscriptions ?? 1000,
      maxPendingWrites: 4,
      canWrite: (pv, who, type) => this.writer.mayWrite(pv, who, type),
      write: (req, who) => this.writer.write(req, who),
    };
    const routes = {
      webDir: options.webDir ?? defaultWebDir(),
      vendorDirs: { uplot: uplotDir() },
      api: {
        config: () => this.config(),
        servers: () => this.servers(),
      },
    };
    this.#http = createServer((req, res) => {
      route(req, res, routes).catch(() => res.destroy());
    });
    this.#wss = new WebSocketServer({ noServer: true, maxPayload: options.maxMessageBytes ?? 1024 * 1024 });
    this.#http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const path = (req.url ?? '').split('?')[0];
      if (path !== PVWS_PATH) {
        socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\n\r\n');
        return;
      }
      this.#wss.handleUpgrade(req, socket, head, (ws) => this.#accept(ws, req));
    });
    // A browser that vanished without closing (network gone, laptop asleep) is noticed by the
    // pong it no longer sends, and dropped with its subscriptions.
    this.#heartbeat = setInterval(() => {
      for (const ws of this.#wss.clients) {
        if (!this.#alive.has(ws)) ws.terminate();
        else {
          this.#alive.delete(ws);
          ws.ping();
        }
      }
    }, options.heartbeatMs ?? 30_000);
    this.#heartbeat.unref();
  }

  /** What the page needs to know about this server (GET /api/config). */
  config(): { write: boolean; pvs: string[]; maxFps: number; imageSize: number; imageFps: number; path: string } {
    const o = this.#sessionOptions;
    return {
      write: this.writer.enabled,
      pvs: this.#o.pvs ?? [],
      maxFps: o.maxFps,
      imageSize: o.imageSize,
      imageFps: o.imageFps,
      path: PVWS_PATH,
    };
  }

  /** Replace the access rules (SIGHUP). */
  set policy(p: AccessPolicy | undefined) {
    this.writer.policy = p;
  }

  /**
   * The pvAccess servers that answer a search (EPICS_PVA_ADDR_LIST, broadcasts) plus the name
   * servers (EPICS_PVA_NAME_SERVERS), each with the channels it lists (GET /api/servers).
   */
  servers(): Promise<ServerListing[]> {
    // Requests while a search runs share it.
    this.#listing ??= this.#findServers().finally(() => (this.#listing = null));
    return this.#listing;
  }

  async #findServers(): Promise<ServerListing[]> {
    const config = this.#o.client.config;
    const waitMs = this.#o.discoverMs ?? 1000;
    const found = config.addressList.length ? await discoverServers(config, waitMs) : [];
    const list: ServerListing[] = found.map((s) => ({ guid: s.guid, addresses: s.addresses, channels: [] }));
    for (const ns of config.nameServers) {
      const a = `${ns.host}:${ns.port}`;
      if (!list.some((s) => s.addresses.includes(a))) list.push({ guid: '', addresses: [a], channels: [] });
    }
    await Promise.all(
      list.map(async (s) => {
        const [host, port] = splitHostPort(s.addresses[0] as string);
        try {
          s.channels = (await serverChannels({ host, port }, { timeoutMs: waitMs * 2 })).sort();
        } catch (err) {
          s.error = (err as Error).message;
        }
      }),
    );
    return list;
  }

  #accept(ws: WebSocket, req: IncomingMessage): void {
    const address = req.socket.remoteAddress ?? '';
    // Web clients announce no user; HAGs of the access rules match their address.
    const who: ClientIdentity = { user: '', host: address.replace(/^::ffff:/, ''), address };
    const session = new Session(ws, this.hub, who, this.#sessionOptions);
    this.#alive.add(ws);
    ws.on('pong', () => this.#alive.add(ws));
    this.sessions.add(session);
    ws.on('message', (data, isBinary) => {
      try {
        if (isBinary) return session.handleBinary();
        session.handle(Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.concat(data as Buffer[]).toString('utf8'));
      } catch (err) {
        // Whatever one client's message did, the others keep being served.
        session.fail((err as Error).message);
      }
    });
    ws.on('error', () => ws.terminate());
    ws.on('close', () => {
      session.close();
      this.sessions.delete(session);
      this.emit('session-closed', session);
    });
    this.emit('session', session);
  }

  /** Start listening; resolves with the bound address. */
  listen(): Promise<{ host: string; port: number }> {
    return new Promise((resolve, reject) => {
      this.#http.once('error', reject);
      this.#http.listen(this.#o.port ?? 8080, this.#o.host ?? '127.0.0.1', () => {
        this.#http.off('error', reject);
        const a = this.#http.address();
        const port = typeof a === 'object' && a ? a.port : (this.#o.port ?? 8080);
        this.#address = { host: this.#o.host ?? '127.0.0.1', port };
        resolve(this.#address);
      });
    });
  }

  get url(): string {
    const a = this.#address;
    if (!a) return '';
    const host = a.host.includes(':') ? `[${a.host}]` : a.host;
    return `http://${host}:${a.port}/`;
  }

  /** Close every web socket, the HTTP server, the monitors and a Channel Access client (not the pvAccess client). */
  async close(): Promise<void> {
    clearInterval(this.#heartbeat);
    for (const ws of this.#wss.clients) ws.close(1001, 'dashboard closing');
    for (const s of this.sessions) s.close();
    this.sessions.clear();
    this.hub.close();
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
    this.#http.closeAllConnections();
    await new Promise<void>((resolve) => this.#http.close(() => resolve()));
  }
}

function splitHostPort(a: string): [string, number] {
  const i = a.lastIndexOf(':');
  return [a.slice(0, i).replace(/^\[|\]$/g, ''), Number(a.slice(i + 1))];
}
