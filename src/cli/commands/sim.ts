// sluice sim: PvaPy's pvapy-ad-sim-server, for generated frames and frames from files (NumPy,
// HDF5, TIFF, raw binary). Same option names (long and multi-letter short ones), PvaPy's
// defaults, and the same progress and summary lines, so scripts written for PvaPy keep working.
import { describeLayout, frameXY } from '../../formats/frame-file.js';
import { AdSimServer, parseMetadataPvs, type SimEvent, type SimSummary } from '../../sim/ad-sim-server.js';
import { FrameCache } from '../../sim/frame-cache.js';
import { FileFrames, openFileFrames, type FileInputOptions } from '../../sim/file-source.js';
import { isSimDatatype, SIM_DATATYPES } from '../../sim/frames.js';
import { CaClient } from '../../ca/client.js';
import { ReportWriter } from '../../runtime/report-writer.js';
import { buildPut } from './put.js';
import { EncodeError, SluiceError } from '../../errors.js';
import { CODECS, isCodecName } from '../../pvdata/nt/codec/index.js';
import { PvaClient } from '../../pva/client/client.js';
import { accessOptions, loadAccess, reloadAccessOnHangup } from '../access-options.js';
import { defineCommand, UsageError, type OptionSpec, type ParsedArgs } from '../args.js';
import { hostOption, jsonOption, portOption, serverPort, type CliContext } from '../common.js';
import { MAX_QUEUE, MAX_SECONDS, rangedOption, type Range } from '../framework-options.js';

const num = (short: string, value: string, description: string, dflt?: string): OptionSpec =>
  dflt === undefined ? { type: 'string', short, value, description } : { type: 'string', short, value, description, default: dflt };

