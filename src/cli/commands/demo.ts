// sluice demo: the main job in one command. A simulated detector (sluice sim) and N consumers
// (sluice consumer, each its own process) splitting its stream with the distributor, on this
// machine with no set-up: the consumers find the simulator as a name server, over loopback.
import { objectIdOffset } from '../../consumer/options.js';
import { parseReportGroups } from '../../runtime/report-lines.js';
import { runConsumerProcesses } from '../../consumer/run.js';
import { AdSimServer } from '../../sim/ad-sim-server.js';
import { demoWeb } from '../demo-web.js';
import { accessArgv, accessOptions, accessSettings, loadAccess, reloadAccessOnHangup } from '../access-options.js';
import { defineCommand, type ParsedArgs } from '../args.js';
import type { CliContext } from '../common.js';
import { MAX_PROCESSES, MAX_QUEUE, MAX_SECONDS, rangedOption, type Range } from '../framework-options.js';

export const spec = defineCommand({
  name: 'demo',
  summary: 'Stream simulated detector frames to N consumer processes and show their statistics.',
  usage: ['[options]'],
  description:
    'Starts a simulated area detector serving 128x128 ubyte NTNDArray frames on 127.0.0.1, and --consumers ' +
    'consumer processes running a processor (the passthrough by default). With --distributor-updates 1 (the ' +
    'default) the server gives each consumer every Nth frame; 0 gives every consumer every frame. Each consumer ' +
    'has a server queue with pipeline flow control, and the simulator waits when a queue is full, so no frame is ' +
    "lost. The consumers' statistics are shown every --report-period seconds (redrawn in place on a terminal), " +
    "then each consumer's final statistics and the combined ones. Needs no EPICS configuration and sends " +
    'nothing beyond loopback.',
  options: {
    consumers: { type: 'string', short: 'n', value: 'N', description: 'Number of consumer processes.', default: '2' },
    rate: { type: 'string', value: 'FPS', description: 'Frames per second; 0 as fast as the consumers take them.', default: '1000' },
    duration: { type: 'string', value: 'SEC', description: 'Seconds of streaming (default 5; with --web until Ctrl-C).' },
    width: { type: 'string', value: 'PX', description: 'Frame width.', default: '128' },
    height: { type: 'string', value: 'PX', description: 'Frame height.', default: '128' },
    'queue-size': { type: 'string', short: 'q', value: 'N', description: 'Server queue of each consumer.', default: '100' },
    'distributor-updates': {
      type: 'string',
      value: 'N',
      description: 'Consecutive frames per consumer; 0: every consumer gets every frame.',
      default: '1',
    },
    'processor-file': {
      type: 'string',
      value: 'FILE',
      description: 'Processor file for the consumers (e.g. examples/rotate-processor.ts).',
    },
    'processor-class': { type: 'string', value: 'CLASS', description: 'Processor class (default: the passthrough processor).' },
    'report-period': { type: 'string', value: 'SEC', description: 'Seconds between statistics reports.', default: '1' },
    'disable-curses': { type: 'boolean', description: 'Print reports as plain lines even on a terminal.' },
    web: {
      type: 'boolean',
      description:
        'Also serve the live dashboard (sluice dashboard) on 127.0.0.1, showing the image, the simulator\u2019s status ' +
        '(sluice:demo:sim:status) and each consumer\u2019s status and control PVs (buttons enabled), and print its URL.',
    },
    'web-port': { type: 'string', value: 'PORT', description: 'Port of the dashboard; 0 picks a free one.', default: '8080' },
    ...accessOptions,
  },
  maxPositionals: 0,
  examples: [
    'sluice demo',
    'sluice demo --consumers 4 --rate 0 --duration 10',
    'sluice demo --web --rate 20',
    'sluice demo --processor-file examples/rotate-processor.ts --processor-class HpcAdImageProcessor',
  ],
});

const RANGES: Record<string, Range> = {
  consumers: { min: 1, max: MAX_PROCESSES, integer: true },
  rate: { min: 0, max: 1_000_000, note: '0: as fast as the consumers take them' },
  duration: { min: 0.1, max: MAX_SECONDS },
  width: { min: 1, max: 65_536, integer: true },
  height: { min: 1, max: 65_536, integer: true },
  'distributor-updates': { min: 0, max: MAX_QUEUE, integer: true },
  'queue-size': { min: 1, max: MAX_QUEUE, integer: true },
  'report-period': { min: 0, max: MAX_SECONDS, note: '0: none' },
  'web-port': { min: 0, max: 65_535, integer: true, note: '0: a free port' },
};

function number(text: string | undefined, name: string): number {
  return rangedOption(text, name, RANGES[name] as Range);
}

