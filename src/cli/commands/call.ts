// sluice call: call an RPC PV (like pvcall). The argument is what pvcall sends: an NTURI
// {scheme "pva", authority "", path PV, query {NAME: VALUE...}} where each VALUE is a string,
// a string[] when written as a JSON array, or a structure when written as a JSON object.
import { InvalidArgumentError } from '../../errors.js';
import { inferType } from '../../pvdata/infer.js';
import { nturi } from '../../pvdata/nt/index.js';
import { parsePVRequest } from '../../pvdata/pvrequest.js';
import { t, type FieldDesc } from '../../pvdata/types.js';
import type { PVStructure, PVValue } from '../../pvdata/values.js';
import { defineCommand, UsageError, type ParsedArgs } from '../args.js';
import {
  describeFailure,
  jsonOption,
  makeClient,
  parseSeconds,
  requestOption,
  timeoutOption,
  verboseOption,
  type CliContext,
} from '../common.js';
import { formatScalar, formatValue, toJSONValue } from '../format.js';
import { parseJSONText, toArray } from '../parse-value.js';

export const spec = defineCommand({
  name: 'call',
  summary: 'Call an RPC PV with NAME=VALUE arguments and print the result (like pvcall).',
  usage: ['[options] PV [NAME=VALUE...]'],
  description:
    'The arguments travel as the query of an epics:nt/NTURI:1.0 structure, as pvcall builds it: ' +
    'scheme "pva", path PV, and one query field per argument. A value is a string, ' +
    'a string array when written as a JSON array (["a","b"]), or a structure when written as a JSON object.',
  options: {
    request: requestOption,
    timeout: timeoutOption,
    verbose: verboseOption,
    json: jsonOption,
  },
  minPositionals: 1,
  examples: ['sluice call TST:add lhs=1 rhs=2', "sluice call server op=channels", 'sluice call --json TST:config \'settings={"gain":2}\''],
});

export async function run(args: ParsedArgs<typeof spec.options>, ctx: CliContext): Promise<number> {
  const timeoutMs = parseSeconds(args.values.timeout, '--timeout');
  const request = parsePVRequest(args.values.request ?? '');
  const [name, ...words] = args.positionals as [string, ...string[]];
  let argument: { type: FieldDesc; value: PVValue };
  try {
    argument = ntUriArgument(name, words.map(parseArgument));
  } catch (err) {
    throw new UsageError((err as Error).message); // malformed NAME=VALUE: exit 2
  }
  const client = makeClient(ctx, timeoutMs);
  try {
    const result = await client.rpc(name, argument, { request, timeoutMs });
    if (args.values.json) {
      ctx.out(JSON.stringify({ name, value: result.type ? toJSONValue(result.type, result.value) : null }));
    } else if (result.type?.kind === 'structure') {
      ctx.out(formatValue(result.type, result.value as PVStructure, args.values.verbose ?? false));
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