export const spec = defineCommand({
  name: 'sim',
  summary: 'Serve simulated area-detector frames (NTNDArray) at a given rate, like pvapy-ad-sim-server.',
  usage: ['[options]', '-if FILE | -id DIR [-hds DATASET] [-cfg RAW.yaml] [options]'],
  description:
    'Generates -nf distinct random frames (default: enough to fill the cache of -cs frames, at most 256 MiB) and ' +
    'publishes them over and over on the channel, uniqueId 1, 2, 3... (the value before the first frame has uniqueId 0), ' +
    'frame n at start + n/fps (late frames go out back to back until the schedule is caught up). ' +
    'More frames than the cache holds are generated while publishing and served once. ' +
    'With -if or -id the frames come from files instead, keeping their type and shape: NumPy .npy/.npz ' +
    '(2-d = one frame, 3-d = a stack, 4-d = colour frames), HDF5 .h5/.hdf/.hdf5 (dataset -hds), TIFF .tif/.tiff ' +
    '(every page a frame) and raw binary described by -cfg; a directory gives all its files sorted by name, ' +
    'files it cannot read skipped with a warning. If the frames fit the cache they are recycled; otherwise they ' +
    'are read ahead while publishing, each served once, and the run ends after the last. ' +
    '-nx, -ny, -dt, -mn, -mx and --seed apply to generated frames only. ' +
    'The first line printed is "serving CHANNEL on HOST:PORT". ' +
    "Defaults are PvaPy's: 20 fps for 300 s after a 10 s start delay, a progress line every frame (redrawn in place " +
    'on a terminal unless -dc), 10 s shutdown delay; tests and scripts usually want -std 0 -shd 0 or --wait-clients. ' +
    "--compressor publishes the frames compressed as areaDetector's NDPluginCodec does (lz4, lz4hdf5, bslz4, blosc, zlib). " +
    '--hdf-compression-mode is refused. See docs/sim.md.',
  options: {
    version: { type: 'boolean', short: 'v', description: "Print Sluice's version and exit (PvaPy's -v)." },
    'channel-name': { type: 'string', short: 'cn', value: 'NAME', description: 'PVA channel for the frames.', default: 'pvapy:image' },
    'status-channel': {
      type: 'string',
      value: 'NAME',
      description:
        'Also serve a status PV NAME: frames published, publishedRate, frameRate, clients, nOverruns (squashed), ' +
        'nQueued (not yet sent), runtime; refreshed every second and at the end (see docs/sim.md).',
    },
    'n-x-pixels': num('nx', 'N', 'Columns of each frame.', '256'),
    'n-y-pixels': num('ny', 'N', 'Rows of each frame.', '256'),
    datatype: num('dt', 'TYPE', `Pixel type: ${Object.keys(SIM_DATATYPES).join(', ')}.`, 'uint8'),
    'color-mode': num(
      'cm',
      'MODE',
      'Colour mode: 0 mono [NX,NY], 2 RGB1 [3,NX,NY], 3 RGB2 [NX,3,NY], 4 RGB3 [NX,NY,3] (default: 0). ' +
        'With files: the layout of 3-d arrays (one colour frame instead of a stack), of 4-d arrays with several axes of 3, and of raw frames.',
    ),
    minimum: num('mn', 'V', "Smallest generated value, clamped to the type's range (default: the type's minimum)."),
    maximum: num('mx', 'V', "Largest generated value, clamped to the type's range (default: the type's maximum)."),
    'n-frames': num(
      'nf',
      'N',
      'Distinct frames; <= 0 fills the cache (at most 256 MiB of frames), or with files takes all their frames (else the first N).',
      '0',
    ),
    'cache-size': num(
      'cs',
      'N',
      'Frames kept ready and recycled; with files, also the depth of the read-ahead queue when there are more frames than this (with -nf <= 0 at most 256 MiB of frames).',
      '1000',
    ),
    'frame-rate': num('fps', 'FPS', 'Frames per second; <= 0 publishes as fast as possible.', '20'),
    runtime: num('rt', 'SEC', 'Seconds of publishing from the first frame; <= 0 until Ctrl-C.', '300'),
    'report-period': num('rp', 'N', 'Print a progress line every N frames; <= 0 never.', '1'),
    'start-delay': num('std', 'SEC', 'Seconds before the first frame, for clients to connect.', '10'),
    'shutdown-delay': num('shd', 'SEC', 'Seconds between the last frame and the end of the channel, for clients to drain.', '10'),
    'metadata-pv': {
      type: 'string',
      short: 'mpv',
      value: 'LIST',
      multiple: true,
      description:
        'Comma-separated metadata PVs {double value; time_t timeStamp}, pva://NAME on this pvAccess server, ' +
        'ca://NAME or a bare name on a Channel Access server (EPICS_CA_SERVER_PORT, default 5064): ' +
        'a random value in [0,1) with the time stamp of each frame, posted before it.',
    },
    'disable-curses': {
      type: 'boolean',
      short: 'dc',
      description: "Print every progress line; without it, on a terminal, the progress line is redrawn in place (PvaPy's curses screen).",
    },
    lossless: {
      type: 'boolean',
      description:
        'Wait while a monitor queue is full instead of letting the server squash frames ' +
        '(with -fps 0: the fastest rate at which nothing is lost).',
    },
    'wait-clients': {
      type: 'string',
      value: 'N',
      description:
        'Start the schedule (and the start delay) once N monitors subscribe to the channel. ' +
        'Not forever with a runtime: see --wait-timeout.',
    },
    'wait-timeout': {
      type: 'string',
      value: 'SEC',
      description:
        'Seconds to wait for the --wait-clients before exiting with status 1 without publishing; <= 0 forever ' +
        '(default: with a runtime, the runtime but at least 30 s; without one, forever).',
    },
    seed: { type: 'string', value: 'N', description: 'Seed of the pixel generator, for reproducible frames (default: random).' },
    port: portOption,
    host: hostOption,
    json: { ...jsonOption, description: 'Print every line (where it serves, progress, summary) as one JSON object.' },
    'input-directory': {
      type: 'string',
      short: 'id',
      value: 'DIR',
      description:
        'Publish the frames of every regular file in DIR, sorted by name; unreadable or unknown files are skipped with a warning.',
    },
    'input-file': {
      type: 'string',
      short: 'if',
      value: 'FILE',
      description: 'Publish the frames of FILE: .npy, .npz, .h5/.hdf/.hdf5, .tif/.tiff, or raw binary with -cfg.',
    },
    'mmap-mode': {
      type: 'boolean',
      short: 'mm',
      description: 'Accepted for PvaPy compatibility: files are always read frame by frame at their offset, never loaded whole.',
    },
    'hdf-dataset': {
      type: 'string',
      short: 'hds',
      value: 'PATH',
      description: 'Dataset of HDF5 inputs, e.g. /entry/data/data (default: the first 3-d, else 2-d, numeric dataset).',
    },
    'hdf-compression-mode': {
      type: 'boolean',
      short: 'hcm',
      description: 'Not supported: HDF5 frames are always published decompressed (h5wasm reads no raw chunks); see --compressor.',
    },
    compressor: {
      type: 'string',
      value: 'NAME',
      description:
        'Publish frames compressed, as NDPluginCodec does: lz4, lz4hdf5, bslz4, blosc (LZ4, byte shuffle) or zlib. ' +
        'codec.parameters carries the pixel type, uncompressedSize the pixel bytes; consumers decode them for processors.',
    },
    'config-file': {
      type: 'string',
      short: 'cfg',
      value: 'FILE',
      description:
        'YAML (or JSON) description of raw binary inputs, PvaPy keys: file_info: {datatype, width, height, header_offset, ' +
        'endian, between_frames, n_images, ordered_files}. Files of other extensions are then raw.',
    },
    'notify-pv': {
      type: 'string',
      short: 'npv',
      value: 'PV',
      description:
        'A Channel Access PV to put --notify-pv-value into at start-up, before the start delay (e.g. 13PVA1:cam1:Acquire ' +
        'to start a real detector); ca://NAME is the same, pva://NAME puts over pvAccess instead.',
    },
    'notify-pv-value': { type: 'string', short: 'nvl', value: 'V', description: 'The value put into --notify-pv.', default: '1' },
    ...accessOptions,
  },
  maxPositionals: 0,
  examples: [
    'sluice sim -cn pvapy:image -nx 128 -ny 128 -dt uint8 -rt 60 -fps 1',
    'sluice sim -if frames.npy -fps 100 -rt 0 -rp 100',
    'sluice sim -id scans/ -hds /entry/data/data -cs 100 -fps 0 --lossless --wait-clients 1',
    'sluice sim -nx 128 -ny 128 -fps 10000 -rp 10000 -mpv pva://x,pva://y',
    'sluice sim -fps 0 --lossless --wait-clients 1 -rt 10 -std 0 -shd 1 -rp 0 --port 0',
  ],
});

