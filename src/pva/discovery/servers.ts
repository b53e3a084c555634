// Finding servers rather than channels, for `sluice list`. discoverServers does what pvlist
// does: a SEARCH naming no channel, with the "reply required" flag, sent three times to every
// search address, collecting the replies (one entry per server GUID). DirectClient talks to one
// given server without searching, as pvlist does to call a server's "server" PV.
// listenForBeacons is pvxlist -p: it only listens for the beacons servers send.
import dgram from 'node:dgram';
import { PvaClient } from '../client/client.js';
import { interfaceBroadcasts, type PvaClientConfig } from '../config.js';
import { guidToHex, isAnyAddress, safeParseDatagram, searchMessage, SearchFlags } from './messages.js';
import { SERVER_INFO_PV } from '../server/server-info.js';
import { nturi } from '../../pvdata/nt/index.js';
import { t } from '../../pvdata/types.js';
import type { PVStructure } from '../../pvdata/values.js';

export interface FoundServer {
  /** 24 hex digits. */
  guid: string;
  /** Protocol version of the reply's header. */
  version: number;
  protocol: string;
  /** Every `host:port` the server answered from (several with several interfaces). */
  addresses: string[];
}

/** Ask every address of EPICS_PVA_ADDR_LIST (and broadcasts) who is there; wait `waitMs`. */
export async function discoverServers(config: PvaClientConfig, waitMs: number): Promise<FoundServer[]> {
  const found = new Map<string, FoundServer>();
  const sock = dgram.createSocket('udp4');
  sock.on('message', (msg, rinfo) => {
    const parsed = safeParseDatagram(msg);
    if (!parsed.ok) return;
    for (const m of parsed.messages) {
      if (m.kind !== 'searchResponse') continue;
      const r = m.body;
      const guid = guidToHex(r.guid);
      const address = `${isAnyAddress(r.serverAddress) ? rinfo.address : r.serverAddress}:${r.serverPort}`;
      const entry = found.get(guid) ?? { guid, version: m.header.version, protocol: r.protocol, addresses: [] };
      if (!entry.addresses.includes(address)) entry.addresses.push(address);
      found.set(guid, entry);
    }
  });
  sock.on('error', () => undefined); // ICMP "port unreachable" and the like: just no answer
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(0, () => {
      sock.off('error', reject);
      resolve();
    });
  });
  sock.setBroadcast(true);
  const broadcasts = new Set([...interfaceBroadcasts(), '255.255.255.255']);
  const send = (): void => {
    for (const a of config.addressList) {
      // Unicast destinations are flagged so the server there fans the search out to the others
      // on its host (several servers share the UDP port, and only one gets a unicast datagram).
      const unicast = !broadcasts.has(a.host);
      const flags = SearchFlags.MUST_REPLY | (unicast ? SearchFlags.UNICAST : 0);
      const replyPort = sock.address().port;
      const msg = searchMessage({ sequenceId: 0, flags, replyAddress: '0.0.0.0', replyPort, protocols: ['tcp'], channels: [] });
      sock.send(msg, a.port, a.host, () => undefined);
    }
  };
  try {
    // Like pvlist: send, and send again twice while waiting (UDP may drop a datagram).
    for (let i = 0; i < 3; i++) {
      send();
      await new Promise((r) => setTimeout(r, waitMs / 3));
    }
  } finally {
    await new Promise<void>((r) => sock.close(() => r()));
  }
  return [...found.values()];
}

/**
 * pvxlist -p: listen on the UDP port of beacons (shared with other listeners on this host)
 * until `signal` aborts, reporting each server the first time one of its beacons arrives.
 */
export async function listenForBeacons(port: number, onServer: (s: FoundServer) => void, signal: AbortSignal): Promise<number> {
  const seen = new Set<string>();
  const sock = dgram.createSocket({ type: 'udp4', reuseAddr: true });
  sock.on('message', (msg, rinfo) => {
    const parsed = safeParseDatagram(msg);
    if (!parsed.ok) return;
    for (const m of parsed.messages) {
      if (m.kind !== 'beacon') continue;
      const guid = guidToHex(m.body.guid);
      if (seen.has(guid)) continue;
      seen.add(guid);
      const address = `${isAnyAddress(m.body.serverAddress) ? rinfo.address : m.body.serverAddress}:${m.body.serverPort}`;
      onServer({ guid, version: m.header.version, protocol: m.body.protocol, addresses: [address] });
    }
  });
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(port, () => {
      sock.off('error', reject);
      resolve();
    });
  });
  sock.on('error', () => undefined);
  const bound = sock.address().port;
  const close = () => sock.close();
  if (signal.aborted) close();
  else signal.addEventListener('abort', close, { once: true });
  return bound;
}

/** A client whose channels all go to one server, whatever its search would say (pvlist HOST:PORT). */
export class DirectClient extends PvaClient {
  readonly #target: { host: string; port: number };

  constructor(target: { host: string; port: number }, options: ConstructorParameters<typeof PvaClient>[0] = {}) {
    // No search is ever sent, so no search address is needed.
    super({ ...options, config: { ...options.config, addressList: [], nameServers: [] } });
    this.#target = target;
  }

  /** @internal Channels ask their client where a name is: always at the target. */
  override resolve(): Promise<{ host: string; port: number }> {
    return Promise.resolve(this.#target);
  }
}

/**
 * The channel names a server lists through its built-in "server" RPC PV (op=channels), as
 * pvlist HOST:PORT asks for them.
 */
export async function serverChannels(
  target: { host: string; port: number },
  options: ConstructorParameters<typeof PvaClient>[0] & { timeoutMs: number },
): Promise<string[]> {
  const client = new DirectClient(target, options);
  try {
    const type = t.struct({ scheme: t.string, path: t.string, query: t.struct({ op: t.string }) }, nturi.id);
    const value = { scheme: 'pva', path: SERVER_INFO_PV, query: { op: 'channels' } };
    const res = await client.rpc(SERVER_INFO_PV, { type, value }, { timeoutMs: options.timeoutMs });
    const result = (res.value ?? {}) as PVStructure;
    return Array.from((result['value'] ?? []) as ArrayLike<string>);
  } finally {
    client.close();
  }
}
