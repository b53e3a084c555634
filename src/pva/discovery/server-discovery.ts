// Server side of UDP discovery: answers SEARCH for the names a server has and sends BEACONs.
//
// Several servers on one host share the UDP port (SO_REUSEADDR), but the kernel hands a unicast
// datagram to only one of them. As PVXS and pvAccessCPP do, the server that receives a search
// flagged "unicast" does not answer it itself: it multicasts it to 224.0.0.128 on the loopback
// interface, prefixed with ORIGIN_TAG, and every server on the host (this one included, through
// multicast loopback) answers that copy. A tagged copy is never forwarded again, and the cleared
// unicast flag stops untagged copies from older peers looping too. Forwards are received on a
// socket bound to the group, and trusted only from this host's addresses (pvAccessCPP sends
// them from its interface-bound socket, so the source is not always 127.0.0.1).
import dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import type { SluiceError } from '../../errors.js';
import { InvalidArgumentError } from '../../errors.js';
import type { HostPort, Logger } from '../config.js';
import { DEFAULT_BROADCAST_PORT, LOCAL_MCAST_GROUP } from '../constants.js';
import {
  GUID_SIZE,
  SearchFlags,
  beaconMessage,
  forwardedSearchMessage,
  isAnyAddress,
  safeParseDatagram,
  searchResponseMessage,
  type MessageHeader,
  type SearchRequest,
  type SearchResponse,
} from './messages.js';
import { LocalAddresses, broadcastOf, isLoopback } from './local-addresses.js';

/**
 * Which of a search's names the server answers for: the ids found, [] for an explicit "not
 * found" (only when the client set MUST_REPLY, e.g. pvlist's discovery ping), or null to stay
 * silent. Shared by UDP and SEARCH over TCP. Like PVXS, names are only considered when the
 * client offers the "tcp" transport.
 */
export function respondToSearch(search: SearchRequest, has: (name: string) => boolean): number[] | null {
  const ids = search.protocols.includes('tcp') ? search.channels.filter((c) => has(c.name)).map((c) => c.id) : [];
  return ids.length > 0 || search.flags & SearchFlags.MUST_REPLY ? ids : null;
}

/** The SEARCH_RESPONSE body for `ids`; address "0.0.0.0" tells the client to use our source address. */
export function searchResponseFor(
  search: SearchRequest,
  ids: number[],
  guid: Uint8Array,
  tcpPort: number,
  serverAddress = '0.0.0.0',
): SearchResponse {
  return { guid, sequenceId: search.sequenceId, serverAddress, serverPort: tcpPort, protocol: 'tcp', found: ids.length > 0, ids };
}

export { isLoopback };

export interface ServerDiscoveryOptions {
  guid: Uint8Array;
  /** TCP port advertised in replies and beacons. */
  tcpPort: number;
  /** TCP address advertised; default "0.0.0.0" (clients use the datagram's source address). */
  serverAddress?: string;
  /** Default 5076; 0 picks a free port (tests). */
  udpPort?: number;
  /**
   * Addresses to listen on (EPICS_PVAS_INTF_ADDR_LIST); default ["0.0.0.0"]. A specific address
   * gets a socket of its own plus one on its interface's broadcast address, so that searches
   * reaching other interfaces are not answered (their replies would name an address nobody
   * listens on). `bindAddress` is the one-address shorthand.
   */
  bindAddresses?: string[];
  bindAddress?: string;
  /** Whether this server has a channel; must not throw (a throw counts as "no"). */
  has(name: string): boolean;
  beaconAddresses?: HostPort[];
  /** Default 15 s, the same period forever. */
  beaconPeriodMs?: number;
  /** EPICS_PVAS_IGNORE_ADDR_LIST: searches from these senders are dropped (port 0 = any port). */
  ignoreAddresses?: HostPort[];
  /** Which addresses are this host's (tests inject one). */
  localAddresses?: LocalAddresses;
  logger?: Logger;
}

export interface ServerDiscoveryEvents {
  /** A search was processed (answered or not); `tagged` when it came with an ORIGIN_TAG. */
  search: [search: SearchRequest, from: HostPort, tagged: boolean];
  /** A datagram that did not decode was dropped. */
  dropped: [error: SluiceError, from: HostPort];
  /** A forwarded (ORIGIN_TAG) datagram was refused: not from this host, or for another interface. */
  refused: [reason: string, from: HostPort];
  beacon: [];
}

/** A socket searches arrive on, the address it stands for, and the socket that replies. */
interface Endpoint {
  sock: dgram.Socket;
  /** The listened address ("0.0.0.0" for the wildcard); for a broadcast socket, its interface's. */
  address: string;
  reply: dgram.Socket;
}