type Values = ParsedArgs<typeof spec.options>['values'];

export async function run(args: ParsedArgs<typeof spec.options>, ctx: CliContext): Promise<number> {
  const v = args.values;
  refuseUnsupported(v);
  const o = readOptions(v);
  const input = readInput(v, o.frame.colorMode, ctx);
  const { port, explicit } = serverPort(v.port, ctx.env);
  const access = await loadAccess(v, ctx);
  const serverOptions = { env: ctx.env, ...(explicit ? { port } : {}), ...(v.host ? { host: v.host } : {}), ...(access ? { access } : {}) };
  const json = v.json ?? false;
  const say = (text: string, obj: Record<string, unknown>) => ctx.out(json ? JSON.stringify(obj) : text);
  // Bad values (empty range, colour mode, too large frames) are usage errors; file errors are not.
  const usage = (err: unknown) => (err instanceof SluiceError && err.code === 'ERR_INVALID_ARGUMENT' ? new UsageError(err.message) : err);
  let fileFrames: FileFrames | undefined;
  try {
    // Files are opened (and read, when they fit the cache) before the server binds its port.
    if (input) fileFrames = await openFileFrames(input, { nFrames: o.nFrames, cacheSize: o.cacheSize });
  } catch (err) {
    throw usage(err);
  }
  const screen = progressScreen(process.stdout, v);
  let sim: AdSimServer;
  try {
    const onEvent = (e: SimEvent): void => report(e, say, screen);
    const caServerOptions = { env: ctx.env, ...(v.host ? { host: v.host } : {}), ...(access ? { access } : {}) };
    sim = new AdSimServer({ ...o, ...(fileFrames ? { frames: fileFrames } : {}), serverOptions, caServerOptions, onEvent });
  } catch (err) {
    await fileFrames?.close();
    throw usage(err);
  }
  reloadAccessOnHangup(v, ctx, (p) => {
    sim.server.access = p;
    if (sim.caServer) sim.caServer.access = p;
  });
  let summary: SimSummary;
  try {
    const tcpPort = await sim.listen();
    const host = sim.server.tcpHost; // where it is bound (--host or EPICS_PVAS_INTF_ADDR_LIST)
    const udpPort = sim.server.udpPort;
    say(`serving ${sim.channelName} on ${host}:${tcpPort}`, { event: 'listening', channel: sim.channelName, host, port: tcpPort, udpPort });
    describe(sim, o, say);
    if (v['notify-pv']) await notify(v['notify-pv'], v['notify-pv-value'] as string, ctx, say);
    summary = await sim.run(ctx.signal);
  } finally {
    screen?.release();
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
  // What the server could not deliver: squashed when a client's queue was full, or left queued.
  const { clients, squashed } = summary;
  const unsent = clients.reduce((n, c) => n + c.unsent, 0);
  say(`Squashed frames: ${squashed} in total (server queues full); unsent at the end: ${unsent}; clients: ${clients.length}`, {
    event: 'clients',
    squashed,
    unsent,
    clients,
  });
  for (const c of clients) {
    say(
      `Client ${c.peer}: sent ${c.sent} (initial value included) of ${c.posted} frames posted for it, squashed ${c.squashed}, unsent ${c.unsent}`,
      {
        event: 'client',
        ...c,
      },
    );
  }
  if (reason === 'clients') {
    ctx.err(`sluice sim: fewer than ${o.waitClients} clients subscribed to ${sim.channelName} in time (see --wait-timeout)`);
    return 1;
  }
  return 0;
}

type Say = (text: string, obj: Record<string, unknown>) => void;

/**
 * PvaPy's curses screen, on a terminal and without -dc (or --json): each progress line (and the
 * line saying why publishing stopped) replaces the previous one. Null: every line is printed.
 */
export function progressScreen(stream: NodeJS.WriteStream, v: { 'disable-curses'?: boolean; json?: boolean }): ReportWriter | null {
  return !v['disable-curses'] && !v.json && stream.isTTY === true ? new ReportWriter(stream, true) : null;
}

function report(e: SimEvent, sayLine: Say, screen: ReportWriter | null): void {
  const say: Say = screen && (e.kind === 'progress' || e.kind === 'stopped') ? (text) => screen.write(text) : sayLine;
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
              : s.reason === 'clients'
                ? `Server exiting: the clients awaited did not all subscribe in time`
                : `Server was interrupted after publishing ${s.frames} frames, exiting...`;
      return say(why, { event: 'stopped', reason: s.reason, frames: s.frames });
    }
  }
}

