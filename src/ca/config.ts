// Channel Access configuration from the EPICS_CA_* / EPICS_CAS_* environment variables, with
// EPICS defaults. Invalid values are ignored with a warning, as EPICS does.
import { interfaceBroadcasts, parseAddressList, type HostPort } from '../net/addresses.js';
import { CA_SERVER_PORT } from './constants.js';

export interface CaClientConfig {
  /** Search destinations: EPICS_CA_ADDR_LIST, plus interface broadcasts when autoAddrList. */
  addrList: HostPort[];
  /** EPICS_CA_AUTO_ADDR_LIST (YES/NO, default YES). */
  autoAddrList: boolean;
  /** EPICS_CA_SERVER_PORT (5064): the default port of search destinations and name servers. */
  serverPort: number;
  /** EPICS_CA_NAME_SERVERS: servers searched over TCP. */
  nameServers: HostPort[];
  /** EPICS_CA_CONN_TMO (30 s), in ms: silence after which the client sends an echo. */
  connTmoMs: number;
  /** EPICS_CA_MAX_ARRAY_BYTES: largest payload accepted (default here 64 MiB, not EPICS's 16 KiB). */
  maxArrayBytes: number;
  warnings: string[];
}

export interface CaServerConfig {
  /** EPICS_CAS_SERVER_PORT, else EPICS_CA_SERVER_PORT (5064): TCP port and UDP search port. */
  serverPort: number;
  /** First address of EPICS_CAS_INTF_ADDR_LIST (default 0.0.0.0). */
  host: string;
  maxArrayBytes: number;
  warnings: string[];
}

export const DEFAULT_MAX_ARRAY_BYTES = 64 * 1024 * 1024;
type Env = Readonly<Record<string, string | undefined>>;

function pick(env: Env, ...names: string[]): { name: string; value: string } | undefined {
  for (const name of names) {
    const value = env[name]?.trim();
    if (value) return { name, value };
  }
  return undefined;
}

function port(env: Env, warnings: string[], ...names: string[]): number {
  const v = pick(env, ...names);
  if (!v) return CA_SERVER_PORT;
  const n = Number(v.value);
  if (/^\d{1,5}$/.test(v.value) && n > 0 && n <= 0xffff) return n;
  warnings.push(`ignoring ${v.name}='${v.value}': not a port number`);
  return CA_SERVER_PORT;
}

function positive(env: Env, warnings: string[], name: string, def: number, scale = 1): number {
  const v = pick(env, name);
  if (!v) return def;
  const n = Number(v.value);
  if (Number.isFinite(n) && n > 0) return n * scale;
  warnings.push(`ignoring ${name}='${v.value}': expected a positive number`);
  return def;
}

function list(env: Env, warnings: string[], name: string, defaultPort: number): HostPort[] {
  const v = pick(env, name);
  if (!v) return [];
  const w: string[] = [];
  const out = parseAddressList(v.value, defaultPort, w);
  for (const m of w) warnings.push(`${name}: ${m}`);
  return out;
}

/** Parses "host[:port]" entries given as options (the default port filled in). */
export function parseAddrList(entries: readonly string[], defaultPort: number, warnings: string[]): HostPort[] {
  return parseAddressList(entries.join(' '), defaultPort, warnings);
}

/** `serverPort` overrides EPICS_CA_SERVER_PORT (and is then the lists' default port). */
export function caClientConfigFromEnv(env: Env = process.env, serverPort = port(env, [], 'EPICS_CA_SERVER_PORT')): CaClientConfig {
  const warnings: string[] = [];
  port(env, warnings, 'EPICS_CA_SERVER_PORT'); // only for its warning
  const auto = pick(env, 'EPICS_CA_AUTO_ADDR_LIST');
  let autoAddrList = true;
  if (auto) {
    const s = auto.value.toUpperCase();
    if (s === 'NO' || s === '0') autoAddrList = false;
    else if (s !== 'YES' && s !== '1') warnings.push(`ignoring EPICS_CA_AUTO_ADDR_LIST='${auto.value}': expected YES or NO`);
  }
  return {
    addrList: list(env, warnings, 'EPICS_CA_ADDR_LIST', serverPort),
    autoAddrList,
    serverPort,
    nameServers: list(env, warnings, 'EPICS_CA_NAME_SERVERS', serverPort),
    connTmoMs: positive(env, warnings, 'EPICS_CA_CONN_TMO', 30_000, 1000),
    maxArrayBytes: Math.max(16384, positive(env, warnings, 'EPICS_CA_MAX_ARRAY_BYTES', DEFAULT_MAX_ARRAY_BYTES)),
    warnings,
  };
}

/** The search destinations: the list, plus each interface's broadcast address when auto. */
export function searchDestinations(addrList: HostPort[], auto: boolean, port: number): HostPort[] {
  if (!auto) return addrList;
  const out = [...addrList];
  for (const host of interfaceBroadcasts()) if (!out.some((a) => a.host === host && a.port === port)) out.push({ host, port });
  return out;
}

export function caServerConfigFromEnv(env: Env = process.env): CaServerConfig {
  const warnings: string[] = [];
  const serverPort = port(env, warnings, 'EPICS_CAS_SERVER_PORT', 'EPICS_CA_SERVER_PORT');
  const intf = list(env, warnings, 'EPICS_CAS_INTF_ADDR_LIST', serverPort);
  return {
    serverPort,
    host: intf[0]?.host ?? '0.0.0.0',
    maxArrayBytes: Math.max(16384, positive(env, warnings, 'EPICS_CA_MAX_ARRAY_BYTES', DEFAULT_MAX_ARRAY_BYTES)),
    warnings,
  };
}
