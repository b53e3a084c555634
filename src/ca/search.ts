// Finds which server has a channel: SEARCH datagrams to the address list (unicast or broadcast)
// and SEARCH messages over TCP to name servers, repeated with exponential back-off until one
// answers. Names due at the same time share datagrams (a VERSION then as many SEARCHes as fit).
import { ConnectionError } from '../errors.js';
import type { HostPort } from '../net/addresses.js';
import { Cmd } from './constants.js';
import { splitDatagram } from './header.js';
import * as msg from './messages.js';
import { UdpEndpoint } from './transport.js';

export interface Found {
  host: string;
  port: number;
  minorVersion: number;
}

export interface SearcherOptions {
  /** UDP destinations. */
  destinations: HostPort[];
  nameServers: HostPort[];
  /** Sends a SEARCH to a name server (over a circuit, whose replies come back to answer()). */
  sendTcp?: (server: HostPort, bytes: Uint8Array) => void;
  /** First retry after this long (default 50 ms), doubling up to maxIntervalMs (default 5 s). */
  initialIntervalMs?: number;
  maxIntervalMs?: number;
}

interface Pending {
  id: number;
  name: string;
  interval: number;
  due: number;
  resolve(f: Found): void;
}

/** Largest search datagram, as EPICS clients send them (servers may not take more). */
const MAX_DATAGRAM = 1024;

export class CaSearcher {
  readonly stats = { datagrams: 0, tcpSearches: 0, answers: 0, badDatagrams: 0 };
  readonly #o: SearcherOptions;
  readonly #pending = new Map<number, Pending>();
  #udp: Promise<UdpEndpoint> | null = null;
  #timer: NodeJS.Timeout | null = null;
  #timerDue = Infinity;
  #seq = 1;
  #closed = false;

  constructor(o: SearcherOptions) {
    this.#o = o;
  }

  /** Resolves with the server that answered for `name`; `id` must be unique among pending lookups. */
  lookup(name: string, id: number, signal?: AbortSignal): Promise<Found> {
    if (this.#o.destinations.length === 0 && this.#o.nameServers.length === 0) {
      return Promise.reject(
        new ConnectionError(
          'ERR_CHANNEL_NOT_FOUND',
          `cannot search for ${name}: EPICS_CA_ADDR_LIST is empty, EPICS_CA_AUTO_ADDR_LIST found no broadcast address, and there is no name server`,
        ),
      );
    }
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        this.#pending.delete(id);
        reject(signal?.reason);
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      const p: Pending = {
        id,
        name,
        interval: this.#o.initialIntervalMs ?? 50,
        due: 0,
        resolve: (f) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(f);
        },
      };
      this.#pending.set(id, p);
      this.#schedule(0);
    });
  }

  /** Forget a pending lookup (its channel was closed). */
  cancel(id: number): void {
    this.#pending.delete(id);
  }

  /** A SEARCH reply, from UDP or from a name server's circuit. */
  answer(a: msg.SearchAnswer, fromHost: string): void {
    const p = this.#pending.get(a.searchId);
    if (!p || a.port === 0) return;
    this.#pending.delete(a.searchId);
    this.stats.answers++;
    p.resolve({ host: a.host ?? fromHost, port: a.port, minorVersion: a.minorVersion });
  }

  #udpEndpoint(): Promise<UdpEndpoint> {
    this.#udp ??= UdpEndpoint.bind('0.0.0.0', 0, false, (bytes, from) => this.#onDatagram(bytes, from.host));
    return this.#udp;
  }

  #onDatagram(bytes: Uint8Array, from: string): void {
    let messages;
    try {
      messages = splitDatagram(bytes);
    } catch {
      this.stats.badDatagrams++; // not CA, or damaged: nothing in it can be trusted
      return;
    }
    for (const m of messages) if (m.header.command === Cmd.SEARCH) this.answer(msg.readSearchReply(m.header, m.payload), from);
  }

  #schedule(delay: number): void {
    const due = Date.now() + delay;
    if (this.#timer && this.#timerDue <= due) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timerDue = due;
    // Not unref'd: pending lookups keep the process alive until answered or cancelled (close()).
    this.#timer = setTimeout(() => void this.#round(), delay);
  }

  async #round(): Promise<void> {
    this.#timer = null;
    this.#timerDue = Infinity;
    if (this.#closed) return;
    const now = Date.now();
    const due = [...this.#pending.values()].filter((p) => p.due <= now);
    for (const p of due) {
      p.due = now + p.interval;
      p.interval = Math.min(this.#o.maxIntervalMs ?? 5000, p.interval * 2);
    }
    if (due.length > 0) await this.#send(due);
    let next = Infinity;
    for (const p of this.#pending.values()) next = Math.min(next, p.due);
    if (Number.isFinite(next) && !this.#closed) this.#schedule(Math.max(0, next - Date.now()));
  }

  async #send(due: Pending[]): Promise<void> {
    const searches = due.map((p) => msg.search(p.name, p.id));
    for (const ns of this.#o.nameServers) {
      for (const s of searches) this.#o.sendTcp?.(ns, s);
      this.stats.tcpSearches += searches.length;
    }
    if (this.#o.destinations.length === 0) return;
    const udp = await this.#udpEndpoint();
    for (const datagram of this.#datagrams(searches)) {
      for (const d of this.#o.destinations) {
        udp.send(datagram, d.host, d.port);
        this.stats.datagrams++;
      }
    }
  }

  /** Packs SEARCH messages after a VERSION into datagrams of at most MAX_DATAGRAM bytes. */
  *#datagrams(searches: Uint8Array[]): Generator<Uint8Array> {
    let batch: Uint8Array[] = [];
    let size = 0;
    const flush = (): Uint8Array => {
      const head = msg.udpVersion(this.#seq++);
      const out = new Uint8Array(head.length + size);
      out.set(head);
      let at = head.length;
      for (const s of batch) {
        out.set(s, at);
        at += s.length;
      }
      batch = [];
      size = 0;
      return out;
    };
    for (const s of searches) {
      if (batch.length > 0 && 16 + size + s.length > MAX_DATAGRAM) yield flush();
      batch.push(s);
      size += s.length;
    }
    if (batch.length > 0) yield flush();
  }

  close(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#pending.clear();
    void this.#udp?.then(
      (u) => u.close(),
      () => {},
    );
  }
}
