// Client side of UDP discovery: finds which server has a channel name.
//
// Pending names are batched into as few SEARCH datagrams as fit under MAX_SEARCH_DATAGRAM and
// re-sent with exponential back-off (fast first retry, then doubling up to a ceiling, like
// PVXS's bucket ring). A beacon from a server not seen before, or one whose GUID or change
// count changed, means a server (re)started: pending names are then searched again at once.
import dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import { performance } from 'node:perf_hooks';
import { ConnectionError, InvalidArgumentError } from '../../errors.js';
import { interfaceBroadcasts, type HostPort, type Logger } from '../config.js';
import { LOCAL_MCAST_GROUP } from '../constants.js';
import {
  MAX_SEARCH_DATAGRAM,
  SEARCH_OVERHEAD,
  SearchFlags,
  forwardedSearchMessage,
  guidToHex,
  isAnyAddress,
  safeParseDatagram,
  searchEntrySize,
  searchMessage,
  type Beacon,
  type SearchResponse,
} from './messages.js';
import { isLoopback } from './server-discovery.js';

export interface SearchTarget extends HostPort {
  /** Default: true unless the host is 255.255.255.255, an interface broadcast or multicast. */
  unicast?: boolean;
}

export interface SearcherOptions {
  addresses: SearchTarget[];
  /** Listen for beacons on this UDP port (0 = any free port, for tests); default: no beacons. */
  beaconPort?: number;
  /** Local address of the sockets; default 0.0.0.0. */
  bindAddress?: string;
  /** First retry delay (default 30 ms); doubles after every send up to maxRetryMs (default 5 s). */
  initialRetryMs?: number;
  maxRetryMs?: number;
  logger?: Logger;
}

export interface LookupResult {
  host: string;
  port: number;
  /** Server GUID, 24 hex digits. */
  guid: string;
}

export interface SearcherEvents {
  /** One datagram was sent to `target` carrying `names`. */
  search: [names: string[], target: HostPort];
  beacon: [beacon: Beacon, from: HostPort];
}

interface Pending {
  id: number;
  name: string;
  waiters: Set<{ resolve(r: LookupResult): void; reject(e: unknown): void }>;
  interval: number;
  due: number;
  /** Ceiling of `interval` (the smallest any waiter asked for). */
  max: number;
}

const MAX_NAME_DATAGRAM = 65507; // largest IPv4 UDP payload
const BEACON_TRACK_LIMIT = 20_000;
/** Beacon-triggered searches are at most this frequent, so a crowd of servers starting together
 *  does not make every client resend everything once per server. */
const POKE_HOLDOFF_MS = 1000;

export class Searcher extends EventEmitter<SearcherEvents> {
  readonly stats = { datagramsSent: 0, responses: 0, beacons: 0, dropped: 0 };
  readonly #o: SearcherOptions;
  readonly #targets: Required<SearchTarget>[];
  readonly #initial: number;
  readonly #max: number;
  #sock: dgram.Socket | null = null;
  #beaconSock: dgram.Socket | null = null;
  #starting: Promise<void> | null = null;
  #closed = false;
  readonly #byName = new Map<string, Pending>();
  readonly #byId = new Map<number, Pending>();
  #nextId = 1;
  #seq = 0;
  #timer: NodeJS.Timeout | null = null;
  #timerAt = Infinity;
  readonly #servers = new Map<string, { guid: string; changeCount: number }>();
  #lastPoke = -Infinity;