/** What will be published: PvaPy's start-up summary in a few lines. */
function describe(sim: AdSimServer, o: ReturnType<typeof readOptions>, say: Say): void {
  const c = sim.cache;
  if (c instanceof FrameCache) {
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
  } else if (c instanceof FileFrames) {
    describeFiles(c, say);
  }
  const { fps, lossless, runtime, startDelay, shutdownDelay, reportPeriod } = o;
  const expected = fps > 0 ? `${((c.frameBytes * fps) / 1e6).toFixed(4)} MBps expected` : 'as fast as possible';
  const limit = runtime > 0 ? `runtime ${runtime} s` : 'no runtime limit';
  say(
    `rate ${fps > 0 ? `${fps} fps` : 'unlimited'} (${expected})${lossless ? ', lossless' : ''}, ${limit}, ` +
      `start delay ${startDelay} s, shutdown delay ${shutdownDelay} s`,
    { event: 'schedule', fps, lossless, runtime, startDelay, shutdownDelay, reportPeriod },
  );
  const z = sim.compressed;
  if (z) {
    const mean = z.compressedFrames ? Math.round(z.compressedBytes / z.compressedFrames) : 0;
    const ratio = mean ? (z.frameBytes / mean).toFixed(2) : '?';
    const what = z.streaming
      ? 'each frame compressed as it is published'
      : `${z.frameBytes} -> ${mean} bytes per frame on average, ratio ${ratio}`;
    say(`compressor ${z.codec}: ${what}`, {
      event: 'compressor',
      codec: z.codec,
      frameBytes: z.frameBytes,
      ...(z.streaming ? {} : { compressedBytes: mean }),
    });
  }
  const names = [...sim.metadata.keys()];
  if (names.length) say(`metadata PVs: ${names.join(', ')}`, { event: 'metadata', pvs: names });
}

