// sluice monitor: print every update of one or more PVs (like pvmonitor), or with --stats only
// the stream's rate, bandwidth, missing frame ids and overruns, once a second.
import { BitSet } from '../../pvdata/bitset.js';
import { parsePVRequest } from '../../pvdata/pvrequest.js';
import { defineCommand, type ParsedArgs } from '../args.js';
import { describeFailure, jsonOption, parseCount, parseSeconds, requestOption, type CliContext } from '../common.js';
import { changedFields, formatJSONLine, formatValue, toJSONValue } from '../format.js';
import { formatSample, sampleJSON, StreamStats } from '../stream-stats.js';
import { makeToolClient, type ToolSubscription } from '../tool-client.js';
import {
  arrayLimitOption,
  debugEnvironment,
  debugLog,
  debugOption,
  formatOption,
  modeOption,
  outputChoice,
  providerOf,
  providerOption,
  pvgetIgnored,
  rawOption,
  versionOption,
  warnIgnoredRequest,
  type OutputChoice,
} from '../tool-options.js';

export const spec = defineCommand({
  name: 'monitor',
  summary: 'Print the updates of one or more PVs until Ctrl-C (like pvmonitor), or measure them with --stats.',
  usage: ['[options] PV...'],
  description:
    'Each update prints as "PV <value>" in the form of sluice get. In raw mode (-v, -M raw, -R) only the fields ' +
    'that changed are printed; -vv prints every field received since connecting, -vvv every field. ' +
    'A lost connection, a PV its server removes or the server restarting prints "PV <Disconnect>" (after the ' +
    'updates received before it); the PV is searched for again and the monitor resumes within a second of its return. ' +
    'As pvmonitor, it waits for PVs that are not there yet (-w is accepted and ignored; --connect-timeout gives up). ' +
    'With --stats nothing but statistics is printed, per PV, every second and once more at the end: ' +
    'updates/s, MB/s of update payload, ids missing between consecutive top-level uniqueId values ' +
    '(NTNDArray frame counters) and overruns (updates the server squashed plus updates squashed in our queue). ' +
    'Stops on Ctrl-C (SIGINT) or SIGTERM, after --count updates of every PV, or when every subscription is ' +
    'finished by its server (a PV its server closed: "PV: the server ended the subscription" on stderr, status 0, ' +
    'as pvmonitor). ' +
    "A Sluice server gives the monitor the reader buffer it asks for with -r 'record[queueSize=10,policy=ring,fillRate=5]': " +
    'what a full queue does (policy ring, clear, skip, wait or raise) and every how many updates one is kept ' +
    '(fillRate); see docs/limits.md, Reader buffers.',
  options: {
    request: requestOption,
    timeout: {
      type: 'string',
      short: 'w',
      value: 'SEC',
      description: 'Accepted and ignored, as pvmonitor does: PVs are waited for until Ctrl-C.',
    },
    'connect-timeout': {
      type: 'string',
      value: 'SEC',
      description: 'Give up (exit 1) when a PV has not connected after SEC seconds; 0 waits forever.',
      default: '0',
    },
    verbose: {
      type: 'boolean',
      short: 'v',
      multiple: true,
      description: 'Raw mode, printing the fields that changed; -vv: every field received so far; -vvv: every field.',
    },
    mode: modeOption,
    raw: rawOption,
    'array-limit': arrayLimitOption,
    format: formatOption,
    provider: providerOption,
    json: jsonOption,
    debug: debugOption,
    version: versionOption,
    ...pvgetIgnored,
    'monitor-mode': { type: 'boolean', short: 'm', description: 'Accepted and ignored (pvmonitor -m: monitoring is what this does).' },
    'queue-size': { type: 'string', value: 'N', description: 'Queue size of client and server (record[queueSize=N]); default 4.' },
    pipeline: { type: 'boolean', description: 'Use pipeline flow control: the server sends only as fast as we consume.' },
    count: { type: 'string', value: 'N', description: 'Exit after N updates of each PV.' },
    stats: { type: 'boolean', description: 'Print statistics once a second instead of the updates.' },
  },
  minPositionals: 1,
  examples: [
    'sluice monitor TST:ao',
    'sluice monitor --count 10 --json TST:ao',
    'sluice monitor -M json -# 8 TST:wf',
    'sluice monitor --stats --pipeline --queue-size 100 IMG:image',
  ],
});

