// The dashboard gateway under a detector-sized stream: `sluice sim` publishes 2048x2048 uint16
// frames (8 MiB) as fast as it can (asked for 500 fps), `sluice dashboard` monitors them, and one
// web socket client here reads the images. For each setting it reports, median of --runs windows
// of --seconds: frames the gateway received per second (what the sim managed to deliver), images
// the client got per second, MB/s on the web socket, and the gateway process's CPU (user+system,
// % of one core, and CPU ms per frame received, which compares settings whatever rate the sim
// reached). Settings: binned to 1024 by the mean (the default), binned by stride, and the
// baseline of no binning (--image-size 2048), all at --max-fps 10; then the default at 30 fps.
//
//   node dist/bench/dashboard.js [--runs 3] [--seconds 3]
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { WebSocket } from 'ws';
import { decimate, packImage, unpackImage, type BinMode } from '../src/dashboard/image.js';
import { ntndarray } from '../src/pvdata/nt/index.js';

const { values: opts } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '3' },
  },
});
const RUNS = Number(opts.runs);
const SECONDS = Number(opts.seconds);
const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const TICKS = 100; // USER_HZ of /proc/<pid>/stat on Linux

function start(args: string[], env: NodeJS.ProcessEnv, re: RegExp): Promise<{ child: ChildProcess; m: RegExpMatchArray }> {
  const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = out.match(re);
      if (m) resolve({ child, m });
    });
    child.once('exit', (code) => reject(new Error(`sluice ${args[0]} exited (${code}) before printing ${re}`)));
  });
}

function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / TICKS;
}

interface Sample {
  received: number;
  images: number;
  mbps: number;
  cpu: number;
}

async function measure(wsUrl: string, pid: number, image: Record<string, unknown>): Promise<Sample[]> {
  const ws = new WebSocket(wsUrl);
  await new Promise((resolve, reject) => (ws.once('open', resolve), ws.once('error', reject)));
  let images = 0;
  let bytes = 0;
  let statsWaiter: ((s: number) => void) | null = null;
  ws.on('message', (data, isBinary) => {
    const buf = data as Buffer;
    if (isBinary) {
      unpackImage(buf);
      images++;
      bytes += buf.length;
    } else {
      const m = JSON.parse(buf.toString()) as { type: string; pvs?: Record<string, { received: number }> };
      if (m.type === 'stats' && statsWaiter) statsWaiter(m.pvs?.['BENCH:image']?.received ?? 0);
    }
  });
  const received = () =>
    new Promise<number>((resolve) => {
      statsWaiter = resolve;
      ws.send(JSON.stringify({ type: 'stats' }));
    });
  ws.send(JSON.stringify({ type: 'subscribe', pvs: ['BENCH:image'], image }));
  await new Promise((r) => setTimeout(r, 1500)); // warm up: connected, first frames through
  const out: Sample[] = [];
  for (let run = 0; run < RUNS; run++) {
    const r0 = await received();
    const [i0, b0, c0, t0] = [images, bytes, cpuSeconds(pid), performance.now()];
    await new Promise((r) => setTimeout(r, SECONDS * 1000));
    const r1 = await received();
    const dt = (performance.now() - t0) / 1000;
    out.push({
      received: (r1 - r0) / dt,
      images: (images - i0) / dt,
      mbps: (bytes - b0) / dt / 1e6,
      cpu: ((cpuSeconds(pid) - c0) / dt) * 100,
    });
  }
  ws.close();
  return out;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
};

/** Milliseconds to bin one 2048x2048 uint16 frame to fit `size` and pack the message, median of 15. */
function binningMs(size: number, mode: BinMode): number {
  const data = Uint16Array.from({ length: 2048 * 2048 }, (_, i) => i & 0xffff);
  const frame = ntndarray.build({ data, dims: [2048, 2048], uniqueId: 1, colorMode: 0 });
  const times: number[] = [];
  for (let i = 0; i < 15; i++) {
    const t0 = performance.now();
    packImage('BENCH:image', decimate(frame, size, mode), mode, 0);
    times.push(performance.now() - t0);
  }
  return median(times);
}