/** The files and how their frames will be published. */
function describeFiles(c: FileFrames, say: Say): void {
  const src = c.source;
  const files = [...new Set(src.parts.map((p) => p.path))];
  const listed = src.parts
    .slice(0, 4)
    .map(
      (p) =>
        `${p.path}${p.detail ? ` ${p.format === 'hdf5' ? 'dataset ' : ''}${p.detail}` : ''} (${p.format}, ${p.frames} frame${p.frames === 1 ? '' : 's'})`,
    );
  if (src.parts.length > 4) listed.push(`... ${src.parts.length - 4} more`);
  say(
    `input: ${src.frames} frames from ${files.length} file${files.length === 1 ? '' : 's'}: ${listed.join(', ')}${src.skipped ? `; ${src.skipped} skipped` : ''}`,
    {
      event: 'input',
      frames: src.frames,
      files: files.length,
      skipped: src.skipped,
      parts: src.parts.map((p) => ({ path: p.path, format: p.format, ...(p.detail ? { detail: p.detail } : {}), frames: p.frames })),
    },
  );
  const { layout } = c;
  const count = c.streaming
    ? `${c.total} frames read while publishing (more than the cache; read ahead up to ${c.size}), each served once`
    : `${c.total} cached frame${c.total === 1 ? '' : 's'} from files, recycled`;
  const { nx, ny } = frameXY(layout);
  say(`${count}: ${describeLayout(layout)} (dimensions [${c.dims.join(',')}], ${c.frameBytes} bytes)`, {
    event: 'frames',
    count: c.total,
    streaming: c.streaming,
    cached: c.size,
    ...{ nx, ny, datatype: layout.dtype, colorMode: layout.colorMode, dims: c.dims, frameBytes: c.frameBytes },
  });
}

/** The file inputs, or undefined for generated frames. */
function readInput(v: Values, colorMode: number, ctx: CliContext): FileInputOptions | undefined {
  const file = v['input-file'];
  const dir = v['input-directory'];
  const cfg = v['config-file'];
  if (file === undefined && dir === undefined && cfg === undefined) {
    if (v['hdf-dataset'] !== undefined) throw new UsageError('--hdf-dataset needs HDF5 input files (--input-file or --input-directory)');
    return undefined;
  }
  if (v['color-mode'] !== undefined && ![0, 2, 3, 4].includes(colorMode)) {
    throw new UsageError(`colour mode ${colorMode} is not one of 0 (mono), 2 (RGB1), 3 (RGB2), 4 (RGB3)`);
  }
  for (const [name, value] of [
    ['input-file', file],
    ['input-directory', dir],
    ['config-file', cfg],
    ['hdf-dataset', v['hdf-dataset']],
  ] as const) {
    if (value !== undefined && value.trim() === '') throw new UsageError(`--${name} needs a value`);
  }
  return {
    ...(file !== undefined ? { inputFile: file } : {}),
    ...(dir !== undefined ? { inputDirectory: dir } : {}),
    ...(cfg !== undefined ? { configFile: cfg } : {}),
    ...(v['hdf-dataset'] !== undefined ? { hdfDataset: v['hdf-dataset'] } : {}),
    ...(v['color-mode'] !== undefined ? { colorMode } : {}),
    onWarning: (message: string) => ctx.err(`warning: ${message}`),
  };
}

/**
 * --notify-pv, as PvaPy does it: once at start-up, before the start delay, over Channel Access
 * (pva://NAME over pvAccess); the outcome is printed, a failure does not stop the simulator.
 */
