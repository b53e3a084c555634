// Access security in the manner of EPICS: ACF files, PV lists, and the policy servers consult.
export { formatAcf, parseAcf, type Acf, type AcfRule, type Grant } from './acf.js';
export { AccessConfigError, AccessDeniedError } from './errors.js';
export { matchPvList, parsePvList, type PvList } from './pvlist.js';
export {
  AccessPolicy,
  denial,
  describeClient,
  plainAddress,
  resolveHosts,
  type AccessPolicyOptions,
  type ChannelRights,
  type ClientIdentity,
  type LoadAccessOptions,
  type Operation,
} from './policy.js';