async function main(): Promise<void> {
  const copy = binningMs(2048, 'mean');
  console.log('Binning one 2048x2048 uint16 frame and packing its message in the gateway (median of 15):');
  console.log('| to fit | mean | stride | no binning (copy into the message) |');
  console.log('| --- | --- | --- | --- |');
  for (const size of [1024, 512]) {
    console.log(
      `| ${size} | ${binningMs(size, 'mean').toFixed(1)} ms | ${binningMs(size, 'stride').toFixed(1)} ms | ${copy.toFixed(1)} ms |`,
    );
  }
  console.log('');
  const base: NodeJS.ProcessEnv = {
    ...process.env,
    EPICS_PVA_AUTO_ADDR_LIST: 'NO',
    EPICS_PVA_ADDR_LIST: '',
    EPICS_PVAS_BEACON_ADDR_LIST: '',
  };
  base['EPICS_PVAS_AUTO_BEACON_ADDR_LIST'] = 'NO';
  const sim = await start(
    [
      'sim',
      '-cn',
      'BENCH:image',
      '-nx',
      '2048',
      '-ny',
      '2048',
      '-dt',
      'uint16',
      '-fps',
      '500',
      '-nf',
      '4',
      '-rt',
      '0',
      '-std',
      '0',
      '-shd',
      '0',
      '-rp',
      '0',
      '--port',
      '0',
      '--host',
      '127.0.0.1',
    ],
    base,
    /serving BENCH:image on [\d.]+:(\d+)/,
  );
  const env = { ...base, EPICS_PVA_NAME_SERVERS: `127.0.0.1:${sim.m[1]}` };
  const settings: { name: string; args: string[]; image: Record<string, unknown> }[] = [
    { name: 'no binning (baseline), 10 fps', args: ['--image-size', '2048'], image: {} },
    { name: 'mean 2x2 -> 1024, 10 fps', args: [], image: {} },
    { name: 'stride 2x2 -> 1024, 10 fps', args: [], image: { binMode: 'stride' } },
    { name: 'mean 2x2 -> 1024, 30 fps', args: ['--max-fps', '30'], image: {} },
  ];
  const rows: string[] = [];
  let baselineCpu = 0;
  try {
    for (const s of settings) {
      const dash = await start(['dashboard', '--port', '0', ...s.args], env, /^dashboard: http:\/\/([\d.]+:\d+)\//m);
      try {
        const samples = await measure(`ws://${dash.m[1]}/pvws/pv`, dash.child.pid as number, s.image);
        const cpu = median(samples.map((x) => x.cpu));
        // The sim's rate varies with the machine; CPU per frame received compares settings fairly.
        const perFrame = median(samples.map((x) => (x.cpu * 10) / Math.max(1, x.received)));
        if (!baselineCpu) baselineCpu = perFrame;
        rows.push(
          `| ${s.name} | ${median(samples.map((x) => x.received)).toFixed(0)} | ${median(samples.map((x) => x.images)).toFixed(1)} | ` +
            `${median(samples.map((x) => x.mbps)).toFixed(1)} | ${cpu.toFixed(0)}% | ${perFrame.toFixed(1)} ms | ${(perFrame / baselineCpu).toFixed(2)} |`,
        );
      } finally {
        dash.child.kill('SIGTERM');
        await new Promise((r) => dash.child.once('exit', r));
      }
    }
  } finally {
    sim.child.kill('SIGTERM');
  }
  console.log(`2048x2048 uint16 frames, sim asked for 500 fps; medians of ${RUNS} windows of ${SECONDS} s`);
  console.log(
    '| setting | frames/s into the gateway | images/s to the client | MB/s on the socket | gateway CPU | CPU per frame in | vs baseline |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- |');
  for (const r of rows) console.log(r);
}

await main();
