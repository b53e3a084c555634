// An access policy: an ACF and/or a PV list, decided per channel and client. The rights of a
// channel are computed once when a client creates it (and again when the policy is replaced),
// so that puts, RPCs and reads only look at three booleans.
//
// Which ASG: the PV list's ALLOW line that names one, else the PV's own group (SharedPV's
// accessGroup, e.g. CONTROL), else DEFAULT. An ASG the ACF does not define is DEFAULT; no DEFAULT
// grants nothing (as EPICS). A rule applies when its level is at least the PV's ASL (1 unless
// a PV list line says otherwise) and the client is in one of its UAGs and one of its HAGs.
import { lookup } from 'node:dns/promises';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { parseAcf, type Acf, type Grant } from './acf.js';
import { AccessDeniedError } from './errors.js';
import { DEFAULT_ASL, matchPvList, parsePvList, type PvList } from './pvlist.js';

/** Who is asking: the user and host the client announced, and the address it connects from. */
export interface ClientIdentity {
  user: string;
  host: string;
  /** Peer IP address, without port (an IPv4-mapped IPv6 prefix is ignored). */
  address: string;
}

export interface ChannelRights {
  read: boolean;
  put: boolean;
  rpc: boolean;
  /** Allowed puts are logged (a TRAPWRITE rule granted them). */
  trapWrite: boolean;
  /** The access security group that decided ('' for an open policy). */
  asg: string;
  /** Set when a PV list DENY (or no PV list line) hides the channel from this client. */
  deniedByPvList?: string;
}

export type Operation = 'read' | 'put' | 'rpc';

export interface AccessPolicyOptions {
  acf?: Acf | undefined;
  pvlist?: PvList | undefined;
  /** Match HAG hosts by the client's IP address instead of the host name it announces. */
  checkClientIp?: boolean | undefined;
  /** Addresses of HAG and DENY FROM host names (checkClientIp), from resolveHosts(). */
  addresses?: Map<string, string[]> | undefined;
  /** Where refusals and trapped puts are logged (default: process warnings, code SLUICE_ACCESS). */
  log?: ((line: string) => void) | undefined;
}

export interface LoadAccessOptions {
  acfFile?: string | undefined;
  pvlistFile?: string | undefined;
  checkClientIp?: boolean | undefined;
  log?: ((line: string) => void) | undefined;
  /** Looks up the addresses of a host name (default: the system resolver). */
  lookupHost?: ((name: string) => Promise<string[]>) | undefined;
}

const BITS: Record<Grant, number> = { NONE: 0, READ: 1, PUT: 3, RPC: 5, WRITE: 7, UNCACHED: 0 };
const ALL: ChannelRights = Object.freeze({ read: true, put: true, rpc: true, trapWrite: false, asg: '' });

/** An address without its IPv4-mapped IPv6 prefix (::ffff:10.0.0.1 is 10.0.0.1). */
export function plainAddress(a: string): string {
  return a.startsWith('::ffff:') && isIP(a.slice(7)) === 4 ? a.slice(7) : a;
}

export class AccessPolicy {
  readonly acf: Acf | undefined;
  readonly pvlist: PvList | undefined;
  readonly checkClientIp: boolean;
  readonly #addresses: Map<string, string[]>;
  readonly #log: (line: string) => void;

  constructor(options: AccessPolicyOptions = {}) {
    this.acf = options.acf;
    this.pvlist = options.pvlist;
    this.checkClientIp = options.checkClientIp === true;
    this.#addresses = options.addresses ?? new Map();
    this.#log = options.log ?? ((line) => process.emitWarning(line, { code: 'SLUICE_ACCESS' }));
  }

  /** No rules: everything allowed (EPICS practice when no ACF is configured). */
  get isOpen(): boolean {
    return !this.acf && !this.pvlist;
  }

  /** Read the files (errors name file:line) and, with checkClientIp, resolve the host names. */
  static async load(o: LoadAccessOptions): Promise<AccessPolicy> {
    const acf = o.acfFile ? parseAcf(await readFile(o.acfFile, 'utf8'), o.acfFile) : undefined;
    const pvlist = o.pvlistFile ? parsePvList(await readFile(o.pvlistFile, 'utf8'), o.pvlistFile) : undefined;
    const log = o.log ?? ((line: string) => process.emitWarning(line, { code: 'SLUICE_ACCESS' }));
    const addresses = o.checkClientIp ? await resolveHosts(hostNamesOf(acf, pvlist), log, o.lookupHost) : undefined;
    return new AccessPolicy({ acf, pvlist, checkClientIp: o.checkClientIp, addresses, log });
  }

