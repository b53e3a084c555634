// pvAccess configuration from the EPICS_PVA_* / EPICS_PVAS_* environment variables, with the
// fallbacks PVXS uses (a server variable falls back to its client twin). Invalid values are
// ignored with a warning, as EPICS does, so one bad variable never stops a client or server.
import { interfaceBroadcasts, parseAddressList, parsePort, type HostPort } from '../net/addresses.js';
import { DEFAULT_BROADCAST_PORT, DEFAULT_SERVER_PORT } from './constants.js';

export { interfaceBroadcasts, parseAddressList, type HostPort };

/** Where discovery code reports what it drops or cannot do; every method is optional. */
export interface Logger {
  debug?(message: string): void;
  warn?(message: string): void;
}

export type Env = Readonly<Record<string, string | undefined>>;

export interface PvaClientConfig {
  /** Search destinations: EPICS_PVA_ADDR_LIST, plus interface broadcasts when autoAddressList. */
  addressList: HostPort[];
  /** EPICS_PVA_AUTO_ADDR_LIST (YES/NO, default YES). */
  autoAddressList: boolean;
  /** EPICS_PVA_BROADCAST_PORT: UDP port of searches and the default port of addressList (5076). */
  broadcastPort: number;
  /** EPICS_PVA_SERVER_PORT (falls back to EPICS_PVAS_SERVER_PORT): default TCP port (5075). */
  serverPort: number;
  /** EPICS_PVA_NAME_SERVERS: servers searched over TCP, default port serverPort. */
  nameServers: HostPort[];
  /** EPICS_PVA_CONN_TMO in seconds (default 30), here in ms: idle time before a TCP peer is dropped. */
  connectionTimeoutMs: number;
  /** Ignored variables and list entries, one sentence each. */
  warnings: string[];
}

export interface PvaServerConfig {
  /** EPICS_PVAS_INTF_ADDR_LIST: addresses to listen on (default 0.0.0.0), default port serverPort. */
  interfaces: HostPort[];
  /** EPICS_PVAS_SERVER_PORT, else EPICS_PVA_SERVER_PORT: TCP port (5075; 0 = any free port). */
  serverPort: number;
  /** EPICS_PVAS_BROADCAST_PORT, else EPICS_PVA_BROADCAST_PORT: UDP port for searches (5076). */
  broadcastPort: number;
  /** EPICS_PVAS_BEACON_ADDR_LIST, else EPICS_PVA_ADDR_LIST, plus broadcasts when autoBeaconAddressList. */
  beaconAddressList: HostPort[];
  /** EPICS_PVAS_AUTO_BEACON_ADDR_LIST, else EPICS_PVA_AUTO_ADDR_LIST (default YES). */
  autoBeaconAddressList: boolean;
  /** EPICS_PVAS_IGNORE_ADDR_LIST: search senders to ignore; port 0 ignores every port of a host. */
  ignoreAddressList: HostPort[];
  /** EPICS_PVA_CONN_TMO in ms (default 30 s). */
  connectionTimeoutMs: number;
  warnings: string[];
}

class Reader {
  readonly warnings: string[] = [];
  constructor(readonly env: Env) {}

  /** First of `names` that is set (non-empty), with the name it came from. */
  pick(...names: string[]): { name: string; value: string } | undefined {
    for (const name of names) {
      const value = this.env[name]?.trim();
      if (value) return { name, value };
    }
    return undefined;
  }

  port(def: number, ...names: string[]): number {
    const v = this.pick(...names);
    if (!v) return def;
    const n = parsePort(v.value);
    if (n === null) this.warnings.push(`ignoring ${v.name}='${v.value}': not a port number`);
    return n ?? def;
  }

  bool(def: boolean, ...names: string[]): boolean {
    const v = this.pick(...names);
    if (!v) return def;
    const s = v.value.toUpperCase();
    if (s === 'YES' || s === '1') return true;
    if (s === 'NO' || s === '0') return false;
    this.warnings.push(`ignoring ${v.name}='${v.value}': expected YES or NO`);
    return def;
  }

