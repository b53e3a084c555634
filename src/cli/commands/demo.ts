// sluice demo: a detector simulator and a viewer in one process. A Server on loopback posts
// NTNDArray frames at a fixed rate; a Client monitors them with pipeline flow control and shows
// the statistics a user would look at (rate, MB/s, missed frame ids). Needs no configuration.
import { Client } from '../../pva/client/client.js';
import type { Subscription } from '../../pva/client/subscription.js';
import { Server } from '../../pva/server/server.js';
import { SharedPV } from '../../pva/server/shared-pv.js';
import { ntndarray, timeNow } from '../../pvdata/nt/index.js';
import type { PVStructure } from '../../pvdata/values.js';
import { defineCommand, type ParsedArgs } from '../args.js';
import { jsonOption, parseCount, parseSeconds, serverPort, sleep, type CliContext } from '../common.js';
import { formatSample, sampleJSON, StreamStats } from '../stream-stats.js';

export const spec = defineCommand({
  name: 'demo',
  summary: 'Stream simulated detector frames through pvAccess in one process and show the statistics.',
  usage: ['[options]'],
  description:
    'Starts a server on 127.0.0.1 serving an NTNDArray PV of ubyte frames, and a client that monitors it ' +
    '(pipeline flow control, so the server never sends faster than the client consumes; the simulator waits when ' +
    'the queue is full, so no frame is dropped). Prints the received rate, MB/s, missed uniqueIds and overruns ' +
    'once a second, and a summary at the end. Stops after --frames frames, after --duration seconds, or on Ctrl-C; ' +
    'exits with status 1 if a frame arrived damaged.',
  options: {
    rate: {
      type: 'string',
      value: 'FPS',
      description: 'Frames per second to post; 0 posts as fast as the client takes them.',
      default: '1000',
    },
    frames: { type: 'string', value: 'N', description: 'Number of frames to post.', default: '5000' },
    duration: { type: 'string', value: 'SEC', description: 'Post for this many seconds instead of a number of frames.' },
    width: { type: 'string', value: 'PX', description: 'Frame width.', default: '128' },
    height: { type: 'string', value: 'PX', description: 'Frame height.', default: '128' },
    'queue-size': { type: 'string', short: 'q', value: 'N', description: 'Monitor queue size (client and server).', default: '100' },
    name: { type: 'string', value: 'PV', description: 'Name of the image PV.', default: 'sluice:demo:image' },
    port: { type: 'string', value: 'PORT', description: 'TCP port of the demo server; 0 picks a free one.', default: '0' },
    json: jsonOption,
  },
  maxPositionals: 0,
  examples: ['sluice demo', 'sluice demo --rate 0 --frames 20000', 'sluice demo --width 1024 --height 1024 --rate 100 --duration 10'],
});

type Values = ParsedArgs<typeof spec.options>['values'];

