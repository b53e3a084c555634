// Which addresses belong to this host, and the broadcast address of an interface address.
// Discovery uses them to trust ORIGIN_TAG only from local senders and to bind per interface.
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';

type Interfaces = NodeJS.Dict<NetworkInterfaceInfo[]>;

export function isLoopback(host: string): boolean {
  return host.startsWith('127.') || host === '::1' || host.startsWith('::ffff:127.');
}

/**
 * The addresses of this host's interfaces, read again when asked about an unknown one (an
 * interface may come up after start), but at most once per `refreshMs`: a flood of datagrams
 * from strangers must not turn into a flood of getifaddrs calls.
 */
export class LocalAddresses {
  #set = new Set<string>();
  #readAt = -Infinity;

  constructor(
    private readonly read: () => Interfaces = networkInterfaces,
    private readonly refreshMs = 1000,
  ) {}

  has(host: string): boolean {
    if (isLoopback(host)) return true;
    if (this.#set.has(host)) return true;
    const now = performance.now();
    if (now - this.#readAt < this.refreshMs) return false;
    this.#readAt = now;
    this.#set = new Set(Object.values(this.read()).flatMap((l) => (l ?? []).map((a) => a.address)));
    return this.#set.has(host);
  }
}

/**
 * The IPv4 broadcast address of the interface that has `address`, or undefined (loopback,
 * point-to-point /32, not a local address, IPv6).
 */
export function broadcastOf(address: string, ifaces: Interfaces = networkInterfaces()): string | undefined {
  for (const list of Object.values(ifaces)) {
    for (const a of list ?? []) {
      if (a.family !== 'IPv4' || a.address !== address || a.internal || a.netmask === '255.255.255.255') continue;
      const mask = a.netmask.split('.').map(Number);
      return address
        .split('.')
        .map((b, i) => (Number(b) | (~(mask[i] as number) & 0xff)) >>> 0)
        .join('.');
    }
  }
  return undefined;
}
