// sluice host: run a Host (Pyacq's `python -m pyacq.core.host`), an RPC server that creates node
// groups in child processes for Managers, until Ctrl-C. Prints its address first, then its
// events and the node groups' log lines.
import { defineCommand, UsageError, type ParsedArgs } from '../args.js';
import { whenAborted, type CliContext } from '../common.js';

export const spec = defineCommand({
  name: 'host',
  summary: 'Run a Host that creates node groups (streams nodes in child processes) for Managers, until Ctrl-C.',
  usage: ['[options]'],
  description:
    'The first line printed is "host NAME at pva://HOST:PORT/NAME:rpc": the address a Manager adds ' +
    '(manager.addHost(address); HOST:PORT alone names a host of the default name). Each node group runs ' +
    'in its own child process, listening on the same interface; its log lines follow, with their ISO ' +
    'time, name and pid. On Ctrl-C the node groups are closed, then the host. Not a sandbox: whoever ' +
    'reaches the port can run any code here (docs/rpc.md, security).',
  options: {
    address: {
      type: 'string',
      value: 'HOST:PORT',
      description:
        'Interface and TCP port to serve on (default 127.0.0.1:0, a free port on this host only; give an ' +
        "interface address, not 0.0.0.0, so the node groups' addresses reach other hosts).",
    },
    name: { type: 'string', value: 'NAME', description: 'Host name: its RPC PV is NAME:rpc (default host).' },
  },
  maxPositionals: 0,
  examples: ['sluice host', 'sluice host --address 192.168.1.20:5090 --name daq1'],
});

/** `HOST:PORT`, `[IPv6]:PORT` or `HOST` (port 0). */
export function parseHostAddress(text: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:[\]]+)(?::(\d+))?$/.exec(text);
  const port = m?.[2] === undefined ? 0 : Number(m[2]);
  if (!m || port > 65535) throw new UsageError(`--address '${text}': expected HOST:PORT (e.g. 127.0.0.1:0)`);
  return { host: (m[1] as string).replace(/^\[|\]$/g, ''), port };
}

export async function run(args: ParsedArgs<typeof spec.options>, ctx: CliContext): Promise<number> {
  const { host, port } = parseHostAddress(args.values.address ?? '127.0.0.1:0');
  const name = args.values.name ?? 'host';
  if (!/^[\w.-]+$/.test(name)) throw new UsageError(`--name '${name}': letters, digits, '_', '.' or '-'`);
  // Loaded here: the streams and nodes are not every command's start-up cost.
  const { Host } = await import('../../streams/host.js');
  const h = await Host.start({ name, host, port, log: ctx.out, nodeGroupLogs: { log: ctx.out } });
  try {
    ctx.out(`host ${name} at ${h.address}`);
    // Ctrl-C, or a client that asked the host to close.
    await Promise.race([whenAborted(ctx.signal), h.server.whenClosed()]);
    return 0;
  } finally {
    await h.close();
  }
}