  log(line: string): void {
    this.#log(line);
  }

  /** Does the PV list hide `name` from every client? (Searches for it are then not answered.) */
  hides(name: string): boolean {
    if (!this.pvlist) return false;
    const m = matchPvList(this.pvlist, name, () => false);
    return m === null || m.denied;
  }

  /** The rights of `who` on channel `name`, whose PV is in group `ownGroup` (default DEFAULT). */
  rights(name: string, ownGroup: string | undefined, who: ClientIdentity): ChannelRights {
    if (this.isOpen) return ALL;
    let asg = ownGroup || 'DEFAULT';
    let asl = DEFAULT_ASL;
    if (this.pvlist) {
      const m = matchPvList(this.pvlist, name, (h) => this.#hostIs(h, who));
      if (!m || m.denied) {
        const why = m ? `line ${m.line} of ${this.pvlist.source} denies it` : `no line of ${this.pvlist.source} allows it`;
        return { read: false, put: false, rpc: false, trapWrite: false, asg, deniedByPvList: why };
      }
      asg = m.asg ?? asg;
      asl = m.asl;
    }
    const acf = this.acf;
    if (!acf) return { ...ALL, asg };
    if (!acf.asgs.has(asg)) asg = 'DEFAULT';
    let bits = 0;
    let trapWrite = false;
    for (const r of acf.asgs.get(asg) ?? []) {
      if (r.level < asl) continue;
      if (r.uags.length && !r.uags.some((g) => acf.uags.get(g)?.includes(who.user))) continue;
      if (r.hags.length && !r.hags.some((g) => acf.hags.get(g)?.some((h) => this.#hostIs(h, who)))) continue;
      bits |= BITS[r.grant];
      if (r.trapWrite && BITS[r.grant] & 2) trapWrite = true;
    }
    return { read: (bits & 1) !== 0, put: (bits & 2) !== 0, rpc: (bits & 4) !== 0, trapWrite, asg };
  }

  /** Is `who` the host named `host` (lower case): its announced name, or its IP with checkClientIp. */
  #hostIs(host: string, who: ClientIdentity): boolean {
    if (!this.checkClientIp) return host === who.host.toLowerCase();
    const ip = plainAddress(who.address);
    return isIP(host) ? host === ip : (this.#addresses.get(host)?.includes(ip) ?? false);
  }
}

/** `user@host` as logs and messages show a client. */
export function describeClient(who: ClientIdentity): string {
  return `${who.user || 'anonymous'}@${who.host || plainAddress(who.address)}`;
}

const VERB: Record<Operation, string> = { read: 'read', put: 'put to', rpc: 'call RPC on' };

/** The refusal sent to the client and logged: who, what, which channel, which group decided. */
export function denial(op: Operation, channel: string, rights: ChannelRights, who: ClientIdentity): AccessDeniedError {
  const why = rights.deniedByPvList ? `: ${rights.deniedByPvList}` : ` (ASG ${rights.asg})`;
  return new AccessDeniedError(`access denied: ${describeClient(who)} may not ${VERB[op]} ${channel}${why}`);
}

function hostNamesOf(acf: Acf | undefined, pvlist: PvList | undefined): Set<string> {
  const names = new Set<string>();
  for (const hosts of acf?.hags.values() ?? []) for (const h of hosts) if (!isIP(h)) names.add(h);
  for (const d of pvlist?.deny ?? []) for (const h of d.from) if (!isIP(h)) names.add(h);
  return names;
}

/** Addresses of each host name, looked up once (as EPICS does when the ACF is loaded). */
export async function resolveHosts(
  names: Iterable<string>,
  log: (line: string) => void,
  lookupHost = async (name: string): Promise<string[]> => (await lookup(name, { all: true })).map((a) => a.address),
): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  await Promise.all(
    [...names].map(async (name) => {
      try {
        out.set(name, (await lookupHost(name)).map(plainAddress));
      } catch (err) {
        log(`access security: host ${name} does not resolve (${(err as Error).message}); it matches no client`);
        out.set(name, []);
      }
    }),
  );
  return out;
}