export async function run(args: ParsedArgs<typeof spec.options>, ctx: CliContext): Promise<number> {
  const v = args.values;
  const n = number(v.consumers, 'consumers');
  const rate = number(v.rate, 'rate');
  // With --web and no --duration, the demo runs until Ctrl-C (runtime 0), for a person to watch.
  const duration = v.duration === undefined && v.web ? 0 : number(v.duration ?? '5', 'duration');
  const webPort = number(v['web-port'], 'web-port');
  const updates = number(v['distributor-updates'], 'distributor-updates');
  const queue = number(v['queue-size'], 'queue-size');
  const channel = 'sluice:demo:image';
  const access = await loadAccess(v, ctx);
  const ids = Array.from({ length: n }, (_, i) => i + 1);
  const web = v.web
    ? await demoWeb({ host: '127.0.0.1', port: webPort, imageChannel: channel, consumerIds: ids, log: (l) => ctx.err(l) })
    : null;
  const sim = new AdSimServer({
    channelName: channel,
    frame: { nx: number(v.width, 'width'), ny: number(v.height, 'height'), datatype: 'uint8', colorMode: 0 },
    nFrames: 100,
    fps: rate,
    runtime: duration,
    startDelay: 0.2,
    shutdownDelay: 1,
    lossless: true,
    waitClients: n,
    ...(web ? { statusChannel: web.simStatusChannel } : {}),
    serverOptions: { host: '127.0.0.1', port: 0, udpPort: false, env: {}, ...(access ? { access } : {}) },
  });
  reloadAccessOnHangup(v, ctx, (p) => (sim.server.access = p));
  const port = await sim.listen();
  ctx.out(`demo: simulator serving ${channel} on 127.0.0.1:${port}; starting ${n} consumer processes`);
  // Consumers find the simulator as a name server; their own servers neither search nor beacon.
  const env = {
    ...process.env,
    EPICS_PVA_AUTO_ADDR_LIST: 'NO',
    EPICS_PVA_ADDR_LIST: '',
    EPICS_PVA_NAME_SERVERS: `127.0.0.1:${port}`,
    EPICS_PVAS_SERVER_PORT: '0',
    EPICS_PVAS_BROADCAST_PORT: '0',
    EPICS_PVAS_AUTO_BEACON_ADDR_LIST: 'NO',
    EPICS_PVAS_BEACON_ADDR_LIST: '',
    ...web?.consumerEnv,
  };
  const reportPeriod = number(v['report-period'], 'report-period');
  const argv = ['consumer', '-ic', channel, '-sqs', String(queue), '-rp', String(reportPeriod)];
  if (updates > 0) argv.push('--distributor-updates', String(updates), '--distributor-trigger', 'uniqueId');
  if (v['processor-file']) argv.push('--processor-file', v['processor-file']);
  if (v['processor-class']) argv.push('--processor-class', v['processor-class']);
  argv.push(...accessArgv(v), ...(web?.consumerArgs ?? []));
  const stopConsumers = new AbortController();
  ctx.signal.addEventListener('abort', () => stopConsumers.abort(), { once: true });
  const consumers = runConsumerProcesses(
    ids,
    objectIdOffset(0, n, 1, updates > 0 ? updates : undefined),
    argv,
    {
      runtimeS: 0,
      reportPeriodS: reportPeriod,
      reportGroups: parseReportGroups('receiver,processor'),
      out: process.stdout,
      signal: stopConsumers.signal,
      live: !v['disable-curses'] && process.stdout.isTTY === true,
      forwardHangup: accessSettings(v, ctx.env) !== null,
    },
    env,
  );
  const running = sim.run(ctx.signal);
  if (web) {
    // Once every consumer has subscribed, its status and control PVs are served: the page finds them all.
    const ended = new AbortController();
    void running.finally(() => ended.abort());
    ctx.signal.addEventListener('abort', () => ended.abort(), { once: true });
    if (await sim.pv.whenSubscribers(n, ended.signal)) ctx.out(`demo: dashboard ${await web.start(port)}`);
  }
  const summary = await running;
  stopConsumers.abort(); // after the shutdown delay, their queues are drained
  const finals = await consumers;
  await web?.close();
  await sim.close();
  ctx.out(
    `demo: simulator published ${summary.frames} frames in ${summary.runtime.toFixed(2)} s ` +
      `(${summary.fps.toFixed(0)} frames/s, ${summary.mbps.toFixed(1)} MB/s)`,
  );
  const processed = finals.reduce((a, s) => a + s.processorStats.nProcessed, 0);
  const missed = finals.reduce((a, s) => a + s.processorStats.nMissed, 0);
  const expected = updates > 0 ? summary.frames : summary.frames * n;
  const skipped = finals.reduce((a, s) => a + s.processorStats.nSkipped, 0);
  ctx.out(`demo: ${n} consumer${n === 1 ? '' : 's'} processed ${processed} of ${expected} frames, missed ${missed}`);
  if (skipped > 0) {
    // nReceived is one more than nProcessed per consumer: say why, or it looks like a lost frame.
    ctx.out(
      `demo: nReceived also counts the ${skipped} initial update${skipped === 1 ? '' : 's'} (the value current at ` +
        "connection, not a new frame) that the consumers skip (--skip-initial-updates, PvaPy's default 1)",
    );
  }
  return finals.length === n ? 0 : 1;
}
