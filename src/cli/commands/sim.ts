// sluice sim: PvaPy's pvapy-ad-sim-server for generated frames. Same option names (long and
// multi-letter short ones), defaults chosen for tests and benchmarks rather than PvaPy's slow
// ones, and the same progress and summary lines, so scripts written for PvaPy keep working.
import { AdSimServer, parseMetadataPvs, type SimEvent } from '../../sim/ad-sim-server.js';
import { isSimDatatype, SIM_DATATYPES } from '../../sim/frames.js';
import type { PublishSummary } from '../../sim/publisher.js';
import { SluiceError } from '../../errors.js';
import { defineCommand, UsageError, type OptionSpec, type ParsedArgs } from '../args.js';
import { hostOption, jsonOption, portOption, serverPort, type CliContext } from '../common.js';

const num = (short: string, value: string, description: string, dflt?: string): OptionSpec =>
  dflt === undefined ? { type: 'string', short, value, description } : { type: 'string', short, value, description, default: dflt };
const LATER = 'Not supported yet: frames from files come in a later issue (only generated frames now).';
const NO_CA = 'Not supported yet: Channel Access is issue 4.';

export const spec = defineCommand({
  name: 'sim',
  summary: 'Serve simulated area-detector frames (NTNDArray) at a given rate, like pvapy-ad-sim-server.',
  usage: ['[options]'],
  description:
    'Generates -nf distinct random frames (default: enough to fill the cache of -cs frames, at most 256 MiB) and ' +
    'publishes them over and over on the channel, uniqueId 1, 2, 3... (the value before the first frame has uniqueId 0), ' +
    'frame n at start + n/fps (late frames go out back to back until the schedule is caught up). ' +
    'More frames than the cache holds are generated while publishing and served once. ' +
    'The first line printed is "serving CHANNEL on HOST:PORT". ' +
    'Defaults differ from PvaPy (20 fps kept; PvaPy: 300 s runtime, 10 s start and shutdown delays, a report every frame): ' +
    'runtime 60 s, start and shutdown delays 1 s, about one report a second. ' +
    'The options for input files and the notify PV are recognised but refused. See docs/sim.md.',
  options: {
    'channel-name': { type: 'string', short: 'cn', value: 'NAME', description: 'PVA channel for the frames.', default: 'pvapy:image' },
    'n-x-pixels': num('nx', 'N', 'Columns of each frame.', '256'),
    'n-y-pixels': num('ny', 'N', 'Rows of each frame.', '256'),
    datatype: num('dt', 'TYPE', `Pixel type: ${Object.keys(SIM_DATATYPES).join(', ')}.`, 'uint8'),
    'color-mode': num('cm', 'MODE', 'Colour mode: 0 mono [NX,NY], 2 RGB1 [3,NX,NY], 3 RGB2 [NX,3,NY], 4 RGB3 [NX,NY,3].', '0'),
    minimum: num('mn', 'V', "Smallest generated value, clamped to the type's range (default: the type's minimum)."),
    maximum: num('mx', 'V', "Largest generated value, clamped to the type's range (default: the type's maximum)."),
    'n-frames': num('nf', 'N', 'Distinct frames; <= 0 fills the cache (at most 256 MiB of frames).', '0'),
    'cache-size': num('cs', 'N', 'Frames kept ready and recycled.', '1000'),
    'frame-rate': num('fps', 'FPS', 'Frames per second; <= 0 publishes as fast as possible.', '20'),
    // Defaults that differ from PvaPy's are applied in readOptions, so the help can name both.
    runtime: num('rt', 'SEC', 'Seconds of publishing from the first frame; <= 0 until Ctrl-C (default: 60; PvaPy: 300).'),
    'report-period': num(
      'rp',
      'N',
      'Print a progress line every N frames; <= 0 never (default: about one a second, i.e. FPS frames, or 50000 with -fps 0; PvaPy: 1).',
    ),
    'start-delay': num('std', 'SEC', 'Seconds before the first frame, for clients to connect (default: 1; PvaPy: 10).'),
    'shutdown-delay': num(
      'shd',
      'SEC',
      'Seconds between the last frame and the end of the channel, for clients to drain (default: 1; PvaPy: 10).',
    ),
    'metadata-pv': {
      type: 'string',
      short: 'mpv',
      value: 'LIST',
      multiple: true,
      description:
        'Comma-separated pva://NAME metadata PVs {double value; time_t timeStamp}: ' +
        'a random value in [0,1) with the time stamp of each frame, posted before it.',
    },
    'disable-curses': { type: 'boolean', short: 'dc', description: 'Accepted for PvaPy compatibility: progress is always plain text.' },
    lossless: {
      type: 'boolean',
      description:
        'Wait while a monitor queue is full instead of letting the server squash frames ' +
        '(with -fps 0: the fastest rate at which nothing is lost).',
    },
    'wait-clients': {
      type: 'string',
      value: 'N',
      description: 'Start the schedule (and the start delay) once N monitors subscribe to the channel.',
    },
    seed: { type: 'string', value: 'N', description: 'Seed of the pixel generator, for reproducible frames (default: random).' },
    port: portOption,
    host: hostOption,
    json: { ...jsonOption, description: 'Print every line (where it serves, progress, summary) as one JSON object.' },
    'input-directory': { type: 'string', short: 'id', value: 'DIR', description: LATER },
    'input-file': { type: 'string', short: 'if', value: 'FILE', description: LATER },
    'mmap-mode': { type: 'boolean', short: 'mm', description: LATER },
    'hdf-dataset': { type: 'string', short: 'hds', value: 'PATH', description: LATER },
    'hdf-compression-mode': { type: 'boolean', short: 'hcm', description: LATER },
    'config-file': { type: 'string', short: 'cfg', value: 'FILE', description: LATER },
    'notify-pv': { type: 'string', short: 'npv', value: 'PV', description: NO_CA },
    'notify-pv-value': { type: 'string', short: 'nvl', value: 'V', description: NO_CA },
  },
  maxPositionals: 0,
  examples: [
    'sluice sim -cn pvapy:image -nx 128 -ny 128 -dt uint8 -rt 60 -fps 1',
    'sluice sim -nx 128 -ny 128 -fps 10000 -rp 10000 -mpv pva://x,pva://y',
    'sluice sim -fps 0 --lossless --wait-clients 1 -rt 10 --port 0',
  ],
});

