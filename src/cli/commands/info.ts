// sluice info: the type of a PV and the server that has it (like pvinfo and pvxinfo).
import { hostname, networkInterfaces } from 'node:os';
import { formatType } from '../../pvdata/types.js';
import { defineCommand, type ParsedArgs } from '../args.js';
import { describeFailure, jsonOption, parseSeconds, timeoutOption, type CliContext } from '../common.js';
import { makeToolClient } from '../tool-client.js';
import { debugEnvironment, debugLog, debugOption, providerOf, providerOption, versionOption } from '../tool-options.js';

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
    provider: providerOption,
    debug: debugOption,
    verbose: { type: 'boolean', short: 'v', description: 'Print the client configuration on stderr (as pvxinfo -v).' },
    host: {
      type: 'boolean',
      short: 'D',
      description: 'Print host troubleshooting information first: host name, interfaces, EPICS_* settings (as pvxinfo -D).',
    },
    clean: { type: 'boolean', short: 'c', description: 'Accepted and ignored, as pvinfo does.' },
    version: versionOption,
  },
  minPositionals: 1,
  examples: ['sluice info TST:ao', 'sluice info --json IMG:image', 'sluice info -p ca IOC:ai'],
});

export async function run(args: ParsedArgs<typeof spec.options>, ctx: CliContext): Promise<number> {
  const timeoutMs = parseSeconds(args.values.timeout, '--timeout');
  const provider = providerOf(args.values.provider);
  const debug = debugLog(ctx, args.values.debug || args.values.verbose);
  debugEnvironment(debug, ctx.env, provider);
  if (args.values.host) printHost(ctx);
  const client = makeToolClient(ctx, provider, timeoutMs);
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
      const { type, server } = r.value;
      debug(`${name}: described by ${server || 'an unknown server'}`);
      if (args.values.json) {
        ctx.out(JSON.stringify({ name, server, type }));
        return;
      }
      ctx.out(name);
      ctx.out(`Server: ${server}`);
      ctx.out('Type:');
      ctx.out(formatType(type, subField ? subField.split('.').pop() : '', '    '));
    });
    return status;
  } finally {
    client.close();
  }
}

/** What pvxinfo -D helps with: which host, which interfaces, which EPICS settings. */
function printHost(ctx: CliContext): void {
  ctx.out(`Host: ${hostname()}`);
  for (const [name, addrs] of Object.entries(networkInterfaces())) {
    for (const a of addrs ?? [])
      if (a.family === 'IPv4') ctx.out(`Interface: ${name} ${a.cidr ?? a.address}${a.internal ? ' (loopback)' : ''}`);
  }
  for (const k of Object.keys(ctx.env)
    .filter((k) => k.startsWith('EPICS_'))
    .sort())
    ctx.out(`${k}=${ctx.env[k]}`);
}