type Args = ParsedArgs<typeof spec.options>;

export async function run(args: Args, ctx: CliContext): Promise<number> {
  const connectMs = parseSeconds(args.values['connect-timeout'] ?? '0', '--connect-timeout', true);
  const request = parsePVRequest(args.values.request ?? '');
  const queueSize = args.values['queue-size'] === undefined ? undefined : parseCount(args.values['queue-size'], '--queue-size');
  const count = args.values.count === undefined ? Infinity : parseCount(args.values.count, '--count');
  const out = outputChoice(args.values);
  const provider = providerOf(args.values.provider);
  warnIgnoredRequest(ctx, provider, args.values.request);
  const debug = debugLog(ctx, args.values.debug);
  debugEnvironment(debug, ctx.env, provider);
  const names = args.positionals;
  const client = makeToolClient(ctx, provider, connectMs || 5000);
  const width = Math.max(...names.map((n) => n.length));
  const subs = names.map((name) => {
    const opts: Parameters<typeof client.monitor>[1] = { request };
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
    const o = { connectMs, count, width, out, debug, server: (n: string) => client.server(n) };
    const results = await Promise.all(subs.map((s) => follow(s.name, s.sub, s.stats, args, ctx, o)));
    if (ticker) printSamples(true);
    return results.every((ok) => ok) ? 0 : 1;
  } finally {
    if (ticker) clearInterval(ticker);
    ctx.signal.removeEventListener('abort', closeAll);
    closeAll();
    client.close();
  }
}

interface FollowOptions {
  connectMs: number;
  count: number;
  width: number;
  out: OutputChoice;
  debug: (line: string) => void;
  server: (name: string) => string;
}

/** Consume one subscription to its end; false when it failed (no connection, server error). */
async function follow(
  name: string,
  sub: ToolSubscription,
  stats: StreamStats,
  args: Args,
  ctx: CliContext,
  o: FollowOptions,
): Promise<boolean> {
  const label = name.padEnd(o.width);
  let failed = false;
  let connected = false;
  const timer = o.connectMs
    ? setTimeout(() => {
        failed = true;
        const why = sub.lastError ? `; last error: ${sub.lastError.message}` : '';
        ctx.err(describeFailure(`not connected after ${o.connectMs / 1000} s${why}`, name));
        sub.close();
      }, o.connectMs)
    : null;
  // Fields received since connecting (pvmonitor -vv shows these).
  const valid = new BitSet();
  sub.on('connect', () => {
    connected = true;
    o.debug(`${name}: connected to ${o.server(name) || 'its server'}`);
    if (timer) clearTimeout(timer);
  });
  const printDisconnect = (): void => {
    valid.clear();
    o.debug(`${name}: disconnected`);
    if (args.values.stats) ctx.err(`${name}: disconnected, waiting for the server`);
    else if (args.values.json) ctx.out(JSON.stringify({ name, event: 'disconnect' }));
    else ctx.out(`${label} <Disconnect>`);
  };
  let seen = 0;
  /** Disconnects to print once `seen` reaches each count: after the updates received before them. */
  const disconnectsAt: number[] = [];
  sub.on('disconnect', () => {
    // An update handed to the loop is printed within this turn; those still queued come first too.
    setImmediate(() => {
      if (sub.pending === 0 && disconnectsAt.length === 0) printDisconnect();
      else disconnectsAt.push(seen + sub.pending);
    });
  });
  try {
    for await (const u of sub) {
      if (args.values.stats) stats.observe(u.value);
      else if (args.values.json) {
        ctx.out(JSON.stringify({ name, value: toJSONValue(u.type, u.value), changed: changedFields(u.type, u.changed) }));
      } else {
        valid.or(u.changed);
        const show = o.out.verbosity >= 3 ? undefined : o.out.verbosity === 2 ? valid : u.changed;
        const text =
          o.out.mode === 'json'
            ? formatJSONLine(u.type, u.value, show)
            : formatValue(u.type, u.value, o.out.mode, show ? { show, arrayLimit: o.out.arrayLimit } : { arrayLimit: o.out.arrayLimit });
        ctx.out(`${label} ${text}`);
      }
      ++seen;
      while (disconnectsAt.length > 0 && (disconnectsAt[0] as number) <= seen) {
        disconnectsAt.shift();
        printDisconnect();
      }
      if (seen >= o.count) break;
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