  list(defaultPort: number, ...names: string[]): HostPort[] {
    const v = this.pick(...names);
    if (!v) return [];
    const w: string[] = [];
    const out = parseAddressList(v.value, defaultPort, w);
    for (const m of w) this.warnings.push(`${v.name}: ${m}`);
    return out;
  }

  timeoutMs(): number {
    const v = this.pick('EPICS_PVA_CONN_TMO');
    if (!v) return 30_000;
    const s = Number(v.value);
    if (Number.isFinite(s) && s > 0) return s * 1000;
    this.warnings.push(`ignoring EPICS_PVA_CONN_TMO='${v.value}': expected a positive number of seconds`);
    return 30_000;
  }
}

function withBroadcasts(list: HostPort[], auto: boolean, port: number): HostPort[] {
  if (!auto) return list;
  const out = [...list];
  for (const host of interfaceBroadcasts()) {
    if (!out.some((a) => a.host === host && a.port === port)) out.push({ host, port });
  }
  return out;
}

export function clientConfigFromEnv(env: Env = process.env): PvaClientConfig {
  const r = new Reader(env);
  // A client cannot search to "any port": 0 falls back to the default, as in PVXS.
  let broadcastPort = r.port(DEFAULT_BROADCAST_PORT, 'EPICS_PVA_BROADCAST_PORT');
  if (broadcastPort === 0) {
    r.warnings.push('ignoring EPICS_PVA_BROADCAST_PORT=0: a client needs a fixed search port');
    broadcastPort = DEFAULT_BROADCAST_PORT;
  }
  const serverPort = r.port(DEFAULT_SERVER_PORT, 'EPICS_PVA_SERVER_PORT', 'EPICS_PVAS_SERVER_PORT') || DEFAULT_SERVER_PORT;
  const autoAddressList = r.bool(true, 'EPICS_PVA_AUTO_ADDR_LIST');
  const addressList = withBroadcasts(r.list(broadcastPort, 'EPICS_PVA_ADDR_LIST'), autoAddressList, broadcastPort);
  const nameServers = r.list(serverPort, 'EPICS_PVA_NAME_SERVERS');
  const connectionTimeoutMs = r.timeoutMs();
  return { addressList, autoAddressList, broadcastPort, serverPort, nameServers, connectionTimeoutMs, warnings: r.warnings };
}

export function serverConfigFromEnv(env: Env = process.env): PvaServerConfig {
  const r = new Reader(env);
  const serverPort = r.port(DEFAULT_SERVER_PORT, 'EPICS_PVAS_SERVER_PORT', 'EPICS_PVA_SERVER_PORT');
  const broadcastPort = r.port(DEFAULT_BROADCAST_PORT, 'EPICS_PVAS_BROADCAST_PORT', 'EPICS_PVA_BROADCAST_PORT');
  let interfaces = r.list(serverPort, 'EPICS_PVAS_INTF_ADDR_LIST');
  if (interfaces.length === 0) interfaces = [{ host: '0.0.0.0', port: serverPort }];
  const ignoreAddressList = r.list(0, 'EPICS_PVAS_IGNORE_ADDR_LIST');
  const autoBeaconAddressList = r.bool(true, 'EPICS_PVAS_AUTO_BEACON_ADDR_LIST', 'EPICS_PVA_AUTO_ADDR_LIST');
  const beacons = r.list(broadcastPort, 'EPICS_PVAS_BEACON_ADDR_LIST', 'EPICS_PVA_ADDR_LIST');
  const beaconAddressList = withBroadcasts(beacons, autoBeaconAddressList, broadcastPort);
  const connectionTimeoutMs = r.timeoutMs();
  return {
    interfaces,
    serverPort,
    broadcastPort,
    beaconAddressList,
    autoBeaconAddressList,
    ignoreAddressList,
    connectionTimeoutMs,
    warnings: r.warnings,
  };
}
