// The built-in "server" PV that every EPICS pvAccess server has and `pvlist <host:port>` calls:
// an RPC taking an NTURI whose query.op is "channels" (the names the server lists) or "info"
// (implementation and version), as pvAccessCPP's ServerRPCService and PVXS's ServerSource do.
//
// pvAccessCPP answers "channels" with { string[] value } typed epics:nt/NTScalarArray:1.0 and
// PVXS with a full NTScalarArray; pvlist reads only `value`, so the minimal form is sent.
// The PV is added as a source, after the static PVs: a user PV called "server" wins, and it is
// not itself in the list. Like PVXS and pvAccessCPP, searches for it are not answered (see
// Server.has): clients connect to the address directly.
import { InvalidArgumentError } from '../../errors.js';
import { t, type FieldDesc } from '../../pvdata/types.js';
import type { PVStructure, PVValue } from '../../pvdata/values.js';
import type { PvaServer } from './server.js';
import { SharedPV } from '../../pv/shared-pv.js';
import { sluiceVersion } from '../../version.js';

export { sluiceVersion };

export const SERVER_INFO_PV = 'server';

const channelListT = t.struct({ value: t.array('string') }, 'epics:nt/NTScalarArray:1.0');
const helpT = t.struct({ value: t.string }, 'epics:nt/NTScalar:1.0');
const infoT = t.struct({ implLang: t.string, version: t.string });

const HELP = [
  'pvAccess server RPC service.',
  'arguments: string op, the operation to execute:',
  '  channels  the names of the channels the server lists',
  '  info      implementation language and version',
].join('\n');

/** Serve the "server" PV of `server` (the Server constructor calls this). */
export function serveServerInfo(server: PvaServer): SharedPV {
  const info = { implLang: 'js', version: `sluice ${sluiceVersion()}` };
  const pv = new SharedPV({ onRpc: (_pv, args) => answer(server, args, info) });
  pv.open(infoT, info); // a GET returns the same as op=info
  server.addSource((name) => (name === SERVER_INFO_PV ? pv : undefined));
  return pv;
}

function answer(
  server: PvaServer,
  args: { type: FieldDesc | null; value: PVValue },
  info: PVStructure,
): { type: FieldDesc; value: PVValue } {
  let query: PVStructure = isStruct(args.value) ? args.value : {};
  // An NTURI carries the arguments in `query`; a plain structure carries them directly.
  if (args.type?.kind === 'structure' && args.type.id.startsWith('epics:nt/NTURI:1') && isStruct(query['query'])) {
    query = query['query'] as PVStructure;
  }
  if ('help' in query) return { type: helpT, value: { value: HELP } };
  const op = query['op'];
  if (op === 'channels') return { type: channelListT, value: { value: [...server.pvNames].sort() } };
  if (op === 'info') return { type: infoT, value: { ...info } };
  throw new InvalidArgumentError(op === undefined ? "unspecified 'string op' field" : `unknown op '${String(op)}' (known: channels, info)`);
}

function isStruct(v: unknown): v is PVStructure {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v);
}
