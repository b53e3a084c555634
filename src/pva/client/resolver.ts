// Name resolution for client channels: search name servers over TCP (EPICS_PVA_NAME_SERVERS)
// and the UDP address list (EPICS_PVA_ADDR_LIST and broadcasts) at once; the first answer wins.
import { ConnectionError } from '../../errors.js';
import type { PvaClientConfig } from '../config.js';
import { Cmd } from '../constants.js';
import { decodeSearchResponse, encodeSearch, isAnyAddress } from '../discovery/messages.js';
import { Searcher } from '../discovery/searcher.js';
import type { ByteReader } from '../../pvdata/wire.js';
import type { ClientConnection } from './client-conn.js';

export interface ResolvedServer {
  host: string;
  port: number;
}

export interface Resolver {
  /** `maxRetryMs` caps the interval between searches for this name (see Searcher.lookup). */
  resolve(name: string, signal: AbortSignal, maxRetryMs?: number): Promise<ResolvedServer>;
  close(): void;
}

type Connect = (host: string, port: number) => ClientConnection;

/** Longest interval between rounds of TCP searches of name servers. */
const MAX_ROUND_MS = 5000;

interface Pending {
  id: number;
  name: string;
  resolve: (s: ResolvedServer) => void;
  maxRetryMs: number;
}

/** SEARCH over TCP to each name server, repeated with back-off until answered. */
class NameServerResolver implements Resolver {
  readonly #servers: { host: string; port: number }[];
  readonly #connect: Connect;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #seq = 1;
  #timer: NodeJS.Timeout | null = null;
  #delay = 0;
  #hooked = new WeakSet<ClientConnection>();

  constructor(servers: { host: string; port: number }[], connect: Connect) {
    this.#servers = servers;
    this.#connect = connect;
  }

  resolve(name: string, signal: AbortSignal, maxRetryMs = MAX_ROUND_MS): Promise<ResolvedServer> {
    return new Promise((resolve, reject) => {
      const id = this.#nextId++;
      const p: Pending = {
        id,
        name,
        maxRetryMs,
        resolve: (s) => {
          signal.removeEventListener('abort', onAbort);
          resolve(s);
        },
      };
      const onAbort = (): void => {
        this.#pending.delete(id);
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.#pending.set(id, p);
      this.#delay = 0;
      this.#schedule(0);
    });
  }

  #schedule(ms: number): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#searchAll(), ms);
  }

  #searchAll(): void {
    this.#timer = null;
    if (this.#pending.size === 0) return;
    const channels = [...this.#pending.values()].map((p) => ({ id: p.id, name: p.name }));
    for (const s of this.#servers) {
      const conn = this.#connect(s.host, s.port);
      if (!this.#hooked.has(conn)) {
        this.#hooked.add(conn);
        conn.onSearchResponse = (r) => this.#onResponse(conn, s, r);
      }
      conn.ready.then(
        () =>
          conn.send(Cmd.SEARCH, (w) =>
            encodeSearch(w, {
              sequenceId: this.#seq++,
              flags: 0,
              replyAddress: '0.0.0.0',
              replyPort: 0,
              protocols: ['tcp'],
              channels,
            }),
          ),
        () => {}, // unreachable name server: the next round tries again
      );
    }
    // Back-off: 0.1 s, 0.2 s, … up to 5 s (or the lowest cap asked for) between rounds.
    const cap = Math.min(...[...this.#pending.values()].map((p) => p.maxRetryMs));
    this.#delay = Math.min(cap, this.#delay ? this.#delay * 2 : 100);
    this.#schedule(this.#delay);
  }

  #onResponse(conn: ClientConnection, via: { host: string }, r: ByteReader): void {
    const res = decodeSearchResponse(r);
    if (!res.found) return;
    const host = isAnyAddress(res.serverAddress) ? via.host : res.serverAddress;
    for (const id of res.ids) {
      const p = this.#pending.get(id);
      if (!p) continue;
      this.#pending.delete(id);
      p.resolve({ host, port: res.serverPort || Number(conn.address.split(':').pop()) });
    }
  }

  close(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#pending.clear();
  }
}

/** UDP search through a Searcher. */
class UdpResolver implements Resolver {
  readonly #searcher: Searcher;
  constructor(config: PvaClientConfig, beaconPort: number | false) {
    this.#searcher = new Searcher({ addresses: config.addressList, ...(beaconPort === false ? {} : { beaconPort }) });
  }
  async resolve(name: string, signal: AbortSignal, maxRetryMs?: number): Promise<ResolvedServer> {
    const r = await this.#searcher.lookup(name, signal, maxRetryMs);
    return { host: r.host, port: r.port };
  }
  close(): void {
    void this.#searcher.close();
  }
}

/** Ask every configured resolver; the first answer wins and the others are cancelled. */
class AnyResolver implements Resolver {
  constructor(readonly parts: Resolver[]) {}
  async resolve(name: string, signal: AbortSignal, maxRetryMs?: number): Promise<ResolvedServer> {
    if (this.parts.length === 0) {
      throw new ConnectionError(
        'ERR_CHANNEL_NOT_FOUND',
        `cannot search for ${name}: no EPICS_PVA_ADDR_LIST, broadcast address or name server`,
      );
    }
    if (this.parts.length === 1) return (this.parts[0] as Resolver).resolve(name, signal, maxRetryMs);
    const inner = new AbortController();
    const stop = (): void => inner.abort(signal.reason);
    signal.addEventListener('abort', stop, { once: true });
    try {
      return await Promise.any(this.parts.map((p) => p.resolve(name, inner.signal, maxRetryMs)));
    } catch (err) {
      throw signal.reason ?? (err as AggregateError).errors[0];
    } finally {
      signal.removeEventListener('abort', stop);
      inner.abort();
    }
  }
  close(): void {
    for (const p of this.parts) p.close();
  }
}

export function createResolver(config: PvaClientConfig, connect: Connect, beaconPort: number | false): Resolver {
  const parts: Resolver[] = [];
  if (config.nameServers.length > 0) parts.push(new NameServerResolver(config.nameServers, connect));
  if (config.addressList.length > 0) parts.push(new UdpResolver(config, beaconPort));
  return new AnyResolver(parts);
}
