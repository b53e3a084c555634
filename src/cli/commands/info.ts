// sluice info: the type of a PV and the server that has it (like pvinfo).
import { formatType } from '../../pvdata/types.js';
import { defineCommand, type ParsedArgs } from '../args.js';
import { describeFailure, jsonOption, makeClient, parseSeconds, timeoutOption, type CliContext } from '../common.js';

export const spec = defineCommand({
  name: 'info',
  summary: 'Show the type of one or more PVs and the server that serves them (like pvinfo).',
  usage: ['[options] PV...'],
  description:
    'Prints the PV name, "Server: HOST:PORT" and the type description, indented as pvinfo does. ' +
    'With --json, one object per PV: {"name", "server", "type"} where type is the pvData field description.',
  options: {
    timeout: timeoutOption,
    json: jsonOption,
    field: { type: 'string', short: 'f', value: 'NAME', description: 'Describe only this (dotted) sub-field.' },
  },
  minPositionals: 1,
  examples: ['sluice info TST:ao', 'sluice info --json IMG:image'],
});

export async function run(args: ParsedArgs<typeof spec.options>, ctx: CliContext): Promise<number> {
  const timeoutMs = parseSeconds(args.values.timeout, '--timeout');
  const client = makeClient(ctx, timeoutMs);
  try {
    const names = args.positionals;
    const subField = args.values.field ?? '';
    const results = await Promise.allSettled(names.map((n) => client.info(n, { subField, timeoutMs })));
    let status = 0;
    results.forEach((r, i) => {
      const name = names[i] as string;
      if (r.status === 'rejected') {
        ctx.err(describeFailure(r.reason, name));
        status = 1;
        return;
      }
      const server = client.channel(name).server;
      if (args.values.json) {
        ctx.out(JSON.stringify({ name, server, type: r.value }));
        return;
      }
      ctx.out(name);
      ctx.out(`Server: ${server}`);
      ctx.out('Type:');
      ctx.out(formatType(r.value, subField ? subField.split('.').pop() : '', '    '));
    });
    return status;
  } finally {
    client.close();
  }
}
