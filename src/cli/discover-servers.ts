// Finding servers rather than channels, for `sluice list`. discoverServers does what pvlist
// does: a SEARCH naming no channel, with the "reply required" flag, sent three times to every
// search address, collecting the replies (one entry per server GUID). DirectClient talks to one
// given server without searching, as pvlist does to call a server's "server" PV.
import dgram from 'node:dgram';
import { Client } from '../pva/client/client.js';
import { interfaceBroadcasts, type ClientConfig } from '../pva/config.js';
import { guidToHex, isAnyAddress, safeParseDatagram, searchMessage, SearchFlags } from '../pva/discovery/messages.js';

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
export async function discoverServers(config: ClientConfig, waitMs: number): Promise<FoundServer[]> {
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

/** A client whose channels all go to one server, whatever its search would say (pvlist HOST:PORT). */
export class DirectClient extends Client {
  readonly #target: { host: string; port: number };

  constructor(target: { host: string; port: number }, options: ConstructorParameters<typeof Client>[0] = {}) {
    // No search is ever sent, so no search address is needed.
    super({ ...options, config: { ...options.config, addressList: [], nameServers: [] } });
    this.#target = target;
  }

  /** @internal Channels ask their client where a name is: always at the target. */
  override resolve(): Promise<{ host: string; port: number }> {
    return Promise.resolve(this.#target);
  }
}
