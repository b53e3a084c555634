// The streaming framework end to end: `sluice sim` feeding `sluice consumer` processes (passthrough
// processor, server queue 100 with pipeline flow control), 128x128 uint8 frames, on loopback.
//
//   node dist/bench/consumer.js [--seconds 5] [--rates 50000,60000,80000]
//
// 1. one consumer at each fixed rate: processed rate, missed frames and overruns;
// 2. the lossless mode (`sim -fps 0 --lossless`): the fastest rate at which nothing is lost;
// 3. two consumers with --distributor-updates 1 at 20,000 frames/s: aggregate rate and loss.
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values: opts } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    rates: { type: 'string', default: '50000,60000,80000' },
  },
});
const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

interface Outcome {
  simFps: number;
  simFrames: number;
  processed: number;
  missed: number;
  overruns: number;
  rate: number;
}

async function run(simArgs: string[], consumerArgs: string[], nConsumers: number): Promise<Outcome> {
  const udp = String(await freeUdpPort());
  const env = {
    ...process.env,
    EPICS_PVA_AUTO_ADDR_LIST: 'NO',
    EPICS_PVA_ADDR_LIST: '127.0.0.1',
    EPICS_PVA_BROADCAST_PORT: udp,
    EPICS_PVAS_BROADCAST_PORT: udp,
    EPICS_PVAS_SERVER_PORT: '0',
    EPICS_PVAS_AUTO_BEACON_ADDR_LIST: 'NO',
    EPICS_PVAS_BEACON_ADDR_LIST: '',
  };
  const seconds = Number(opts.seconds);
  const consumer = spawn(
    process.execPath,
    [CLI, 'consumer', '-ic', 'bench:image', '-sqs', '100', '-nc', String(nConsumers), '-rt', String(seconds + 6), '-dc', ...consumerArgs],
    { env, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let cout = '';
  consumer.stdout.on('data', (c: Buffer) => (cout += c.toString()));
  const sim = spawn(
    process.execPath,
    [
      CLI,
      'sim',
      '-cn',
      'bench:image',
      '-nx',
      '128',
      '-ny',
      '128',
      '-dt',
      'uint8',
      '-rt',
      String(seconds),
      '-std',
      '0.5',
      '-shd',
      '2',
      '-rp',
      '0',
      '--wait-clients',
      String(nConsumers),
      ...simArgs,
    ],
    { env, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let sout = '';
  sim.stdout.on('data', (c: Buffer) => (sout += c.toString()));
  await once(sim, 'exit');
  consumer.kill('SIGINT'); // the sim is done and its shutdown delay let the queues drain
  await once(consumer, 'exit');
  const final = nConsumers > 1 ? (/Combined System Stats[\s\S]*/.exec(cout)?.[0] ?? '') : (/final[\s\S]*/.exec(cout)?.[0] ?? '');
  const field = (name: string): number => Number(new RegExp(`${name}=([\\d.e+-]+)`).exec(final)?.[1] ?? NaN);
  const published = /Published frames:\s+(\d+) @ ([\d.]+) fps/.exec(sout);
  return {
    simFrames: Number(published?.[1] ?? NaN),
    simFps: Number(published?.[2] ?? NaN),
    processed: field('nProcessed'),
    missed: field('nMissed'),
    overruns: field('nOverruns'),
    rate: field('processedRate'),
  };
}

function show(label: string, o: Outcome): void {
  console.log(
    `${label}: sim ${o.simFrames} frames at ${o.simFps.toFixed(0)} fps | processed ${o.processed} at ` +
      `${o.rate.toFixed(0)} frames/s | missed ${o.missed} | overruns ${o.overruns}`,
  );
}

console.log(`# sluice sim → sluice consumer (passthrough, -sqs 100), 128x128 uint8, ${opts.seconds} s runs`);
for (const rate of (opts.rates as string).split(',').map(Number)) {
  show(`1 consumer, -fps ${rate}`, await run(['-fps', String(rate)], [], 1));
  show(`1 consumer, -fps ${rate} --lossless`, await run(['-fps', String(rate), '--lossless'], [], 1));
}
show('1 consumer, lossless -fps 0', await run(['-fps', '0', '--lossless'], [], 1));
show(
  '2 consumers, --distributor-updates 1, -fps 20000',
  await run(['-fps', '20000'], ['--distributor-updates', '1', '--distributor-trigger', 'uniqueId'], 2),
);