type Values = ParsedArgs<typeof spec.options>['values'];

export async function run(args: ParsedArgs<typeof spec.options>, ctx: CliContext): Promise<number> {
  const v = args.values;
  refuseUnsupported(v);
  const o = readOptions(v);
  const { port, explicit } = serverPort(v.port, ctx.env);
  const serverOptions = { env: ctx.env, ...(explicit ? { port } : {}), ...(v.host ? { host: v.host } : {}) };
  const json = v.json ?? false;
  const say = (text: string, obj: Record<string, unknown>) => ctx.out(json ? JSON.stringify(obj) : text);
  let sim: AdSimServer;
  try {
    sim = new AdSimServer({ ...o, serverOptions, onEvent: (e) => report(e, say) });
  } catch (err) {
    // Bad values (empty range, colour mode, too large frames) are usage errors.
    throw err instanceof SluiceError && err.code === 'ERR_INVALID_ARGUMENT' ? new UsageError(err.message) : err;
  }
  let summary: PublishSummary;
  try {
    const tcpPort = await sim.listen();
    const host = v.host ?? '0.0.0.0';
    const udpPort = sim.server.udpPort;
    say(`serving ${sim.channelName} on ${host}:${tcpPort}`, { event: 'listening', channel: sim.channelName, host, port: tcpPort, udpPort });
    describe(sim, o, say);
    summary = await sim.run(ctx.signal);
  } finally {
    await sim.close(); // already done unless listen() failed
  }
  // PvaPy's three summary lines.
  const { frames, fps, runtime, frameBytes, reason } = summary;
  const mb = (frameBytes * fps) / 1e6;
  say(
    `Server runtime: ${runtime.toFixed(4)} seconds\n` +
      `Published frames: ${String(frames).padStart(6)} @ ${fps.toFixed(4)} fps\n` +
      `Data rate: ${mb.toFixed(4)} MBps`,
    { event: 'summary', reason, runtime: round(runtime, 6), frames, fps: round(fps, 4), mbps: round(mb, 4), frameBytes },
  );
  return 0;
}

type Say = (text: string, obj: Record<string, unknown>) => void;

function report(e: SimEvent, say: Say): void {
  switch (e.kind) {
    case 'waiting':
      return say(`waiting for ${e.clients} client${e.clients === 1 ? '' : 's'} to monitor the channel`, {
        event: 'waiting',
        clients: e.clients,
      });
    case 'started':
      return say('publishing', { event: 'started' });
    case 'progress':
      // PvaPy's line, word for word.
      return say(
        `Published frame id ${String(e.frameId).padStart(6)} @ ${e.time.toFixed(3)}s ` +
          `(frame rate: ${e.fps.toFixed(4)}fps; runtime: ${e.runtime.toFixed(3)}s)`,
        { event: 'progress', frameId: e.frameId, time: round(e.time, 6), fps: round(e.fps, 4), runtime: round(e.runtime, 6) },
      );
    case 'stopped': {
      const s = e.summary;
      const why =
        s.reason === 'runtime'
          ? `Server exiting after reaching runtime of ${s.runtime.toFixed(3)} seconds`
          : s.reason === 'frames'
            ? `Server exiting after publishing ${s.frames} frames`
            : s.reason === 'closed'
              ? `Server exiting: the channel was closed after ${s.frames} frames`
              : `Server was interrupted after publishing ${s.frames} frames, exiting...`;
      return say(why, { event: 'stopped', reason: s.reason, frames: s.frames });
    }
  }
}

