// A PV list in the manner of the CA gateway and the PVXS (p4p) gateway: one regular expression
// per line, matched against the whole PV name, that ALLOWs the PV (in an ASG, at an ASL) or
// DENYs it (for everyone, or FROM some hosts). EPICS ACF files have no PV patterns; this is how
// names are mapped to access security groups.
//
//   EVALUATION ORDER ALLOW, DENY      # the default: a matching DENY wins over any ALLOW
//   .*            ALLOW               # keep each PV's own group (DEFAULT, or CONTROL ...)
//   det:.*        ALLOW DETECTOR 1
//   det:secret.*  DENY
//   det:cal.*     DENY FROM ws7 ws8
import { AccessConfigError } from './errors.js';

export interface PvListAllow {
  pattern: RegExp;
  /** Undefined: the PV's own group (DEFAULT unless the program put it in another). */
  asg: string | undefined;
  asl: number;
  line: number;
}

export interface PvListDeny {
  pattern: RegExp;
  /** Hosts the DENY applies to (lower case); empty: every host. */
  from: string[];
  line: number;
}

export interface PvList {
  source: string;
  /** 'allow-deny' (default): DENY overrides ALLOW. 'deny-allow': ALLOW overrides DENY. */
  order: 'allow-deny' | 'deny-allow';
  allow: PvListAllow[];
  deny: PvListDeny[];
}

/** Default access security level of an ALLOW line without one (as both gateways). */
export const DEFAULT_ASL = 1;

export function parsePvList(text: string, source = 'PV list'): PvList {
  const list: PvList = { source, order: 'allow-deny', allow: [], deny: [] };
  const lines = text.split('\n');
  for (let n = 1; n <= lines.length; n++) {
    // A comment is a line starting with # or a # after blanks (a pattern may contain #).
    const raw = (lines[n - 1] as string).replace(/(^|\s)#.*/, '').trim();
    if (!raw) continue;
    const fail = (msg: string): never => {
      throw new AccessConfigError(source, n, msg);
    };
    const order = /^EVALUATION\s+ORDER\s+(ALLOW|DENY)\s*,\s*(ALLOW|DENY)$/.exec(raw);
    if (order) {
      if (order[1] === order[2]) fail('EVALUATION ORDER must be ALLOW, DENY or DENY, ALLOW');
      list.order = order[1] === 'ALLOW' ? 'allow-deny' : 'deny-allow';
      continue;
    }
    const [re, action, ...rest] = raw.split(/\s+/) as [string, string | undefined, ...string[]];
    let pattern: RegExp;
    try {
      pattern = new RegExp(`^(?:${re})$`);
    } catch (err) {
      return fail(`'${re}' is not a regular expression: ${(err as Error).message}`);
    }
    if (action === 'ALLOW') {
      if (rest.length > 2) fail(`ALLOW takes at most an ASG and an ASL, not '${rest.join(' ')}'`);
      const [asg, aslText] = rest;
      if (aslText !== undefined && !/^\d+$/.test(aslText)) fail(`ASL must be a non-negative integer, not '${aslText}'`);
      list.allow.push({ pattern, asg, asl: aslText === undefined ? DEFAULT_ASL : Number(aslText), line: n });
    } else if (action === 'DENY') {
      let from: string[] = [];
      if (rest.length > 0) {
        if (rest[0] !== 'FROM' || rest.length < 2) fail(`DENY takes nothing or FROM HOST..., not '${rest.join(' ')}'`);
        from = rest.slice(1).map((h) => h.toLowerCase());
      }
      list.deny.push({ pattern, from, line: n });
    } else if (action === 'ALIAS') fail('ALIAS renames PVs for a gateway; a Sluice server serves its PVs under their own names');
    else fail(action ? `expected ALLOW or DENY after the pattern, not '${action}'` : `'${re}' has no ALLOW or DENY`);
  }
  return list;
}

/** How a PV list places one PV for one client: denied, or allowed in a group at a level. */
export type PvListMatch = { denied: true; line: number } | { denied: false; asg: string | undefined; asl: number } | null;

/**
 * Look `name` up for a client whose host matches `hostIs` (a host of a DENY FROM). Null: no
 * line matches (a PV list then denies: only what it allows is served).
 */
export function matchPvList(list: PvList, name: string, hostIs: (host: string) => boolean): PvListMatch {
  let allowed: PvListAllow | undefined;
  for (let i = list.allow.length - 1; i >= 0; i--) {
    const a = list.allow[i] as PvListAllow;
    if (a.pattern.test(name)) {
      allowed = a; // the last matching line wins
      break;
    }
  }
  if (allowed && list.order === 'deny-allow') return { denied: false, asg: allowed.asg, asl: allowed.asl };
  for (const d of list.deny) {
    if (d.pattern.test(name) && (d.from.length === 0 || d.from.some(hostIs))) return { denied: true, line: d.line };
  }
  return allowed ? { denied: false, asg: allowed.asg, asl: allowed.asl } : null;
}