const ANY = '0.0.0.0';

export class ServerDiscovery extends EventEmitter<ServerDiscoveryEvents> {
  /** Counters, mainly for tests and diagnostics. */
  readonly stats = { datagrams: 0, dropped: 0, refused: 0, searches: 0, replies: 0, forwarded: 0, beacons: 0 };
  readonly #o: ServerDiscoveryOptions;
  readonly #addresses: string[];
  readonly #local: LocalAddresses;
  #endpoints: Endpoint[] = [];
  /** Receives what local servers forward to 224.0.0.128 on loopback (ORIGIN_TAG datagrams). */
  #group: dgram.Socket | null = null;
  #port = 0;
  #fanOut = false;
  #beaconTimer: NodeJS.Timeout | null = null;
  #beaconSeq = 0;
  #changeCount = 0;
  #started = false;
  #closed = false;

  constructor(options: ServerDiscoveryOptions) {
    super();
    if (options.guid.length !== GUID_SIZE) throw new InvalidArgumentError(`guid must have ${GUID_SIZE} bytes`);
    const list = options.bindAddresses ?? [options.bindAddress ?? ANY];
    for (const a of list) if (isIP(a) !== 4) throw new InvalidArgumentError(`cannot listen for searches on '${a}': not an IPv4 address`);
    this.#o = options;
    // The wildcard covers every address; otherwise each listed address once, in order.
    this.#addresses = list.length === 0 || list.includes(ANY) ? [ANY] : [...new Set(list)];
    this.#local = options.localAddresses ?? new LocalAddresses();
  }

  get udpPort(): number {
    return this.#port;
  }

  /** True when forwarded searches can be received (unicast searches are then forwarded). */
  get fanOut(): boolean {
    return this.#fanOut;
  }

