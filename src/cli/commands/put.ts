// sluice put: write a PV, like pvput (EPICS 7): a bare value, field=value pairs, a JSON array
// for the value field, or a JSON object for the whole structure. Values are converted to the
// types the server announces before anything is sent.
import { InvalidArgumentError } from '../../errors.js';
import { parsePVRequest } from '../../pvdata/pvrequest.js';
import type { StructureDesc } from '../../pvdata/types.js';
import { fieldByPath } from '../../pvdata/types.js';
import type { PVStructure } from '../../pvdata/values.js';
import { defineCommand, type ParsedArgs } from '../args.js';
import { describeFailure, parseSeconds, type CliContext } from '../common.js';
import { formatJSONLine, formatValue, toJSONValue } from '../format.js';
import { makeToolClient } from '../tool-client.js';
import {
  debugEnvironment,
  debugLog,
  formatOption,
  outputChoice,
  providerOf,
  valueToolOptions,
  warnIgnoredRequest,
} from '../tool-options.js';
import { fromJSON, fromText, nest, parseJSONText, toArray, toScalar } from '../parse-value.js';

export const spec = defineCommand({
  name: 'put',
  summary: 'Write a value to a PV and print the old and new values (like pvput).',
  usage: [
    '[options] PV VALUE',
    '[options] PV COUNT VALUE...',
    '[options] PV FIELD=VALUE...',
    "[options] PV '[1,2,3]'",
    '[options] PV \'{"value":1.5}\'',
  ],
  description:
    'A bare VALUE goes to the value field (for an enum, a choice name or an index). For an array value field, ' +
    "give the elements as a JSON array, or as separate words after a first word that is ignored (pvput's element count). " +
    'FIELD=VALUE pairs write the named (dotted) fields; a VALUE starting with [ or { is JSON. ' +
    'A JSON object writes the fields it names. Bare values and pairs cannot be mixed. ' +
    'Values are checked against the field types (integers in range, true/false/1/0 for booleans). ' +
    'With -p ca only the value field can be written.',
  options: {
    ...valueToolOptions,
    format: formatOption,
    quiet: { type: 'boolean', short: 'q', description: 'Print only the new value, without "Old :" and "New :" (as pvput -q).' },
    terse: { type: 'boolean', short: 't', description: 'Accepted and ignored, as pvput does.' },
    numeric: { type: 'boolean', short: 'n', description: 'Accepted and ignored, as pvput does.' },
    string: { type: 'boolean', short: 's', description: 'Accepted and ignored, as pvput does.' },
  },
  minPositionals: 2,
  examples: [
    'sluice put TST:ao 1.5',
    'sluice put TST:ao value=1.5 alarm.severity=2',
    "sluice put TST:wf '[1,2,3]'",
    'sluice put TST:wf 3 1 2 3',
    'sluice put TST:ao \'{"value":1.5,"alarm":{"message":"set by hand"}}\'',
  ],
});

export async function run(args: ParsedArgs<typeof spec.options>, ctx: CliContext): Promise<number> {
  const timeoutMs = parseSeconds(args.values.timeout, '--timeout');
  const request = parsePVRequest(args.values.request ?? '');
  const out = outputChoice(args.values);
  const provider = providerOf(args.values.provider);
  warnIgnoredRequest(ctx, provider, args.values.request);
  const debug = debugLog(ctx, args.values.debug);
  debugEnvironment(debug, ctx.env, provider);
  const [name, ...words] = args.positionals as [string, ...string[]];
  const client = makeToolClient(ctx, provider, timeoutMs);
  try {
    const warn = (w: string) => ctx.err(`warning: ${w}`);
    const put = await client.put(name, (cur) => buildPut(cur.type, cur.value, words, warn), { request, timeoutMs });
    debug(`${name}: written on ${client.server(name) || 'an unknown server'}`);
    const after = await client.get(name, { request, timeoutMs });
    if (args.values.json) {
      const old = put.previous ? toJSONValue(put.type, put.previous) : null;
      ctx.out(
        JSON.stringify(
          args.values.quiet
            ? { name, new: toJSONValue(after.type, after.value) }
            : { name, old, new: toJSONValue(after.type, after.value) },
        ),
      );
      return 0;
    }
    const show = (type: typeof put.type, value: NonNullable<typeof put.previous>) =>
      out.mode === 'json' ? formatJSONLine(type, value) : formatValue(type, value, out.mode, { arrayLimit: out.arrayLimit });
    if (args.values.quiet) ctx.out(show(after.type, after.value));
    else {
      if (put.previous) ctx.out(`Old : ${show(put.type, put.previous)}`);
      ctx.out(`New : ${show(after.type, after.value)}`);
    }
    return 0;
  } catch (err) {
    ctx.err(describeFailure(err, name));
    return 1;
  } finally {
    client.close();
  }
}

/** The partial structure to send, from the words after the PV name (pvput's rules). */
export function buildPut(type: StructureDesc, current: PVStructure, words: string[], warn: (w: string) => void): PVStructure {
  const bare: string[] = [];
  const pairs: [string, string][] = [];
  const valueField = fieldByPath(type, 'value');
  for (const w of words) {
    const eq = w.indexOf('=');
    const field = eq > 0 ? w.slice(0, eq) : '';
    if (field && fieldByPath(type, field)) pairs.push([field, w.slice(eq + 1)]);
    // "a=b" naming no field is a plain value when the value field holds text
    else if (eq < 0 || (valueField?.kind === 'scalar' && valueField.type === 'string')) bare.push(w);
    else warn(`${name(type)} has no field '${field}': ignoring '${w}'`);
  }
  if (bare.length && pairs.length) throw new InvalidArgumentError('cannot mix bare values and FIELD=VALUE pairs');
  if (!bare.length && !pairs.length) throw new InvalidArgumentError('no value to put');
  const only = bare.length === 1 ? (bare[0] as string) : '';
  if (only.startsWith('[')) return nest('value', fromText(need(valueField), only, 'value'));
  if (only.startsWith('{')) return fromJSON(type, parseJSONText(only, 'value'), '') as PVStructure;
  if (pairs.length) {
    const out: PVStructure = {};
    for (const [field, text] of pairs) nest(field, fromText(fieldByPath(type, field) as NonNullable<typeof valueField>, text, field), out);
    return out;
  }
  const vt = need(valueField);
  if (vt.kind === 'scalar') {
    if (bare.length !== 1) throw new InvalidArgumentError(`value is a ${vt.type}: give one value, not ${bare.length}`);
    return { value: toScalar(vt.type, bare[0], 'value') };
  }
  if (vt.kind === 'scalarArray') return { value: toArray(vt.type, bare.slice(1), 'value') }; // first word: pvput's count
  if (vt.kind === 'structure' && vt.id === 'enum_t') {
    if (bare.length !== 1) throw new InvalidArgumentError('an enum takes one value: a choice or an index');
    const choices = ((current['value'] as PVStructure | undefined)?.['choices'] ?? []) as string[];
    const i = choices.indexOf(bare[0] as string);
    return { value: { index: i >= 0 ? i : toScalar('int', bare[0], 'value.index') } };
  }
  throw new InvalidArgumentError(`cannot put a bare value into a value field of type ${vt.kind}: use FIELD=VALUE or JSON`);
}

function need<T>(valueField: T | undefined): T {
  if (!valueField) throw new InvalidArgumentError('the PV has no value field: use FIELD=VALUE or JSON');
  return valueField;
}

function name(type: StructureDesc): string {
  return type.id || 'the structure';
}
