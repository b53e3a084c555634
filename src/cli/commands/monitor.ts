// sluice monitor: print every update of one or more PVs (like pvmonitor), or with --stats only
// the stream's rate, bandwidth, missing frame ids and overruns, once a second.
import type { Client } from '../../pva/client/client.js';
import type { Subscription } from '../../pva/client/subscription.js';
import { parsePVRequest } from '../../pvdata/pvrequest.js';
import { defineCommand, type ParsedArgs } from '../args.js';
import {
  describeFailure,
  jsonOption,
  makeClient,
  parseCount,
  parseSeconds,
  requestOption,
  verboseOption,
  type CliContext,
} from '../common.js';
import { changedFields, formatValue, toJSONValue } from '../format.js';
import { formatSample, sampleJSON, StreamStats } from '../stream-stats.js';

export const spec = defineCommand({
  name: 'monitor',
  summary: 'Print the updates of one or more PVs until Ctrl-C (like pvmonitor), or measure them with --stats.',
  usage: ['[options] PV...'],
  description:
    'Each update prints as "PV <value>" in the form of sluice get; with -v only the fields that changed. ' +
    'A lost connection, or a PV its server closes or the server restarting, prints "PV <Disconnect>"; the PV is ' +
    'searched for again and the monitor resumes within a second of its return. ' +
    'With --stats nothing but statistics is printed, per PV, every second and once more at the end: ' +
    'updates/s, MB/s of update payload, ids missing between consecutive top-level uniqueId values ' +
    '(NTNDArray frame counters) and overruns (updates the server squashed plus updates squashed in our queue). ' +
    'Stops on Ctrl-C (SIGINT) or SIGTERM, after --count updates of every PV, or when every subscription is ' +
    'finished by its server (a final update, as pvmonitor; Sluice servers do not send one).',
  options: {
    request: requestOption,
    timeout: {
      type: 'string',
      short: 'w',
      value: 'SEC',
      description: 'Seconds to wait for each PV to connect; 0 waits forever.',
      default: '5',
    },
    verbose: verboseOption,
    json: jsonOption,
    'queue-size': {
      type: 'string',
      short: 'q',
      value: 'N',
      description: 'Queue size of client and server (record[queueSize=N]); default 4.',
    },
    pipeline: { type: 'boolean', description: 'Use pipeline flow control: the server sends only as fast as we consume.' },
    count: { type: 'string', short: 'n', value: 'N', description: 'Exit after N updates of each PV.' },
    stats: { type: 'boolean', description: 'Print statistics once a second instead of the updates.' },
  },
  minPositionals: 1,
  examples: [
    'sluice monitor TST:ao',
    'sluice monitor -n 10 --json TST:ao',
    'sluice monitor --stats --pipeline -q 100 IMG:image',
  ],
});

type Args = ParsedArgs<typeof spec.options>;

export async function run(args: Args, ctx: CliContext): Promise<number> {
  const connectMs = parseSeconds(args.values.timeout, '--timeout', true);
  const request = parsePVRequest(args.values.request ?? '');
  const queueSize = args.values['queue-size'] === undefined ? undefined : parseCount(args.values['queue-size'], '--queue-size');
  const count = args.values.count === undefined ? Infinity : parseCount(args.values.count, '--count');
  const names = args.positionals;
  const client = makeClient(ctx, connectMs || 5000);
  const width = Math.max(...names.map((n) => n.length));
  const subs = names.map((name) => {
    const opts: Parameters<Client['monitor']>[1] = { request };
    if (queueSize !== undefined) opts.queueSize = queueSize;
    if (args.values.pipeline) opts.pipeline = true;
    return { name, sub: client.monitor(name, opts), stats: new StreamStats(name) };
  });
  const closeAll = () => subs.forEach((s) => s.sub.close());
  ctx.signal.addEventListener('abort', closeAll, { once: true });
  const printSamples = (final: boolean) => {
    for (const s of subs) {
      const sample = s.stats.sample(s.sub.stats, final);
      ctx.out(args.values.json ? sampleJSON(sample) : formatSample(sample));
    }
  };
  const ticker = args.values.stats ? setInterval(() => printSamples(false), 1000) : null;
  try {
    const results = await Promise.all(subs.map((s) => follow(s.name, s.sub, s.stats, args, ctx, { connectMs, count, width })));
    if (ticker) printSamples(true);
    return results.every((ok) => ok) ? 0 : 1;
  } finally {
    if (ticker) clearInterval(ticker);
    ctx.signal.removeEventListener('abort', closeAll);
    closeAll();
    client.close();
  }
}

/** Consume one subscription to its end; false when it failed (no connection, server error). */
async function follow(
  name: string,
  sub: Subscription,
  stats: StreamStats,
  args: Args,
  ctx: CliContext,
  o: { connectMs: number; count: number; width: number },
): Promise<boolean> {
  const label = name.padEnd(o.width);
  let failed = false;
  let connected = false;
  const timer = o.connectMs
    ? setTimeout(() => {
        failed = true;
        const why = sub.channel.lastError ? `; last error: ${sub.channel.lastError.message}` : '';
        ctx.err(describeFailure(`not connected after ${o.connectMs / 1000} s${why}`, name));
        sub.close();
      }, o.connectMs)
    : null;
  sub.on('connect', () => {
    connected = true;
    if (timer) clearTimeout(timer);
  });
  sub.on('disconnect', () => {
    if (args.values.stats) ctx.err(`${name}: disconnected, waiting for the server`);
    else if (args.values.json) ctx.out(JSON.stringify({ name, event: 'disconnect' }));
    else ctx.out(`${label} <Disconnect>`);
  });
  let seen = 0;
  try {
    for await (const u of sub) {
      if (args.values.stats) stats.observe(u.value);
      else if (args.values.json) {
        ctx.out(JSON.stringify({ name, value: toJSONValue(u.type, u.value), changed: changedFields(u.type, u.changed) }));
      } else {
        const show = args.values.verbose ? { show: u.changed } : {};
        ctx.out(`${label} ${formatValue(u.type, u.value, args.values.verbose ?? false, show)}`);
      }
      if (++seen >= o.count) break;
    }
  } catch (err) {
    failed = true;
    ctx.err(describeFailure(err, name));
  } finally {
    if (timer) clearTimeout(timer);
  }
  if (connected && seen < o.count && !ctx.signal.aborted && !failed) ctx.err(`${name}: the server ended the subscription`);
  return !failed;
}
