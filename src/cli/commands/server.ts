// sluice server: the channel server (stream_service's central server) on pvAccess: clients create
// channels, write to them and read them with their own server-side buffers, and call each other
// through it. Prints a live load table on a terminal, else a plain table every report period.
import { ChannelServer } from '../../channels/server.js';
import { DEFAULT_PREFIX, rpcPvName } from '../../channels/protocol.js';
import { CHANNEL_NAME } from '../../channels/service.js';
import { LoadTable } from '../../channels/stats.js';
import { ReportWriter } from '../../runtime/report-writer.js';
import { accessOptions, loadAccess, reloadAccessOnHangup } from '../access-options.js';
import { defineCommand, UsageError, type ParsedArgs } from '../args.js';
import { MAX_SECONDS, rangedOption } from '../framework-options.js';
import { hostOption, portOption, serverPort, whenAborted, type CliContext } from '../common.js';

export const spec = defineCommand({
  name: 'server',
  summary: 'Run the channel server: client-made channels with per-reader buffers, and RPC between clients.',
  usage: ['[options]'],
  description:
    `Serves the ChannelService on PREFIX:rpc (default prefix ${DEFAULT_PREFIX}), one PV per channel and an inbox PV per ` +
    'client. Channels are created, listed, inspected and deleted with sluice channel or the ChannelClient API; any ' +
    "pvAccess client reads a channel (pvmonitor -r 'record[queueSize=10,policy=ring,fillRate=5]' NAME). " +
    'The first line printed is "listening on HOST:PORT". On a terminal a live table shows the channels and their ' +
    'readers (rates, buffer fill, drops); otherwise the table is printed every report period. Stops on Ctrl-C or ' +
    'SIGTERM. See docs/channel-server.md.',
  options: {
    port: portOption,
    host: hostOption,
    prefix: { type: 'string', value: 'P', description: `Prefix of the server's own PVs (default: ${DEFAULT_PREFIX}).` },
    'stats-channel': {
      type: 'string',
      value: 'NAME',
      description: 'Serve a load statistics channel of this name (per-channel rates, per-reader buffers, per-client bytes).',
    },
    'stats-period': { type: 'string', value: 'SEC', description: 'Seconds between values of the statistics channel.', default: '1' },
    'report-period': {
      type: 'string',
      value: 'SEC',
      description: 'Seconds between tables when stdout is not a terminal; 0: never.',
      default: '10',
    },
    'hello-timeout': {
      type: 'string',
      value: 'SEC',
      description: 'A client must monitor its inbox this soon after registering, or it is dropped.',
      default: '5',
    },
    ...accessOptions,
  },
  maxPositionals: 0,
  examples: ['sluice server', 'sluice server --port 0 --stats-channel load', 'sluice server --prefix lab:chan --report-period 60'],
});

export async function run(args: ParsedArgs<typeof spec.options>, ctx: CliContext): Promise<number> {
  const v = args.values;
  const seconds = (name: 'stats-period' | 'report-period' | 'hello-timeout', min: number): number =>
    rangedOption(v[name], name, { min, max: MAX_SECONDS });
  const statsPeriod = seconds('stats-period', 0.01);
  const reportPeriod = seconds('report-period', 0);
  const helloTimeout = seconds('hello-timeout', 0.01);
  const prefix = v.prefix ?? DEFAULT_PREFIX;
  if (!/^[\w.:-]+$/.test(prefix)) throw new UsageError(`--prefix must be letters, digits, _ . : or -, not '${prefix}'`);
  const statsChannel = v['stats-channel'];
  if (statsChannel !== undefined && !CHANNEL_NAME.test(statsChannel))
    throw new UsageError(`--stats-channel must be 1-200 letters, digits or _ . : @ + -, not '${statsChannel}'`);
  const { port, explicit } = serverPort(v.port, ctx.env);
  const access = await loadAccess(v, ctx);
  const live = process.stdout.isTTY === true ? new ReportWriter(process.stdout, true) : null;
  const events: string[] = [];
  const log = (line: string): void => {
    if (!live) return ctx.out(line);
    events.push(line);
    if (events.length > 5) events.shift();
  };
  let server: ChannelServer;
  try {
    server = new ChannelServer({
      prefix,
      env: ctx.env,
      ...(explicit ? { port } : {}),
      ...(v.host ? { host: v.host } : {}),
      ...(access ? { access } : {}),
      ...(v['stats-channel'] ? { statsChannel: v['stats-channel'], statsIntervalMs: statsPeriod * 1000 } : {}),
      helloTimeoutMs: helloTimeout * 1000,
      log,
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  reloadAccessOnHangup(v, ctx, (p) => (server.pva.access = p));
  try {
    const tcpPort = await server.start();
    ctx.out(`listening on ${server.pva.tcpHost}:${tcpPort}`);
    ctx.out(`channel service on ${rpcPvName(prefix)}${v['stats-channel'] ? `, statistics on ${v['stats-channel']}` : ''}`);
    const table = new LoadTable(server);
    table.lines(); // the rates' starting point
    const show = (): void => {
      const lines = table.lines();
      if (live) live.write([...lines, ...(events.length ? ['', ...events] : [])].join('\n'));
      else for (const l of lines) ctx.out(l);
    };
    const period = live ? 1000 : reportPeriod * 1000;
    const timer = period > 0 ? setInterval(show, period) : null;
    await whenAborted(ctx.signal);
    if (timer) clearInterval(timer);
    live?.release();
    ctx.out('stopping the channel server');
    return 0;
  } finally {
    await server.close();
  }
}