  /** The local addresses the UDP sockets are bound to (broadcast sockets included), for diagnostics. */
  get boundAddresses(): string[] {
    return [...this.#endpoints, ...(this.#group ? [{ sock: this.#group }] : [])].map((e) => e.sock.address().address);
  }

  /** Tell clients (through the beacon change count) that the set of channels changed. */
  notifyChange(): void {
    this.#changeCount = (this.#changeCount + 1) & 0xffff;
  }

  async start(): Promise<void> {
    if (this.#started || this.#closed) throw new InvalidArgumentError('ServerDiscovery.start() called twice');
    this.#started = true;
    try {
      let port = this.#o.udpPort ?? DEFAULT_BROADCAST_PORT;
      for (const address of this.#addresses) {
        const sock = await this.#bind(address, port);
        port = this.#port = sock.address().port; // the first bind may have picked the port
        const unicast: Endpoint = { sock, address, reply: sock };
        this.#endpoints.push(unicast);
        const bcast = address === ANY ? undefined : broadcastOf(address);
        if (bcast) this.#endpoints.push({ sock: await this.#bind(bcast, port), address, reply: sock });
      }
      for (const e of this.#endpoints) e.sock.setBroadcast(true); // beacon addresses may be broadcasts
      await this.#joinGroup();
    } catch (e) {
      await this.close();
      throw e;
    }
    if (this.#o.beaconAddresses?.length) this.#scheduleBeacon(0);
  }

  async #bind(address: string, port: number, onMessage?: (m: Buffer, r: dgram.RemoteInfo) => void): Promise<dgram.Socket> {
    const sock = dgram.createSocket({ type: 'udp4', reuseAddr: true });
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind({ port, address }, () => {
        sock.off('error', reject);
        resolve();
      });
    });
    // After bind, socket errors (ICMP unreachable and the like) must never crash the server.
    sock.on('error', (e) => this.#o.logger?.warn?.(`discovery UDP socket ${address}: ${e.message}`));
    sock.on('message', onMessage ?? ((msg, rinfo) => this.#onDatagram(msg, rinfo, this.#endpointOf(sock))));
    return sock;
  }

  #endpointOf(sock: dgram.Socket): Endpoint | null {
    return this.#endpoints.find((e) => e.sock === sock) ?? null;
  }

  /**
   * The local fan-out: a socket bound to 224.0.0.128 that joined it on loopback only, so what it
   * receives was multicast on this host. Where binding to a group is refused, the wildcard
   * socket joins instead (and then trusts tagged datagrams by their local source alone).
   */
  async #joinGroup(): Promise<void> {
    const unicast = this.#endpoints.filter((e) => e.reply === e.sock);
    try {
      for (const e of unicast) {
        e.sock.setMulticastInterface('127.0.0.1'); // forwards go out on loopback
        e.sock.setMulticastLoopback(true); // and reach this host's servers, us included
      }
    } catch (e) {
      this.#o.logger?.warn?.(
        `cannot send to ${LOCAL_MCAST_GROUP} on 127.0.0.1 (${(e as Error).message}); ` +
          'unicast searches are answered here only, not fanned out to other local servers',
      );
      return;
    }
    let group: dgram.Socket | null = null;
    try {
      group = await this.#bind(LOCAL_MCAST_GROUP, this.#port, (msg, rinfo) => this.#onDatagram(msg, rinfo, 'group'));
      group.addMembership(LOCAL_MCAST_GROUP, '127.0.0.1');
      this.#group = group;
      this.#fanOut = true;
      return;
    } catch (e) {
      group?.close();
      const wildcard = this.#endpoints.find((x) => x.address === ANY);
      try {
        if (!wildcard) throw e;
        wildcard.sock.addMembership(LOCAL_MCAST_GROUP, '127.0.0.1');
        this.#fanOut = true;
      } catch (e2) {
        this.#o.logger?.warn?.(
          `cannot join ${LOCAL_MCAST_GROUP} on 127.0.0.1 (${(e2 as Error).message}); ` +
            'unicast searches are answered here only, not fanned out to other local servers',
        );
      }
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#beaconTimer) clearTimeout(this.#beaconTimer);
    this.#beaconTimer = null;
    const socks = [...this.#endpoints.map((e) => e.sock), ...(this.#group ? [this.#group] : [])];
    this.#endpoints = [];
    this.#group = null;
    await Promise.all(socks.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }

  #onDatagram(msg: Buffer, rinfo: dgram.RemoteInfo, via: Endpoint | 'group' | null): void {
    if (via === null) return; // closing
    this.stats.datagrams++;
    const from = { host: rinfo.address, port: rinfo.port };
    if (this.#o.ignoreAddresses?.some((a) => a.host === from.host && (a.port === 0 || a.port === from.port))) return;
    const parsed = safeParseDatagram(msg);
    if (!parsed.ok) {
      this.stats.dropped++;
      this.#o.logger?.debug?.(`dropped datagram from ${from.host}:${from.port}: ${parsed.error.message}`);
      this.emit('dropped', parsed.error, from);
      return;
    }
    const first = parsed.messages[0];
    if (first?.kind === 'originTag') {
      // The wildcard socket also gets the group's datagrams (the group is joined on this host);
      // the group socket handles those, and tagged unicast to it cannot be told apart.
      if (via !== 'group' && via.address === ANY && this.#group) return;
      const origin = this.#acceptForward(first.body.address, from, via);
      if (origin === null) return;
      for (const m of parsed.messages) if (m.kind === 'search') this.#onSearch(m.body, m.header, from, origin, true);
      return;
    }
    // An untagged copy on the group socket is an older peer's forward; a wildcard socket sees
    // the same datagram (the group is joined on this host) and answers it.
    if (via === 'group' && this.#addresses[0] === ANY) return;
    const e = via === 'group' ? (this.#endpoints[0] as Endpoint) : via;
    for (const m of parsed.messages) {
      if (m.kind === 'originTag') return; // a tag behind other messages is no forward of ours
      if (m.kind === 'search') this.#onSearch(m.body, m.header, from, e);
      // Beacons and replies of other servers share this port; they are not for us.
    }
  }

  /**
   * Whether a datagram starting with ORIGIN_TAG is a local server's forward for us, as PVXS
   * decides: received through the loopback group from this host, naming "any" or an address of
   * ours as the original destination. Returns the endpoint to answer from, or null to drop it.
   * The sender is the forwarding server's socket, which pvAccessCPP binds to an interface
   * address, so its source is any local address, not only 127.0.0.1.
   */
  #acceptForward(origin: string, from: HostPort, via: Endpoint | 'group'): Endpoint | null {
    const fromGroup = via === 'group' || (this.#group === null && this.#fanOut && via.address === ANY);
    const refuse = (reason: string) => {
      this.stats.refused++;
      this.#o.logger?.debug?.(`refused forwarded search from ${from.host}:${from.port}: ${reason}`);
      this.emit('refused', reason, from);
      return null;
    };
    if (!fromGroup) return refuse(`ORIGIN_TAG not received through ${LOCAL_MCAST_GROUP}`);
    // Forged remote senders: the kernel drops packets from outside claiming a local source.
    if (!this.#local.has(from.host)) return refuse('sender is not an address of this host');
    if (isAnyAddress(origin)) return this.#endpoints[0] ?? null;
    if (this.#addresses[0] === ANY) return this.#local.has(origin) ? (this.#endpoints[0] ?? null) : refuse(`origin ${origin} is not local`);
    return this.#endpoints.find((x) => x.address === origin) ?? refuse(`origin ${origin} is not an address we listen on`);
  }

  #onSearch(s: SearchRequest, header: MessageHeader, from: HostPort, e: Endpoint, tagged = false): void {
    this.stats.searches++;
    if (tagged && isAnyAddress(s.replyAddress)) {
      // "Reply to sender" would reach the forwarding server, not the client (PVXS ignores these too).
      this.#o.logger?.debug?.('ignoring forwarded SEARCH without a reply address');
      return;
    }
    const replyTo = {
      host: isAnyAddress(s.replyAddress) ? from.host : s.replyAddress,
      port: s.replyPort || (tagged ? 0 : from.port),
    };
    if (!tagged && s.flags & SearchFlags.UNICAST && this.#fanOut && e.reply === e.sock) {
      // The original destination: the address this socket is bound to. A wildcard socket cannot
      // see it; loopback senders almost always target 127.0.0.1, and "any" is accepted by
      // PVXS and pvAccessCPP peers alike.
      const origin = e.address !== ANY ? e.address : isLoopback(from.host) ? '127.0.0.1' : ANY;
      const fwd = forwardedSearchMessage(origin, s, replyTo, header.littleEndian);
      this.stats.forwarded++;
      e.reply.send(fwd, this.#port, LOCAL_MCAST_GROUP, (err) => {
        if (!err) return;
        this.#o.logger?.warn?.(`cannot forward search to ${LOCAL_MCAST_GROUP}: ${err.message}; answering directly`);
        this.#answer(s, replyTo, e);
      });
    } else {
      this.#answer(s, replyTo, e);
    }
    this.emit('search', s, from, tagged);
  }

  #answer(s: SearchRequest, replyTo: HostPort, e: Endpoint): void {
    if (this.#closed || replyTo.port === 0 || !isIP(replyTo.host)) return;
    const ids = respondToSearch(s, (name) => {
      try {
        return this.#o.has(name);
      } catch (err) {
        this.#o.logger?.warn?.(`has('${name}') threw: ${(err as Error).message}`);
        return false;
      }
    });
    if (ids === null) return;
    // A socket bound to 127.0.0.1 cannot send off the host: for a forward naming "any", answer
    // from another listened address if there is one.
    if (isLoopback(e.address) && !isLoopback(replyTo.host)) {
      const other = this.#endpoints.find((x) => x.reply === x.sock && !isLoopback(x.address));
      if (!other) return void this.#o.logger?.debug?.(`no socket of ours can reach ${replyTo.host}`);
      e = other;
    }
    const reply = searchResponseMessage(searchResponseFor(s, ids, this.#o.guid, this.#o.tcpPort, this.#o.serverAddress));
    this.stats.replies++;
    e.reply.send(reply, replyTo.port, replyTo.host, (err) => {
      if (err) this.#o.logger?.debug?.(`search reply to ${replyTo.host}:${replyTo.port}: ${err.message}`);
    });
  }

  #scheduleBeacon(delayMs: number): void {
    this.#beaconTimer = setTimeout(() => {
      this.#sendBeacon();
      if (!this.#closed) this.#scheduleBeacon(this.#o.beaconPeriodMs ?? 15_000);
    }, delayMs);
    this.#beaconTimer.unref(); // beacons alone must not keep a process alive
  }

  #sendBeacon(): void {
    const sock = this.#endpoints[0]?.reply;
    if (!sock) return;
    const msg = beaconMessage({
      guid: this.#o.guid,
      flags: 0,
      sequence: this.#beaconSeq,
      changeCount: this.#changeCount,
      serverAddress: this.#o.serverAddress ?? ANY, // "any": clients use the datagram's source address
      serverPort: this.#o.tcpPort,
      protocol: 'tcp',
      status: null,
    });
    this.#beaconSeq = (this.#beaconSeq + 1) & 0xff;
    this.stats.beacons++;
    for (const dest of this.#o.beaconAddresses ?? []) {
      // Port 0 (EPICS_PVAS_BROADCAST_PORT=0 for an ephemeral search port) is no destination;
      // dgram throws synchronously for it, which must not take the server down.
      if (dest.port <= 0 || dest.port > 0xffff) continue;
      try {
        sock.send(msg, dest.port, dest.host, (err) => {
          if (err) this.#o.logger?.debug?.(`beacon to ${dest.host}:${dest.port}: ${err.message}`);
        });
      } catch (err) {
        this.#o.logger?.warn?.(`beacon to ${dest.host}:${dest.port}: ${(err as Error).message}`);
      }
    }
    this.emit('beacon');
  }
}
