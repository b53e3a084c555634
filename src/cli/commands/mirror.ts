// sluice mirror: PvaPy's pvapy-mirror-server. Serves read-only mirrors of pvAccess (or Channel
// Access) channels, with the distributor plugin, so that several consumers can share a source
// that lacks it. Same options and messages as PvaPy, plus the server options of `sluice sim`.
import { SluiceError } from '../../errors.js';
import { parseChannelMap, type ChannelMapEntry } from '../../mirror/channel-map.js';
import { MirrorServer } from '../../mirror/mirror-server.js';
import { accessOptions, servingServer } from '../access-options.js';
import { defineCommand, UsageError, type ParsedArgs } from '../args.js';
import { MAX_SECONDS, rangedOption } from '../framework-options.js';
import { hostOption, portOption, sleep, whenAborted, type CliContext } from '../common.js';
import { makeClient } from '../pva-client.js';

export const spec = defineCommand({
  name: 'mirror',
  summary: 'Serve read-only mirrors of pvAccess channels, with the distributor plugin, like pvapy-mirror-server.',
  usage: ['--channel-map MAP [options]'],
  description:
    'MAP is a comma-separated list of tuples (mirrorChannel,sourceChannel[,provider][,sourceQueueSize' +
    '[,nSourceMonitors,sourceRequestDescriptor]]): provider pva (default) or ca; source queue size >= 0 (default 0: ' +
    'no queue option; otherwise record[queueSize=N] with pipeline flow control); number of source monitors >= 1 ' +
    '(default 1); request descriptor (default: the whole structure), what goes inside field(...), typically a distributor ' +
    'request such as _[pydistributor=updates:1;group:mirror;trigger:uniqueId] to share the reception among the monitors. ' +
    'A mirror appears with the first update of its source and disappears when the source goes away. ' +
    'Counters (nReceived, nOverruns) are printed per channel every report period and at exit. See docs/mirror.md.',
  options: {
    version: { type: 'boolean', short: 'v', description: "Print Sluice's version and exit (PvaPy's -v)." },
    'channel-map': { type: 'string', short: 'cm', value: 'MAP', description: 'Mirror channels and their sources (required).' },
    runtime: { type: 'string', short: 'rt', value: 'SEC', description: 'Seconds to run; <= 0 until Ctrl-C.', default: '0' },
    'report-period': {
      type: 'string',
      short: 'rp',
      value: 'SEC',
      description: 'Seconds between printing the counters of every channel (always printed at exit); <= 0 never.',
      default: '0',
    },
    port: portOption,
    host: hostOption,
    ...accessOptions,
  },
  maxPositionals: 0,
  examples: [
    "sluice mirror -cm '(pvapy:image,13SIM1:Pva1:Image)'",
    "sluice mirror -cm '(mirror:image,sim:image,pva,100,4,_[pydistributor=updates:1;group:mirror;trigger:uniqueId])' -rp 10",
    "sluice mirror -cm '(m:a,src:a),(m:b,src:b,pva,10)' -rt 60 --port 0",
  ],
});

export async function run(args: ParsedArgs<typeof spec.options>, ctx: CliContext): Promise<number> {
  const v = args.values;
  let entries: ChannelMapEntry[];
  try {
    entries = parseChannelMap(v['channel-map']);
  } catch (err) {
    throw err instanceof SluiceError && err.code === 'ERR_INVALID_ARGUMENT' ? new UsageError(err.message) : err;
  }
  const runtime = seconds(v.runtime, '--runtime', '<= 0: until Ctrl-C');
  const reportPeriod = seconds(v['report-period'], '--report-period', '<= 0: never');
  const server = await servingServer(v, ctx);
  const client = makeClient(ctx, 5000);
  const mirror = new MirrorServer({ server, client, caClientOptions: { env: ctx.env } });
  mirror.on('up', (name: string) => ctx.out(`Mirror channel ${name} is up`));
  mirror.on('down', (name: string, reason: string) => ctx.out(`Mirror channel ${name} is down: ${reason}`));
  mirror.on('warning', (name: string, err: Error) => ctx.err(`warning: mirror channel ${name}: ${err.message}`));
  const print = (all: { name: string; nReceived: number; nOverruns: number }[]): void => {
    const now = (Date.now() / 1000).toFixed(3);
    // PvaPy prints the Python dictionary.
    for (const c of all) ctx.out(`Channel ${c.name} @ ${now}: {'nReceived': ${c.nReceived}, 'nOverruns': ${c.nOverruns}}`);
  };
  const counters = () =>
    entries.filter((e) => mirror.has(e.mirrorName)).map((e) => ({ name: e.mirrorName, ...mirror.counters(e.mirrorName) }));
  try {
    const tcpPort = await server.listen();
    ctx.out(`serving mirror channels on ${server.tcpHost}:${tcpPort}`);
    for (const e of entries) {
      ctx.out(
        `Adding mirror channel ${e.mirrorName} using source ${e.sourceName} (provider type: ${e.provider}; ` +
          `queue size: ${e.queueSize}; number of monitors: ${e.nMonitors}; request descriptor: ${e.request})`,
      );
      mirror.addMirror(e.mirrorName, e.sourceName, e);
    }
    const start = Date.now();
    ctx.out(`Started mirror server @ ${(start / 1000).toFixed(3)}`);
    const timer =
      reportPeriod > 0
        ? setInterval(() => {
            ctx.out('');
            print(counters());
          }, reportPeriod * 1000)
        : null;
    if (runtime > 0) await sleep(runtime * 1000, ctx.signal);
    else await whenAborted(ctx.signal);
    if (timer) clearInterval(timer);
    const runFor = ((Date.now() - start) / 1000).toFixed(3);
    ctx.out(ctx.signal.aborted ? 'Keyboard interrupt received, exiting.' : `Server is exiting after ${runFor} seconds`);
    const final = counters();
    mirror.removeAllListeners('down');
    mirror.removeAll(); // nothing more is received: these counters are final
    ctx.out('');
    ctx.out('Final Channel Statistics:');
    print(final);
  } finally {
    await mirror.close();
    client.close();
    await server.close();
  }
  return 0;
}

function seconds(text: string | undefined, option: string, note: string): number {
  return rangedOption(text, option.replace(/^--/, ''), { min: 0, max: MAX_SECONDS, note });
}
