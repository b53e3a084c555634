// Addresses as EPICS address-list variables write them (EPICS_PVA_ADDR_LIST, EPICS_CA_ADDR_LIST,
// ...) and the broadcast addresses of this host's interfaces: shared by pvAccess and Channel Access.
import { isIP, isIPv6 } from 'node:net';
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';

export interface HostPort {
  host: string;
  port: number;
}

const HOSTNAME = /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$/;

/**
 * Parses a space-separated list of `host`, `host:port`, `[ipv6]` or `[ipv6]:port` entries; a bare
 * IPv6 address is accepted too. Missing or zero ports become defaultPort. Invalid entries are
 * skipped (and described in `warnings` when given); duplicates are dropped, order is kept.
 */
export function parseAddressList(text: string, defaultPort: number, warnings?: string[]): HostPort[] {
  const out: HostPort[] = [];
  const seen = new Set<string>();
  for (const entry of text.split(/\s+/)) {
    if (!entry) continue;
    let host = entry;
    let portText: string | undefined;
    const bracket = /^\[([^\]]+)\](?::(.*))?$/.exec(entry);
    if (bracket) [, host = '', portText] = bracket;
    else if (!isIPv6(entry) && entry.includes(':')) {
      const i = entry.lastIndexOf(':');
      [host, portText] = [entry.slice(0, i), entry.slice(i + 1)];
    }
    const port = portText === undefined ? 0 : parsePort(portText);
    const hostOk = isIP(host) !== 0 || (HOSTNAME.test(host) && !/^[\d.]+$/.test(host));
    if (!hostOk || port === null || (bracket && !isIPv6(host))) {
      warnings?.push(`ignoring invalid address '${entry}'`);
      continue;
    }
    const hp = { host, port: port || defaultPort };
    const key = `${hp.host} ${hp.port}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push(hp);
    }
  }
  return out;
}

/** A port number 1-65535 (0 too: "the default"), or null. */
export function parsePort(text: string): number | null {
  if (!/^\d{1,5}$/.test(text)) return null;
  const n = Number(text);
  return n <= 0xffff ? n : null;
}

/**
 * IPv4 broadcast address of every non-internal interface, from address and netmask. Node lists
 * only interfaces that have addresses; point-to-point /32 links have no broadcast and are skipped.
 */
export function interfaceBroadcasts(ifaces: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces()): string[] {
  const out = new Set<string>();
  for (const list of Object.values(ifaces)) {
    for (const a of list ?? []) {
      if (a.family !== 'IPv4' || a.internal || a.netmask === '255.255.255.255') continue;
      const addr = a.address.split('.').map(Number);
      const mask = a.netmask.split('.').map(Number);
      out.add(addr.map((b, i) => (b | (~(mask[i] as number) & 0xff)) >>> 0).join('.'));
    }
  }
  return [...out];
}
