// sluice list: which servers answer (no argument), or which channels a server has (like pvlist).
import { clientConfigFromEnv, parseAddressList } from '../../pva/config.js';
import { SERVER_INFO_PV } from '../../pva/server/server-info.js';
import { nturi } from '../../pvdata/nt/index.js';
import { t } from '../../pvdata/types.js';
import type { PVStructure } from '../../pvdata/values.js';
import { defineCommand, UsageError, type ParsedArgs } from '../args.js';
import { describeFailure, jsonOption, parseSeconds, whenAborted, type CliContext } from '../common.js';
import { DirectClient, discoverServers, listenForBeacons, type FoundServer } from '../discover-servers.js';
import { formatValue, toJSONValue } from '../format.js';
import { debugEnvironment, debugLog, debugOption, versionOption } from '../tool-options.js';

export const spec = defineCommand({
  name: 'list',
  summary: 'List the servers that answer a search, or the channels of given servers (like pvlist).',
  usage: ['[options]', '[options] HOST[:PORT]|0xGUID...'],
  description:
    'Without arguments, a search that names no channel and asks for a reply is sent to every address of ' +
    'EPICS_PVA_ADDR_LIST (plus broadcast addresses unless EPICS_PVA_AUTO_ADDR_LIST=NO), and each server that answers is ' +
    'printed as "GUID 0x<guid>, version <v>: tcp@[<address>...]". With servers (PORT defaults to EPICS_PVA_SERVER_PORT ' +
    'or 5075; a GUID is looked up by the same search), the server\'s built-in "server" RPC PV is called with ' +
    'op=channels and the names are printed one per line. With -p nothing is sent: the servers whose beacons arrive ' +
    'on EPICS_PVA_BROADCAST_PORT within -w seconds (0: until Ctrl-C) are printed as they are heard.',
  options: {
    timeout: {
      type: 'string',
      short: 'w',
      value: 'SEC',
      description: 'Seconds to wait for servers to answer (with -p, 0 listens until Ctrl-C).',
      default: '3',
    },
    active: {
      type: 'boolean',
      short: 'A',
      description: 'Active discovery, the default: send a search every server answers (as pvxlist -A).',
    },
    passive: { type: 'boolean', short: 'p', description: 'Passive discovery: only listen for server beacons (as pvxlist -p).' },
    info: {
      type: 'boolean',
      short: 'i',
      description: "Print each given server's implementation and version (op=info) instead of its channels.",
    },
    json: jsonOption,
    quiet: { type: 'boolean', short: 'q', description: 'Do not report that no server answered.' },
    debug: {
      ...debugOption,
      description: 'Debug lines on stderr: the EPICS_PVA_* settings in effect and, with -p, the UDP port listened on.',
    },
    verbose: { type: 'boolean', short: 'v', description: 'Same as -d (pvxlist -v).' },
    format: { type: 'string', short: 'F', value: 'OFS', description: 'Accepted and ignored, as pvlist does.' },
    version: versionOption,
  },
  examples: ['sluice list', 'sluice list 127.0.0.1:5075', 'sluice list -i ioc01.example.org', 'sluice list -p -w 0'],
});

export async function run(args: ParsedArgs<typeof spec.options>, ctx: CliContext): Promise<number> {
  const passive = args.values.passive ?? false;
  if (passive && args.values.active) throw new UsageError('-A and -p exclude each other');
  if (passive && args.positionals.length) throw new UsageError('-p discovers servers: it takes no address');
  const waitMs = parseSeconds(args.values.timeout, '--timeout', passive);
  const config = clientConfigFromEnv(ctx.env);
  const json = args.values.json ?? false;
  const debug = debugLog(ctx, args.values.debug || args.values.verbose);
  debugEnvironment(debug, ctx.env, 'pva');
  const print = (s: FoundServer) =>
    ctx.out(json ? JSON.stringify(s) : `GUID 0x${s.guid.toUpperCase()}, version ${s.version}: ${s.protocol}@[${s.addresses.join(', ')}]`);
  if (passive) {
    const stop = new AbortController();
    let found = 0;
    const port = await listenForBeacons(config.broadcastPort, (s) => (found++, print(s)), stop.signal);
    debug(`listening for beacons on UDP port ${port}`);
    const timer = waitMs ? setTimeout(() => stop.abort(), waitMs) : null;
    await Promise.race([whenAborted(ctx.signal), whenAborted(stop.signal)]);
    if (timer) clearTimeout(timer);
    stop.abort();
    if (!found && !args.values.quiet) ctx.err(`no beacon heard on UDP port ${port}${waitMs ? ` within ${waitMs / 1000} s` : ''}`);
    return 0;
  }
  if (args.positionals.length === 0) {
    if (config.addressList.length === 0) {
      ctx.err('nothing to search: EPICS_PVA_ADDR_LIST is empty and EPICS_PVA_AUTO_ADDR_LIST=NO');
      return 1;
    }
    const servers = await discoverServers(config, waitMs);
    for (const s of servers) print(s);
    if (servers.length === 0 && !args.values.quiet) ctx.err(`no server answered within ${waitMs / 1000} s`);
    return 0;
  }

  const needGuids = args.positionals.some((a) => /^0x[0-9a-f]{24}$/i.test(a));
  const known = needGuids ? await discoverServers(config, waitMs) : [];
  let status = 0;
  for (const arg of args.positionals) {
    let address = arg;
    if (/^0x[0-9a-f]{24}$/i.test(arg)) {
      const s = known.find((k) => k.guid === arg.slice(2).toLowerCase());
      if (!s) {
        ctx.err(`no server with GUID ${arg} answered`);
        status = 1;
        continue;
      }
      address = s.addresses[0] as string;
    }
    const target = parseAddressList(address, config.serverPort)[0];
    if (!target || /\s/.test(address)) throw new UsageError(`'${arg}' is not HOST[:PORT] or a 0x GUID`);
    const server = `${target.host}:${target.port}`;
    const client = new DirectClient(target, { env: ctx.env, timeoutMs: waitMs });
    try {
      // The argument pvlist sends: NTURI { scheme, path "server", query { op } }.
      const type = t.struct({ scheme: t.string, path: t.string, query: t.struct({ op: t.string }) }, nturi.id);
      const op = args.values.info ? 'info' : 'channels';
      const value = { scheme: 'pva', path: SERVER_INFO_PV, query: { op } };
      const res = await client.rpc(SERVER_INFO_PV, { type, value }, { timeoutMs: waitMs });
      const result = (res.value ?? {}) as PVStructure;
      if (op === 'channels') {
        const names = Array.from((result['value'] ?? []) as ArrayLike<string>);
        if (json) ctx.out(JSON.stringify({ server, channels: names }));
        else names.forEach((n) => ctx.out(n));
      } else if (json) {
        ctx.out(JSON.stringify({ server, info: res.type ? toJSONValue(res.type, res.value) : null }));
      } else if (res.type?.kind === 'structure') {
        ctx.out(`${server} ${formatValue(res.type, result, true)}`);
      }
    } catch (err) {
      ctx.err(describeFailure(err, server));
      status = 1;
    } finally {
      client.close();
    }
  }
  return status;
}