async function notify(pv: string, value: string, ctx: CliContext, say: Say): Promise<void> {
  const pva = /^pva:\/\/(.+)$/.exec(pv);
  const name = pva ? (pva[1] as string) : pv.replace(/^ca:\/\//, '');
  try {
    if (pva) {
      const client = new PvaClient({ env: ctx.env });
      const problems: string[] = [];
      try {
        await client.put(name, (cur) => buildPut(cur.type, cur.value, [value], (text) => problems.push(text)));
      } finally {
        client.close();
      }
      if (problems.length) throw new EncodeError(problems.join('; '));
    } else {
      const client = new CaClient({ env: ctx.env });
      try {
        await client.put(name, value);
      } finally {
        client.close();
      }
    }
    say(`Set notification PV ${pv} to ${value}`, { event: 'notified', pv, value });
  } catch (err) {
    const message = (err as Error).message;
    say(`Could not set notification PV ${pv} to ${value}: ${message}`, { event: 'notified', pv, value, error: message });
  }
}

function refuseUnsupported(v: Values): void {
  if (v['hdf-compression-mode']) {
    throw new UsageError(
      '--hdf-compression-mode: publishing HDF5 chunks still compressed is not supported (h5wasm 0.10 can neither read a raw chunk ' +
        'nor locate one in the file); leave it out to publish the frames decompressed, or add --compressor NAME to recompress them',
    );
  }
}

function checkCompressor(name: string): string {
  if (!isCodecName(name)) {
    const why = name === 'jpeg' ? ' (jpeg is lossy and needs a JPEG codec Sluice does not ship)' : '';
    throw new UsageError(`--compressor must be one of ${CODECS.join(', ')}, not '${name}'${why}`);
  }
  return name;
}

function readOptions(v: Values) {
  const datatype = v.datatype as string;
  if (!isSimDatatype(datatype)) {
    throw new UsageError(`--datatype must be one of ${Object.keys(SIM_DATATYPES).join(', ')}, not '${datatype}'`);
  }
  const fps = ranged(v['frame-rate'], 'frame-rate', { min: 0, max: MAX_FPS, note: '<= 0: as fast as possible' });
  const metadataPvs = v['metadata-pv'] ?? [];
  try {
    parseMetadataPvs(metadataPvs); // checked here to be a usage error; AdSimServer parses it again
  } catch (err) {
    throw new UsageError(`--metadata-pv: ${(err as Error).message}`);
  }
  const optional = (text: string | undefined, option: string) => (text === undefined ? {} : { [option]: number(text, `--${option}`) });
  const channelName = v['channel-name'] as string;
  if (channelName.trim() === '') throw new UsageError('--channel-name must not be empty');
  const statusChannel = v['status-channel'];
  if (statusChannel !== undefined && statusChannel.trim() === '') throw new UsageError('--status-channel must not be empty');
  const seconds = (text: string, name: string, note?: string): number =>
    ranged(text, name, note ? { min: 0, max: MAX_SECONDS, note } : { min: 0, max: MAX_SECONDS });
  return {
    channelName,
    ...(statusChannel === undefined ? {} : { statusChannel }),
    frame: {
      nx: ranged(v['n-x-pixels'], 'n-x-pixels', { min: 1, max: MAX_PIXELS, integer: true }),
      ny: ranged(v['n-y-pixels'], 'n-y-pixels', { min: 1, max: MAX_PIXELS, integer: true }),
      datatype,
      colorMode: ranged(v['color-mode'] ?? '0', 'color-mode', { min: 0, max: 4, integer: true }),
      ...optional(v.minimum, 'minimum'),
      ...optional(v.maximum, 'maximum'),
    },
    nFrames: ranged(v['n-frames'], 'n-frames', {
      min: 0,
      max: MAX_COUNT,
      integer: true,
      note: '<= 0: fill the cache, or all frames of the files',
    }),
    cacheSize: ranged(v['cache-size'], 'cache-size', { min: 1, max: MAX_QUEUE, integer: true }),
    fps,
    runtime: seconds(v.runtime as string, 'runtime', '<= 0: until Ctrl-C'),
    reportPeriod: ranged(v['report-period'], 'report-period', { min: 0, max: MAX_COUNT, integer: true, note: '<= 0: never' }),
    startDelay: seconds(v['start-delay'] as string, 'start-delay'),
    shutdownDelay: seconds(v['shutdown-delay'] as string, 'shutdown-delay'),
    lossless: v.lossless ?? false,
    waitClients: v['wait-clients'] === undefined ? 0 : ranged(v['wait-clients'], 'wait-clients', { min: 0, max: MAX_QUEUE, integer: true }),
    ...(v['wait-timeout'] === undefined ? {} : { waitTimeout: seconds(v['wait-timeout'], 'wait-timeout', '<= 0: forever') }),
    metadataPvs,
    ...(v.compressor === undefined ? {} : { compressor: checkCompressor(v.compressor) }),
    ...(v.seed === undefined ? {} : { seed: ranged(v.seed, 'seed', { min: 0, max: 4_294_967_295, integer: true }) }),
  };
}

/** Fastest schedule: beyond it the timer cannot keep time (and 1e12 would mean "never sleep"). */
const MAX_FPS = 1_000_000;
/** Frame side: 2^20 pixels (frames beyond the cache's byte limit are refused when made). */
const MAX_PIXELS = 1_048_576;
const MAX_COUNT = Number.MAX_SAFE_INTEGER;

function number(text: string | undefined, option: string): number {
  const n = Number(text);
  if (text === undefined || text.trim() === '' || !Number.isFinite(n)) throw new UsageError(`${option} expects a number, not '${text}'`);
  return n;
}

const ranged = (text: string | undefined, name: string, r: Range): number => rangedOption(text, name, r);

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
