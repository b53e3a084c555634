// sluice call: call an RPC PV (like pvcall). The argument is what pvcall sends: an NTURI
// {scheme "pva", authority "", path PV, query {NAME: VALUE...}} where each VALUE is a string,
// a string[] when written as a JSON array, or a structure when written as a JSON object.
import { InvalidArgumentError } from '../../errors.js';
import type { PvaClient } from '../../pva/client/client.js';
import { clientConfigFromEnv, parseAddressList } from '../../pva/config.js';
import { SERVER_INFO_PV } from '../../pva/server/server-info.js';
import { inferType } from '../../pvdata/infer.js';
import { nturi } from '../../pvdata/nt/index.js';
import { parsePVRequest } from '../../pvdata/pvrequest.js';
import { t, type FieldDesc, type StructureDesc } from '../../pvdata/types.js';
import type { PVStructure, PVValue } from '../../pvdata/values.js';
import { defineCommand, UsageError, type ParsedArgs } from '../args.js';
import { describeFailure, parseSeconds, type CliContext } from '../common.js';
import { makeClient } from '../pva-client.js';
import { DirectClient, discoverServers } from '../discover-servers.js';
import { formatJSONLine, formatScalar, formatValue, toJSONValue } from '../format.js';
import { parseJSONText, toArray } from '../parse-value.js';
import { debugEnvironment, debugLog, outputChoice, providerOf, providerOption, valueToolOptions } from '../tool-options.js';

export const spec = defineCommand({
  name: 'call',
  summary: 'Call an RPC PV with NAME=VALUE arguments and print the result (like pvcall).',
  usage: ['[options] PV [NAME=VALUE...]', '[options] -s PV [-a NAME=VALUE]...'],
  description:
    'The arguments travel as the query of an epics:nt/NTURI:1.0 structure, as pvcall builds it: ' +
    'scheme "pva", path PV, and one query field per argument. A value is a string, ' +
    'a string array when written as a JSON array (["a","b"]), or a structure when written as a JSON object. ' +
    'The result prints in the NT form (raw with -v, which also prints the argument, as pvcall -v). ' +
    'The PV "server" is the built-in service of every pvAccess server (op=channels lists its PVs, op=info ' +
    'names it); servers do not answer searches for it, so it is called on the server given by --server, ' +
    'else on the one server found through EPICS_PVA_NAME_SERVERS and EPICS_PVA_ADDR_LIST.',
  options: {
    ...valueToolOptions,
    provider: { ...providerOption, description: 'Provider: pva (Channel Access has no RPC).' },
    service: {
      type: 'string',
      short: 's',
      value: 'PV',
      description: "The PV to call (pvcall's legacy form); then every word is an argument.",
    },
    arg: {
      type: 'string',
      short: 'a',
      multiple: true,
      value: 'NAME=VALUE',
      description: "An argument (pvcall's legacy form); may be repeated.",
    },
    server: {
      type: 'string',
      value: 'HOST[:PORT]',
      description: 'Call the PV on this server, without searching (PORT defaults to EPICS_PVA_SERVER_PORT or 5075).',
    },
  },
  examples: [
    'sluice call TST:add lhs=1 rhs=2',
    'sluice call server op=channels',
    'sluice call --server 127.0.0.1:5075 server op=info',
    'sluice call --json TST:config \'settings={"gain":2}\'',
  ],
});

