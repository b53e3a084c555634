// sluice list: which servers answer (no argument), or which channels a server has (like pvlist).
import { clientConfigFromEnv, parseAddressList } from '../../pva/config.js';
import { SERVER_INFO_PV } from '../../pva/server/server-info.js';
import { nturi } from '../../pvdata/nt/index.js';
import { t } from '../../pvdata/types.js';
import type { PVStructure } from '../../pvdata/values.js';
import { defineCommand, UsageError, type ParsedArgs } from '../args.js';
import { describeFailure, jsonOption, parseSeconds, type CliContext } from '../common.js';
import { DirectClient, discoverServers } from '../discover-servers.js';
import { formatValue, toJSONValue } from '../format.js';

export const spec = defineCommand({
  name: 'list',
  summary: 'List the servers that answer a search, or the channels of given servers (like pvlist).',
  usage: ['[options]', '[options] HOST[:PORT]|0xGUID...'],
  description:
    'Without arguments, a search that names no channel and asks for a reply is sent to every address of ' +
    'EPICS_PVA_ADDR_LIST (plus broadcast addresses unless EPICS_PVA_AUTO_ADDR_LIST=NO), and each server that answers is ' +
    'printed as "GUID 0x<guid>, version <v>: tcp@[<address>...]". With servers (PORT defaults to EPICS_PVA_SERVER_PORT ' +
    'or 5075; a GUID is looked up by the same search), the server\'s built-in "server" RPC PV is called with ' +
    'op=channels and the names are printed one per line.',
  options: {
    timeout: {
      type: 'string',
      short: 'w',
      value: 'SEC',
      description: 'Seconds to wait for servers to answer.',
      default: '3',
    },
    info: {
      type: 'boolean',
      short: 'i',
      description: "Print each given server's implementation and version (op=info) instead of its channels.",
    },
    json: jsonOption,
  },
  examples: ['sluice list', 'sluice list 127.0.0.1:5075', 'sluice list -i ioc01.example.org'],
});

export async function run(args: ParsedArgs<typeof spec.options>, ctx: CliContext): Promise<number> {
  const waitMs = parseSeconds(args.values.timeout, '--timeout');
  const config = clientConfigFromEnv(ctx.env);
  const json = args.values.json ?? false;
  if (args.positionals.length === 0) {
    if (config.addressList.length === 0) {
      ctx.err('nothing to search: EPICS_PVA_ADDR_LIST is empty and EPICS_PVA_AUTO_ADDR_LIST=NO');
      return 1;
    }
    const servers = await discoverServers(config, waitMs);
    for (const s of servers) {
      if (json) ctx.out(JSON.stringify(s));
      else ctx.out(`GUID 0x${s.guid.toUpperCase()}, version ${s.version}: ${s.protocol}@[${s.addresses.join(', ')}]`);
    }
    if (servers.length === 0) ctx.err(`no server answered within ${waitMs / 1000} s`);
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
