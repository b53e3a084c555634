// stream_service's measurement-system story on the channel server: a data acquisition client
// writes blocks of analog samples into the channel "AnalogInput1"; a recorder stores every block
// (a lossless `wait` buffer: the writer is held back rather than a block lost), an analyser checks
// blocks from a mid-sized ring buffer (it is slower than the writer, so it skips some), and a lab
// display takes every 50th block through a small buffer (little traffic, a display refresh).
//
//   node dist/examples/channels/measurement.js [--server HOST:PORT] [--blocks N] [--samples N]
//
// Without --server the example starts a channel server in this process on a free port.
import { parseArgs } from 'node:util';
import { ChannelClient, type ChannelReader } from '../../src/channels/index.js';
import { ChannelServer } from '../../src/channels/server.js';
import { t } from '../../src/pvdata/types.js';

const { values: opts } = parseArgs({
  options: {
    server: { type: 'string' },
    blocks: { type: 'string', default: '200' },
    samples: { type: 'string', default: '1000' },
  },
});
const BLOCKS = Number(opts.blocks);
const SAMPLES = Number(opts.samples);
const DISPLAY_FILL_RATE = 50;

const blockT = t.struct({ index: t.long, rate: t.double, value: t.array('double') }, 'example:AnalogBlock');

let server: ChannelServer | null = null;
let address = opts.server;
if (!address) {
  server = new ChannelServer({ host: '127.0.0.1', port: 0, udpPort: false });
  address = `127.0.0.1:${await server.start()}`;
}
console.log(`channel server at ${address}`);
const connect = (name: string) => ChannelClient.connect({ address: address as string, name });

// The acquisition client owns the channel; the three readers are other clients (other processes, other hosts in the story).
const daq = await connect('daq');
await daq.createChannel('AnalogInput1', { type: blockT });
const [recorderClient, analyserClient, displayClient] = await Promise.all([connect('recorder'), connect('analyser'), connect('display')]);

async function recorder(reader: ChannelReader): Promise<string> {
  let blocks = 0;
  let samples = 0;
  for await (const m of reader) {
    blocks++;
    samples += (m.value['value'] as Float64Array).length; // a real recorder appends the block to its file here
  }
  return `recorder: ${blocks} blocks, ${samples} samples, ${reader.stats.gaps} missing`;
}

async function analyser(reader: ChannelReader): Promise<string> {
  let analysed = 0;
  let worst = 0;
  for await (const m of reader) {
    const v = m.value['value'] as Float64Array;
    let sum = 0;
    for (const x of v) sum += x;
    worst = Math.max(worst, Math.abs(sum / v.length));
    analysed++;
    // The analysis takes a while: the ring buffer keeps the newest blocks meanwhile.
    await new Promise((r) => setTimeout(r, 2));
  }
  return `analyser: ${analysed} blocks analysed, ${reader.stats.gaps} skipped (ring of 20), largest mean ${worst.toFixed(3)}`;
}

async function display(reader: ChannelReader): Promise<string> {
  let shown = 0;
  for await (const m of reader) {
    shown++;
    console.log(`display: block ${m.value['index']} at ${m.writer.id}#${m.writer.seq}`);
  }
  return `display: ${shown} updates (fill rate ${DISPLAY_FILL_RATE})`;
}

const readers = [
  recorderClient.subscribe('AnalogInput1', { policy: 'wait', queueSize: 1000 }),
  analyserClient.subscribe('AnalogInput1', { policy: 'ring', queueSize: 20 }),
  displayClient.subscribe('AnalogInput1', { policy: 'ring', queueSize: 2, fillRate: DISPLAY_FILL_RATE }),
];
await Promise.all(readers.map((r) => r.ready()));
const results = Promise.all([
  recorder(readers[0] as ChannelReader),
  analyser(readers[1] as ChannelReader),
  display(readers[2] as ChannelReader),
]);

// The acquisition: blocks of a sine with noise, as fast as the lossless recorder takes them.
const writer = await daq.openWriter('AnalogInput1', { whenInactive: 'pause' });
const started = performance.now();
for (let i = 1; i <= BLOCKS; i++) {
  const block = new Float64Array(SAMPLES);
  for (let k = 0; k < SAMPLES; k++) block[k] = Math.sin((2 * Math.PI * (i * SAMPLES + k)) / 977) + (Math.random() - 0.5) * 0.01;
  if (!writer.write({ index: BigInt(i), rate: 10_000, value: block })) await writer.drained();
}
await writer.end();
const seconds = (performance.now() - started) / 1000;
console.log(`daq: wrote ${writer.stats.acknowledged} blocks of ${SAMPLES} samples in ${seconds.toFixed(2)} s`);
for (const line of await results) console.log(line);

await Promise.all([daq, recorderClient, analyserClient, displayClient].map((c) => c.close()));
await server?.close();