export async function run(args: ParsedArgs<typeof spec.options>, ctx: CliContext): Promise<number> {
  const timeoutMs = parseSeconds(args.values.timeout, '--timeout');
  const request = parsePVRequest(args.values.request ?? '');
  const out = outputChoice(args.values);
  providerOf(args.values.provider, ['pva']);
  const debug = debugLog(ctx, args.values.debug);
  debugEnvironment(debug, ctx.env, 'pva');
  const words = [...args.positionals];
  const name = args.values.service ?? words.shift();
  if (!name) throw new UsageError('missing the PV to call (usage: sluice call [options] PV [NAME=VALUE...])');
  let argument: { type: FieldDesc; value: PVValue };
  try {
    argument = ntUriArgument(name, [...(args.values.arg ?? []), ...words].map(parseArgument));
  } catch (err) {
    throw new UsageError((err as Error).message); // malformed NAME=VALUE: exit 2
  }
  const client = await clientFor(name, args.values.server, ctx, timeoutMs, debug);
  if (!client) return 1;
  try {
    if (out.verbosity > 0 && !args.values.json)
      ctx.out(`# Argument\n${formatValue(argument.type as StructureDesc, argument.value as PVStructure, 'raw')}`);
    const result = await client.rpc(name, argument, { request, timeoutMs });
    debug(`${name}: called on ${client.channel(name).server}`);
    if (out.verbosity > 0 && !args.values.json) ctx.out('# Result');
    if (args.values.json) {
      ctx.out(JSON.stringify({ name, value: result.type ? toJSONValue(result.type, result.value) : null }));
    } else if (result.type?.kind === 'structure') {
      const value = result.value as PVStructure;
      ctx.out(
        out.mode === 'json'
          ? formatJSONLine(result.type, value)
          : formatValue(result.type, value, out.mode, { arrayLimit: out.arrayLimit }),
      );
    } else if (result.type?.kind === 'scalar') {
      ctx.out(formatScalar(result.type.type, result.value));
    } else if (result.type) {
      ctx.out(JSON.stringify(toJSONValue(result.type, result.value)));
    }
    return 0;
  } catch (err) {
    ctx.err(describeFailure(err, name));
    return 1;
  } finally {
    client.close();
  }
}

/**
 * The client to call with: a searching one, except for the "server" PV, which no server
 * answers searches for: then the server of --server, or the only one that can be found.
 */
async function clientFor(
  name: string,
  server: string | undefined,
  ctx: CliContext,
  timeoutMs: number,
  debug: (l: string) => void,
): Promise<PvaClient | null> {
  const config = clientConfigFromEnv(ctx.env);
  if (server !== undefined) {
    const target = parseAddressList(server, config.serverPort)[0];
    if (!target || /\s/.test(server)) throw new UsageError(`--server expects HOST[:PORT], not '${server}'`);
    return new DirectClient(target, { env: ctx.env, timeoutMs });
  }
  if (name !== SERVER_INFO_PV) return makeClient(ctx, timeoutMs);
  const candidates = new Set(config.nameServers.map((s) => `${s.host}:${s.port}`));
  if (config.addressList.length) {
    for (const s of await discoverServers(config, Math.min(timeoutMs, 1000))) if (s.addresses[0]) candidates.add(s.addresses[0]);
  }
  debug(`servers found for '${SERVER_INFO_PV}': ${[...candidates].join(', ') || 'none'}`);
  if (candidates.size !== 1) {
    const found = candidates.size ? `${candidates.size} servers answer (${[...candidates].join(', ')})` : 'no server was found';
    ctx.err(`${SERVER_INFO_PV}: ${found}: name one with --server HOST:PORT (servers do not answer searches for '${SERVER_INFO_PV}')`);
    return null;
  }
  const target = parseAddressList([...candidates][0] as string, config.serverPort)[0] as { host: string; port: number };
  return new DirectClient(target, { env: ctx.env, timeoutMs });
}

interface Argument {
  name: string;
  type: FieldDesc;
  value: PVValue;
}

/** `NAME=VALUE` → a query member, typed as pvcall types it. */
export function parseArgument(word: string): Argument {
  const eq = word.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError(`argument '${word}' is not NAME=VALUE`);
  const name = word.slice(0, eq);
  const text = word.slice(eq + 1);
  if (/^\[.*\]$/s.test(text)) {
    const json = parseJSONText(text, name);
    return { name, type: t.array('string'), value: toArray('string', json, name) };
  }
  if (/^\{.*\}$/s.test(text)) {
    const value = parseJSONText(text, name) as PVValue;
    return { name, type: inferType(value), value };
  }
  return { name, type: t.string, value: text };
}

/** The NTURI pvcall sends (authority and query always present, as in pvcall). */
export function ntUriArgument(path: string, query: Argument[]): { type: FieldDesc; value: PVValue } {
  const seen = new Set<string>();
  for (const a of query) {
    if (seen.has(a.name)) throw new InvalidArgumentError(`argument '${a.name}' given twice`);
    seen.add(a.name);
  }
  const type = t.struct(
    [
      ['scheme', t.string],
      ['authority', t.string],
      ['path', t.string],
      ['query', t.struct(query.map((a) => [a.name, a.type] as const))],
    ],
    nturi.id,
  );
  const value: PVStructure = { scheme: 'pva', authority: '', path, query: Object.fromEntries(query.map((a) => [a.name, a.value])) };
  return { type, value };
}