/** What will be published: PvaPy's start-up summary in a few lines. */
function describe(sim: AdSimServer, o: ReturnType<typeof readOptions>, say: Say): void {
  const c = sim.cache;
  const cm = ['mono', '', 'RGB1', 'RGB2', 'RGB3'][c.spec.colorMode ?? 0];
  const { nx, ny, datatype, colorMode } = c.spec;
  const count = c.streaming
    ? `${c.limit} frames generated while publishing (more than the cache), each served once`
    : `${c.size} cached frames, recycled`;
  say(
    `${count}: ${nx}x${ny} ${datatype} ${cm} (dimensions [${c.dims.join(',')}], ${c.frameBytes} bytes), ` +
      `values in [${c.range.min},${c.range.max}]`,
    {
      event: 'frames',
      count: c.streaming ? c.limit : c.size,
      streaming: c.streaming,
      ...{ nx, ny, datatype, colorMode, dims: c.dims, frameBytes: c.frameBytes, min: c.range.min, max: c.range.max },
    },
  );
  const { fps, lossless, runtime, startDelay, shutdownDelay, reportPeriod } = o;
  const expected = fps > 0 ? `${((c.frameBytes * fps) / 1e6).toFixed(4)} MBps expected` : 'as fast as possible';
  const limit = runtime > 0 ? `runtime ${runtime} s` : 'no runtime limit';
  say(
    `rate ${fps > 0 ? `${fps} fps` : 'unlimited'} (${expected})${lossless ? ', lossless' : ''}, ${limit}, ` +
      `start delay ${startDelay} s, shutdown delay ${shutdownDelay} s`,
    { event: 'schedule', fps, lossless, runtime, startDelay, shutdownDelay, reportPeriod },
  );
  const names = [...sim.metadata.keys()];
  if (names.length) say(`metadata PVs: ${names.join(', ')}`, { event: 'metadata', pvs: names });
}

function refuseUnsupported(v: Values): void {
  for (const name of ['input-directory', 'input-file', 'mmap-mode', 'hdf-dataset', 'hdf-compression-mode', 'config-file'] as const) {
    if (v[name] !== undefined) {
      throw new UsageError(`--${name}: frames from files are not supported yet (a later issue); only generated frames are`);
    }
  }
  for (const name of ['notify-pv', 'notify-pv-value'] as const) {
    if (v[name] !== undefined) throw new UsageError(`--${name}: Channel Access is not supported yet (issue 4)`);
  }
}

function readOptions(v: Values) {
  const datatype = v.datatype as string;
  if (!isSimDatatype(datatype)) {
    throw new UsageError(`--datatype must be one of ${Object.keys(SIM_DATATYPES).join(', ')}, not '${datatype}'`);
  }
  const fps = number(v['frame-rate'], '--frame-rate');
  const metadataPvs = v['metadata-pv'] ?? [];
  try {
    parseMetadataPvs(metadataPvs); // checked here to be a usage error; AdSimServer parses it again
  } catch (err) {
    throw new UsageError(`--metadata-pv: ${(err as Error).message}`);
  }
  const optional = (text: string | undefined, option: string) => (text === undefined ? {} : { [option]: number(text, `--${option}`) });
  // About one line a second unless told otherwise (PvaPy: a line per frame).
  const autoPeriod = fps > 0 ? Math.max(1, Math.round(fps)) : 50_000;
  const reportPeriod = v['report-period'] === undefined ? autoPeriod : integer(v['report-period'], '--report-period');
  return {
    channelName: v['channel-name'] as string,
    frame: {
      nx: integer(v['n-x-pixels'], '--n-x-pixels', 1),
      ny: integer(v['n-y-pixels'], '--n-y-pixels', 1),
      datatype,
      colorMode: integer(v['color-mode'], '--color-mode', 0),
      ...optional(v.minimum, 'minimum'),
      ...optional(v.maximum, 'maximum'),
    },
    nFrames: integer(v['n-frames'], '--n-frames'),
    cacheSize: integer(v['cache-size'], '--cache-size', 1),
    fps,
    runtime: number(v.runtime ?? '60', '--runtime'),
    reportPeriod,
    startDelay: number(v['start-delay'] ?? '1', '--start-delay', 0),
    shutdownDelay: number(v['shutdown-delay'] ?? '1', '--shutdown-delay', 0),
    lossless: v.lossless ?? false,
    waitClients: v['wait-clients'] === undefined ? 0 : integer(v['wait-clients'], '--wait-clients', 0),
    metadataPvs,
    ...(v.seed === undefined ? {} : { seed: integer(v.seed, '--seed', 0) }),
  };
}

function number(text: string | undefined, option: string, min = -Infinity): number {
  const n = Number(text);
  if (text === undefined || text.trim() === '' || !Number.isFinite(n) || n < min) {
    throw new UsageError(`${option} expects ${min === 0 ? 'a non-negative number' : 'a number'}, not '${text}'`);
  }
  return n;
}

function integer(text: string | undefined, option: string, min = -Infinity): number {
  const n = number(text, option);
  if (!Number.isSafeInteger(n) || n < min) {
    const what = min === 1 ? 'a positive integer' : min === 0 ? 'a non-negative integer' : 'an integer';
    throw new UsageError(`${option} expects ${what}, not '${text}'`);
  }
  return n;
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
