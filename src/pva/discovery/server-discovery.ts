// Server side of UDP discovery: answers SEARCH for the names a server has and sends BEACONs.
//
// Several servers on one host share the UDP port (SO_REUSEADDR), but the kernel hands a unicast
// datagram to only one of them. As PVXS and pvAccessCPP do, the server that receives a search
// flagged "unicast" does not answer it itself: it multicasts it to 224.0.0.128 on the loopback
// interface, prefixed with ORIGIN_TAG, and every server on the host (this one included, through
// multicast loopback) answers that copy. A tagged copy is never forwarded again, and the cleared
// unicast flag stops untagged copies from older peers looping too.
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

export function isLoopback(host: string): boolean {
  return host.startsWith('127.') || host === '::1' || host.startsWith('::ffff:127.');
}

export interface ServerDiscoveryOptions {
  guid: Uint8Array;
  /** TCP port advertised in replies and beacons. */
  tcpPort: number;
  /** Default 5076; 0 picks a free port (tests). */
  udpPort?: number;
  /** Default 0.0.0.0. Local fan-out needs the wildcard: a socket bound elsewhere misses the group. */
  bindAddress?: string;
  /** Whether this server has a channel; must not throw (a throw counts as "no"). */
  has(name: string): boolean;
  beaconAddresses?: HostPort[];
  /** Default 15 s, the same period forever. */
  beaconPeriodMs?: number;
  /** EPICS_PVAS_IGNORE_ADDR_LIST: searches from these senders are dropped (port 0 = any port). */
  ignoreAddresses?: HostPort[];
  logger?: Logger;
}

export interface ServerDiscoveryEvents {
  /** A search was processed (answered or not); `tagged` when it came with an ORIGIN_TAG. */
  search: [search: SearchRequest, from: HostPort, tagged: boolean];
  /** A datagram that did not decode was dropped. */
  dropped: [error: SluiceError, from: HostPort];
  beacon: [];
}

export class ServerDiscovery extends EventEmitter<ServerDiscoveryEvents> {
  /** Counters, mainly for tests and diagnostics. */
  readonly stats = { datagrams: 0, dropped: 0, searches: 0, replies: 0, forwarded: 0, beacons: 0 };
  readonly #o: ServerDiscoveryOptions;
  readonly #bind: string;
  #sock: dgram.Socket | null = null;
  #port = 0;
  #fanOut = false;
  #beaconTimer: NodeJS.Timeout | null = null;
  #beaconSeq = 0;
  #changeCount = 0;
  #closed = false;

  constructor(options: ServerDiscoveryOptions) {
    super();
    if (options.guid.length !== GUID_SIZE) throw new InvalidArgumentError(`guid must have ${GUID_SIZE} bytes`);
    this.#o = options;
    this.#bind = options.bindAddress ?? '0.0.0.0';
  }

  get udpPort(): number {
    return this.#port;
  }

  /** True when the local fan-out group was joined (unicast searches are then forwarded). */
  get fanOut(): boolean {
    return this.#fanOut;
  }

  /** Tell clients (through the beacon change count) that the set of channels changed. */
  notifyChange(): void {
    this.#changeCount = (this.#changeCount + 1) & 0xffff;
  }

  async start(): Promise<void> {
    if (this.#sock || this.#closed) throw new InvalidArgumentError('ServerDiscovery.start() called twice');
    const sock = dgram.createSocket({ type: 'udp4', reuseAddr: true });
    this.#sock = sock;
    await new Promise<void>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind({ port: this.#o.udpPort ?? DEFAULT_BROADCAST_PORT, address: this.#bind }, () => {
        sock.off('error', reject);
        resolve();
      });
    });
    // After bind, socket errors (ICMP unreachable and the like) must never crash the server.
    sock.on('error', (e) => this.#o.logger?.warn?.(`discovery UDP socket: ${e.message}`));
    sock.on('message', (msg, rinfo) => this.#onDatagram(msg, rinfo));
    this.#port = sock.address().port;
    sock.setBroadcast(true); // beacon addresses may be broadcast addresses
    if (this.#bind === '0.0.0.0') {
      try {
        sock.addMembership(LOCAL_MCAST_GROUP, '127.0.0.1');
        sock.setMulticastInterface('127.0.0.1');
        sock.setMulticastLoopback(true); // we answer our own forwards
        this.#fanOut = true;
      } catch (e) {
        this.#o.logger?.warn?.(`cannot join ${LOCAL_MCAST_GROUP} on 127.0.0.1 (${(e as Error).message}); ` +
          'unicast searches are answered here only, not fanned out to other local servers');
      }
    }
    if (this.#o.beaconAddresses?.length) this.#scheduleBeacon(0);
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#beaconTimer) clearTimeout(this.#beaconTimer);
    this.#beaconTimer = null;
    const sock = this.#sock;
    this.#sock = null;
    if (sock) await new Promise<void>((resolve) => sock.close(() => resolve()));
  }

  #onDatagram(msg: Buffer, rinfo: dgram.RemoteInfo): void {
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
    let tagged = false;
    for (const m of parsed.messages) {
      if (m.kind === 'originTag') {
        // Only a server on this host forwards, and it sends through loopback: a tag from
        // elsewhere is an attempt to make us reply to a third party, so drop the datagram.
        if (!isLoopback(from.host)) return;
        tagged = true;
      } else if (m.kind === 'search') {
        this.#onSearch(m.body, m.header, from, tagged);
      }
      // Beacons and replies of other servers share this port; they are not for us.
    }
  }

  #onSearch(s: SearchRequest, header: MessageHeader, from: HostPort, tagged: boolean): void {
    const sock = this.#sock;
    if (!sock) return;
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
    if (!tagged && s.flags & SearchFlags.UNICAST && this.#fanOut) {
      // We cannot see which local address the datagram was sent to; loopback senders almost
      // always target 127.0.0.1, and "any" is accepted by PVXS and pvAccessCPP peers alike.
      const origin = isLoopback(from.host) ? '127.0.0.1' : '0.0.0.0';
      const fwd = forwardedSearchMessage(origin, s, replyTo, header.littleEndian);
      this.stats.forwarded++;
      sock.send(fwd, this.#port, LOCAL_MCAST_GROUP, (err) => {
        if (!err) return;
        this.#o.logger?.warn?.(`cannot forward search to ${LOCAL_MCAST_GROUP}: ${err.message}; answering directly`);
        this.#answer(s, replyTo);
      });
    } else {
      this.#answer(s, replyTo);
    }
    this.emit('search', s, from, tagged);
  }

  #answer(s: SearchRequest, replyTo: HostPort): void {
    const sock = this.#sock;
    if (!sock || replyTo.port === 0 || !isIP(replyTo.host)) return;
    const ids = respondToSearch(s, (name) => {
      try {
        return this.#o.has(name);
      } catch (e) {
        this.#o.logger?.warn?.(`has('${name}') threw: ${(e as Error).message}`);
        return false;
      }
    });
    if (ids === null) return;
    const reply = searchResponseMessage(searchResponseFor(s, ids, this.#o.guid, this.#o.tcpPort));
    this.stats.replies++;
    sock.send(reply, replyTo.port, replyTo.host, (err) => {
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
    const sock = this.#sock;
    if (!sock) return;
    const msg = beaconMessage({
      guid: this.#o.guid,
      flags: 0,
      sequence: this.#beaconSeq,
      changeCount: this.#changeCount,
      serverAddress: '0.0.0.0', // clients use the datagram's source address
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