export async function run(args: ParsedArgs<typeof spec.options>, ctx: CliContext): Promise<number> {
  const o = readOptions(args.values, ctx);
  const frames = makeFrames(o.width, o.height);
  const server = new Server({ host: '127.0.0.1', port: o.port, udpPort: false, env: {} });
  const pv = new SharedPV();
  pv.open(ntndarray.type(), ntndarray.build({ data: frames[0] as Uint8Array, dims: [o.width, o.height], uniqueId: 0 }));
  server.addPV(o.name, pv);
  const port = await server.listen();
  // The client finds the server as a name server: no UDP, no EPICS_PVA_* needed.
  const env = { EPICS_PVA_AUTO_ADDR_LIST: 'NO', EPICS_PVA_ADDR_LIST: '', EPICS_PVA_NAME_SERVERS: `127.0.0.1:${port}` };
  const client = new Client({ env });
  const sub = client.monitor(o.name, { queueSize: o.queueSize, pipeline: true });
  const stats = new StreamStats(o.name);
  let posted = 0;
  let lastId = 0;
  let damaged = 0;
  let producerDone = false;
  let consumerError: unknown = null;
  const print = (final: boolean) => {
    const s = stats.sample(sub.stats, final);
    if (!final) return ctx.out(o.json ? sampleJSON(s) : formatSample(s));
    // Frames still in flight when we stopped waiting were lost too (unless Ctrl-C cut the wait).
    const missed = s.missed + (ctx.signal.aborted ? 0 : Math.max(0, posted - lastId));
    const received = stats.updates - 1; // the first update is the frame open() set
    if (o.json) return ctx.out(JSON.stringify({ ...JSON.parse(sampleJSON(s)), posted, received, missed }));
    ctx.out(
      `demo: posted ${posted} frames (${o.width}x${o.height} ubyte), received ${received} in ${s.seconds.toFixed(2)} s: ` +
        `${s.rate.toFixed(1)} frames/s ${s.mbps.toFixed(2)} MB/s missed ${missed} overruns ${s.overruns}`,
    );
  };
  const ticker = setInterval(() => print(false), 1000);
  try {
    if (!o.json) ctx.out(`demo: serving ${o.name} (${o.width}x${o.height} ubyte NTNDArray) on 127.0.0.1:${port}`);
    const consumer = (async () => {
      for await (const u of sub) {
        stats.observe(u.value);
        const id = u.value['uniqueId'] as number;
        if (!intact(u.value, id, frames, o.width * o.height)) damaged++;
        lastId = id;
        if (id >= posted && producerDone) break;
      }
    })().catch((err: unknown) => {
      consumerError = err;
    });
    await waitConnected(sub, o.name);
    const start = performance.now();
    while (posted < o.frames && !ctx.signal.aborted && (o.durationMs === 0 || performance.now() - start < o.durationMs)) {
      posted++;
      const ts = timeNow();
      const data = frames[posted % frames.length] as Uint8Array;
      // Only what changes travels: pixels, id and time stamps (the rest stays from open()).
      if (!pv.post({ value: { field: 'ubyteValue', value: data }, uniqueId: posted, dataTimeStamp: ts, timeStamp: ts })) await pv.drained();
      if (o.rate > 0) {
        const ahead = (posted / o.rate) * 1000 - (performance.now() - start);
        if (ahead >= 1) await sleep(ahead, ctx.signal);
      } else if (posted % 64 === 0) {
        await new Promise((r) => setImmediate(r)); // let the socket and the consumer run
      }
    }
    producerDone = true;
    // Wait (bounded) for the last frames in flight; Ctrl-C skips the wait.
    if (lastId < posted && !ctx.signal.aborted) {
      const stopWaiting = new AbortController();
      await Promise.race([consumer, sleep(10_000, AbortSignal.any([ctx.signal, stopWaiting.signal]))]);
      stopWaiting.abort();
    }
    sub.close();
    await consumer;
    clearInterval(ticker);
    if (consumerError) throw consumerError;
    print(true);
    if (damaged) ctx.err(`demo: ${damaged} frames arrived damaged`);
    return damaged ? 1 : 0;
  } finally {
    clearInterval(ticker);
    sub.close();
    client.close();
    pv.close();
    await server.close();
  }
}

function readOptions(v: Values, ctx: CliContext) {
  const durationMs = v.duration === undefined ? 0 : parseSeconds(v.duration, '--duration');
  return {
    rate: parseCount(v.rate, '--rate', true),
    frames: durationMs ? Infinity : parseCount(v.frames, '--frames'),
    durationMs,
    width: parseCount(v.width, '--width'),
    height: parseCount(v.height, '--height'),
    queueSize: parseCount(v['queue-size'], '--queue-size'),
    name: v.name as string,
    port: serverPort(v.port, ctx.env).port,
    json: v.json ?? false,
  };
}

/** A pool of frames (a diagonal gradient moving one step per frame), built once and reused. */
function makeFrames(width: number, height: number): Uint8Array[] {
  const size = width * height;
  const count = Math.max(1, Math.min(256, Math.floor(64e6 / Math.max(1, size))));
  return Array.from({ length: count }, (_, k) => {
    const f = new Uint8Array(size);
    for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) f[y * width + x] = (x + y + k) & 0xff;
    return f;
  });
}

/** The frame has the right size and the pixels of the id it claims. */
function intact(value: PVStructure, id: number, frames: Uint8Array[], size: number): boolean {
  const data = ntndarray.read(value).data;
  if (!(data instanceof Uint8Array) || data.length !== size) return false;
  const want = frames[id % frames.length] as Uint8Array;
  return data[0] === want[0] && data[size - 1] === want[size - 1];
}

/** The subscription has its first update (the frame open() set), or a clear error. */
function waitConnected(sub: Subscription, name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the client did not connect to ${name} within 5 s`)), 5000);
    sub.once('connect', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