  constructor(options: SearcherOptions) {
    super();
    this.#o = options;
    this.#initial = options.initialRetryMs ?? 30;
    this.#max = Math.max(this.#initial, options.maxRetryMs ?? 5000);
    const bcast = new Set([...interfaceBroadcasts(), '255.255.255.255']);
    this.#targets = options.addresses.map((a) => ({
      host: a.host,
      port: a.port,
      unicast: a.unicast ?? !(bcast.has(a.host) || isMulticast(a.host)),
    }));
  }

  /** Local UDP port that search replies come back to (0 before start). */
  get port(): number {
    return this.#sock?.address().port ?? 0;
  }

  get beaconPort(): number {
    return this.#beaconSock?.address().port ?? 0;
  }

  /** Names being searched for. */
  get pending(): number {
    return this.#byName.size;
  }

  /** Binds the sockets; lookup() calls it, so calling it is only needed to learn the ports. */
  start(): Promise<void> {
    this.#starting ??= this.#start();
    return this.#starting;
  }

  async #start(): Promise<void> {
    const address = this.#o.bindAddress ?? '0.0.0.0';
    try {
      this.#sock = await bindSocket({ port: 0, address }, false);
      this.#sock.setBroadcast(true);
      this.#listen(this.#sock);
      if (this.#o.beaconPort !== undefined) {
        // Shared with servers on the standard port, hence reuseAddr. Beacons only speed up
        // reconnects, so a port we cannot bind costs a warning, not the search.
        try {
          this.#beaconSock = await bindSocket({ port: this.#o.beaconPort, address }, true);
          this.#listen(this.#beaconSock);
        } catch (e) {
          this.#o.logger?.warn?.(`not listening for beacons on UDP ${this.#o.beaconPort}: ${(e as Error).message}`);
        }
      }
    } catch (e) {
      await this.#closeSockets();
      throw e;
    }
    if (this.#closed) await this.#closeSockets();
    this.#updateRef();
  }

  /**
   * Find the server of `name`. `maxRetryMs` lowers the back-off ceiling for this name (a
   * channel whose server went away searches often, to be back soon after the server is).
   */
  lookup(name: string, signal?: AbortSignal, maxRetryMs?: number): Promise<LookupResult> {
    if (this.#closed) return Promise.reject(new ConnectionError('ERR_CONNECTION_CLOSED', 'Searcher is closed'));
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (!name || SEARCH_OVERHEAD + searchEntrySize(name) > MAX_NAME_DATAGRAM) {
      return Promise.reject(new InvalidArgumentError(`cannot search for a name of ${name.length} characters`));
    }
    return new Promise<LookupResult>((resolve, reject) => {
      let p = this.#byName.get(name);
      if (!p) {
        while (this.#byId.has(this.#nextId)) this.#nextId = (this.#nextId + 1) >>> 0 || 1;
        p = { id: this.#nextId, name, waiters: new Set(), interval: this.#initial, due: 0, max: this.#max };
        this.#nextId = (this.#nextId + 1) >>> 0 || 1;
        this.#byName.set(name, p);
        this.#byId.set(p.id, p);
      }
      if (maxRetryMs !== undefined) p.max = Math.max(this.#initial, Math.min(p.max, maxRetryMs));
      const entry = p;
      const onAbort = () => {
        entry.waiters.delete(waiter);
        if (entry.waiters.size === 0) this.#forget(entry);
        reject(signal?.reason);
      };
      const waiter = {
        resolve: (r: LookupResult) => (signal?.removeEventListener('abort', onAbort), resolve(r)),
        reject: (e: unknown) => (signal?.removeEventListener('abort', onAbort), reject(e)),
      };
      entry.waiters.add(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
      // A new name goes out on the next turn, so that names asked for together share datagrams.
      this.start().then(
        () => this.#schedule(0),
        (e) => this.#failAll(e),
      );
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#failAll(new ConnectionError('ERR_CONNECTION_CLOSED', 'Searcher closed'));
    await this.#starting?.catch(() => undefined);
    await this.#closeSockets();
  }

  async #closeSockets(): Promise<void> {
    const socks = [this.#sock, this.#beaconSock].filter((s): s is dgram.Socket => s !== null);
    this.#sock = this.#beaconSock = null;
    await Promise.all(socks.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }

  #failAll(e: unknown): void {
    for (const p of [...this.#byName.values()]) {
      this.#forget(p);
      for (const w of p.waiters) w.reject(e);
    }
  }

  #forget(p: Pending): void {
    this.#byName.delete(p.name);
    this.#byId.delete(p.id);
    if (this.#byName.size === 0 && this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = null;
      this.#timerAt = Infinity;
    }
    this.#updateRef();
  }

  /** Sockets keep the process alive only while someone awaits a lookup. */
  #updateRef(): void {
    for (const s of [this.#sock, this.#beaconSock]) {
      if (this.#byName.size > 0) s?.ref();
      else s?.unref();
    }
  }

  #schedule(delayMs: number): void {
    this.#updateRef();
    const at = performance.now() + delayMs;
    if (this.#closed || this.#byName.size === 0 || (this.#timer && this.#timerAt <= at)) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#timerAt = Infinity;
      this.#tick();
    }, delayMs);
  }

  #tick(): void {
    const now = performance.now();
    // A little slack lets names that fall due together share datagrams.
    const due = [...this.#byName.values()].filter((p) => p.due <= now + 5);
    for (const batch of batches(due))
      this.#send(
        batch.map((p) => p.name),
        batch.map((p) => p.id),
      );
    for (const p of due) {
      p.due = now + p.interval;
      p.interval = Math.min(p.interval * 2, p.max);
    }
    let next = Infinity;
    for (const p of this.#byName.values()) next = Math.min(next, p.due);
    if (next < Infinity) this.#schedule(Math.max(0, next - now));
  }

  #send(names: string[], ids: number[]): void {
    const sock = this.#sock;
    if (!sock) return;
    const search = {
      sequenceId: (this.#seq = (this.#seq + 1) >>> 0),
      flags: 0,
      replyAddress: '0.0.0.0', // replies go to the datagram's source: our socket
      replyPort: this.port,
      protocols: ['tcp'],
      channels: names.map((name, i) => ({ id: ids[i] as number, name })),
    };
    const bcast = searchMessage(search);
    const ucast = searchMessage({ ...search, flags: SearchFlags.UNICAST });
    for (const t of this.#targets) {
      this.stats.datagramsSent++;
      sock.send(t.unicast ? ucast : bcast, t.port, t.host, (err) => {
        if (err) this.#o.logger?.debug?.(`search to ${t.host}:${t.port}: ${err.message}`);
      });
      this.emit('search', names, { host: t.host, port: t.port });
    }
  }

  #listen(sock: dgram.Socket): void {
    sock.on('error', (e) => this.#o.logger?.warn?.(`search UDP socket: ${e.message}`));
    sock.on('message', (msg, rinfo) => {
      const parsed = safeParseDatagram(msg);
      if (!parsed.ok) {
        this.stats.dropped++;
        return;
      }
      const from = { host: rinfo.address, port: rinfo.port };
      let tagged = false;
      for (const m of parsed.messages) {
        if (m.kind === 'searchResponse') this.#onResponse(m.body, from);
        else if (m.kind === 'beacon') this.#onBeacon(m.body, from);
        else if (m.kind === 'originTag') tagged = true;
        else if (m.kind === 'search' && !tagged && m.body.flags & SearchFlags.UNICAST && sock === this.#beaconSock) {
          // Bound to the servers' port, this socket may steal a unicast search meant for a
          // server on this host: fan it out as the servers themselves would.
          const replyTo = { host: isAnyAddress(m.body.replyAddress) ? from.host : m.body.replyAddress, port: m.body.replyPort };
          const origin = isLoopback(from.host) ? '127.0.0.1' : '0.0.0.0';
          const fwd = forwardedSearchMessage(origin, m.body, replyTo, m.header.littleEndian);
          try {
            sock.setMulticastInterface('127.0.0.1');
            sock.send(fwd, this.beaconPort, LOCAL_MCAST_GROUP, () => undefined);
          } catch (e) {
            this.#o.logger?.debug?.(`cannot forward a unicast search: ${(e as Error).message}`);
          }
        }
      }
    });
  }

  #onResponse(r: SearchResponse, from: HostPort): void {
    this.stats.responses++;
    if (!r.found || r.protocol !== 'tcp') return;
    const host = isAnyAddress(r.serverAddress) ? from.host : r.serverAddress;
    const result = { host, port: r.serverPort, guid: guidToHex(r.guid) };
    for (const id of r.ids) {
      const p = this.#byId.get(id);
      if (!p) continue; // already answered by another server, or aborted
      this.#forget(p);
      for (const w of p.waiters) w.resolve(result);
    }
  }

  #onBeacon(b: Beacon, from: HostPort): void {
    this.stats.beacons++;
    this.emit('beacon', b, from);
    const key = `${isAnyAddress(b.serverAddress) ? from.host : b.serverAddress}:${b.serverPort}`;
    const guid = guidToHex(b.guid);
    const known = this.#servers.get(key);
    if (known && known.guid === guid && known.changeCount === b.changeCount) return;
    if (!known && this.#servers.size >= BEACON_TRACK_LIMIT) return; // a server in a restart loop
    this.#servers.set(key, { guid, changeCount: b.changeCount });
    // A new or restarted server: search again now, and retry fast from here on.
    const now = performance.now();
    if (this.#byName.size === 0 || now - this.#lastPoke < POKE_HOLDOFF_MS) return;
    this.#lastPoke = now;
    for (const p of this.#byName.values()) {
      p.due = now;
      p.interval = this.#initial;
    }
    this.#schedule(0);
  }
}

function isMulticast(host: string): boolean {
  const first = Number(host.split('.')[0]);
  return isIP(host) === 4 && first >= 224 && first <= 239;
}

/** Groups pending names so that each datagram stays under MAX_SEARCH_DATAGRAM. */
function batches(due: Pending[]): Pending[][] {
  const out: Pending[][] = [];
  let cur: Pending[] = [];
  let size = SEARCH_OVERHEAD;
  for (const p of due) {
    const n = searchEntrySize(p.name);
    if (cur.length > 0 && size + n > MAX_SEARCH_DATAGRAM) {
      out.push(cur);
      cur = [];
      size = SEARCH_OVERHEAD;
    }
    cur.push(p);
    size += n;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

function bindSocket(opts: { port: number; address: string }, reuseAddr: boolean): Promise<dgram.Socket> {
  const sock = dgram.createSocket({ type: 'udp4', reuseAddr });
  return new Promise((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(opts, () => {
      sock.off('error', reject);
      resolve(sock);
    });
  });
}
