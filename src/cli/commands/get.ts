// sluice get: read PVs once and print them, like pvget (the options of pvget and pvxget).
import { parsePVRequest } from '../../pvdata/pvrequest.js';
import { defineCommand, type ParsedArgs } from '../args.js';
import { describeFailure, parseSeconds, type CliContext } from '../common.js';
import { formatJSONLine, formatValue, toJSONValue } from '../format.js';
import { makeToolClient } from '../tool-client.js';
import { run as runMonitor } from './monitor.js';
import {
  debugEnvironment,
  debugLog,
  formatOption,
  outputChoice,
  providerOf,
  pvgetIgnored,
  valueToolOptions,
  warnIgnoredRequest,
} from '../tool-options.js';

export const spec = defineCommand({
  name: 'get',
  summary: 'Read the current value of one or more PVs (like pvget).',
  usage: ['[options] PV...'],
  description:
    'Each PV prints as pvget prints it: the name (padded to the longest), then for NTScalar, NTScalarArray and NTEnum ' +
    'the time stamp, value and alarm (when not NO_ALARM) on one line, for NTTable the time and alarm, a header and ' +
    'the rows; NTNDArray prints as size, type and uniqueId on one line; other structures, and every value with ' +
    '-v or -M raw, print one field per line. Arrays print in full unless -# limits them. ' +
    'PVs are read in parallel and printed in the order given.',
  options: {
    ...valueToolOptions,
    format: formatOption,
    monitor: { type: 'boolean', short: 'm', description: 'Monitor: print every update until Ctrl-C, as sluice monitor does (pvget -m).' },
    ...pvgetIgnored,
  },
  minPositionals: 1,
  examples: [
    'sluice get TST:ao',
    "sluice get -r 'field(value,alarm)' TST:ao TST:wf",
    'sluice get -M json TST:ao',
    'sluice get -# 10 TST:wf',
    'sluice get -p ca IOC:ai',
  ],
});

export async function run(args: ParsedArgs<typeof spec.options>, ctx: CliContext): Promise<number> {
  if (args.values.monitor) {
    const { monitor: _, timeout: __, ...values } = args.values; // pvget -m waits for its PVs, as pvmonitor
    return runMonitor({ values, positionals: args.positionals }, ctx);
  }
  const timeoutMs = parseSeconds(args.values.timeout, '--timeout');
  const request = parsePVRequest(args.values.request ?? ''); // a bad -r is a usage error (exit 2)
  const out = outputChoice(args.values);
  const provider = providerOf(args.values.provider);
  warnIgnoredRequest(ctx, provider, args.values.request);
  const debug = debugLog(ctx, args.values.debug);
  debugEnvironment(debug, ctx.env, provider);
  const names = args.positionals;
  const client = makeToolClient(ctx, provider, timeoutMs);
  const width = Math.max(...names.map((n) => n.length));
  try {
    const results = await Promise.allSettled(names.map((n) => client.get(n, { request, timeoutMs })));
    let status = 0;
    results.forEach((r, i) => {
      const name = names[i] as string;
      if (r.status === 'rejected') {
        ctx.err(describeFailure(r.reason, name));
        status = 1;
        return;
      }
      debug(`${name}: read from ${client.server(name) || 'an unknown server'}`);
      const { type, value } = r.value;
      if (args.values.json) ctx.out(JSON.stringify({ name, value: toJSONValue(type, value) }));
      else if (out.mode === 'json') ctx.out(`${name.padEnd(width)} ${formatJSONLine(type, value)}`);
      else ctx.out(`${name.padEnd(width)} ${formatValue(type, value, out.mode, { arrayLimit: out.arrayLimit })}`);
    });
    return status;
  } finally {
    client.close();
  }
}
