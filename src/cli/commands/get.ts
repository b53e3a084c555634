// sluice get: read PVs once and print them, like pvget.
import { parsePVRequest } from '../../pvdata/pvrequest.js';
import { defineCommand, type ParsedArgs } from '../args.js';
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
import { formatValue, toJSONValue } from '../format.js';

export const spec = defineCommand({
  name: 'get',
  summary: 'Read the current value of one or more PVs (like pvget).',
  usage: ['[options] PV...'],
  description:
    'NTScalar, NTScalarArray, NTEnum, NTTable and NTNDArray values print on one line after the PV name ' +
    '(time stamp, value, alarm when not NO_ALARM); other structures, and every value with -v, print one field per line. ' +
    'PVs are read in parallel and printed in the order given.',
  options: {
    request: requestOption,
    timeout: timeoutOption,
    verbose: verboseOption,
    json: jsonOption,
  },
  minPositionals: 1,
  examples: ['sluice get TST:ao', "sluice get -r 'field(value,alarm)' TST:ao TST:wf", 'sluice get --json TST:ao'],
});

export async function run(args: ParsedArgs<typeof spec.options>, ctx: CliContext): Promise<number> {
  const timeoutMs = parseSeconds(args.values.timeout, '--timeout');
  const request = parsePVRequest(args.values.request ?? ''); // a bad -r is a usage error (exit 2)
  const names = args.positionals;
  const client = makeClient(ctx, timeoutMs);
  const width = Math.max(...names.map((n) => n.length));
  try {
    const results = await Promise.allSettled(names.map((n) => client.get(n, { request, timeoutMs })));
    let status = 0;
    results.forEach((r, i) => {
      const name = names[i] as string;
      if (r.status === 'rejected') {
        ctx.err(describeFailure(r.reason, name));
        status = 1;
      } else if (args.values.json) {
        ctx.out(JSON.stringify({ name, value: toJSONValue(r.value.type, r.value.value) }));
      } else {
        ctx.out(`${name.padEnd(width)} ${formatValue(r.value.type, r.value.value, args.values.verbose ?? false)}`);
      }
    });
    return status;
  } finally {
    client.close();
  }
}
