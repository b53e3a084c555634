// Simulator throughput: `sluice sim -fps 0 --lossless` (a child process, as users run it) to one
// pipelined Sluice client (this process) with queue 100. The figure is the rate at which the
// client receives frames with none missed; the median of several runs is printed. A run with a
// missed frame is a failure of lossless mode, not a slower result.
//
//   node dist/bench/sim.js [--runs 5] [--seconds 3] [--nx 128] [--ny 128] [--dt uint8] [--queue 100] [--json FILE]
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { PvaClient } from '../src/pva/client/client.js';

const { values: opts } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '3' },
    nx: { type: 'string', default: '128' },
    ny: { type: 'string', default: '128' },
    dt: { type: 'string', default: 'uint8' },
    queue: { type: 'string', default: '100' },
    json: { type: 'string' },
  },
});

const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
/** Frames not timed while both processes warm up (JIT, socket buffers). */
const WARM = 2000;

interface Run {
  /** Frames per second received between the end of the warm-up and the last frame. */
  rate: number;
  received: number;
  missed: number;
  /** What the simulator itself reported. */
  simFps: number;
  simFrames: number;
}

async function once(): Promise<Run> {
  // Loopback only, no UDP: the client finds the server as a name server.
  const env = { ...process.env, EPICS_PVAS_AUTO_BEACON_ADDR_LIST: 'NO', EPICS_PVAS_BEACON_ADDR_LIST: '', EPICS_PVAS_BROADCAST_PORT: '0' };
  const args = ['sim', '-fps', '0', '--lossless', '--wait-clients', '1', '-std', '0', '-shd', '1', '-rp', '0', '--json'];
  args.push('-rt', opts.seconds as string, '-nx', opts.nx as string, '-ny', opts.ny as string, '-dt', opts.dt as string);
  args.push('--port', '0', '--host', '127.0.0.1');
  const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: Record<string, unknown>[] = [];
  const waiters: (() => void)[] = [];
  let buf = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      lines.push(JSON.parse(buf.slice(0, i)) as Record<string, unknown>);
      buf = buf.slice(i + 1);
      waiters.splice(0).forEach((w) => w());
    }
  });
  const exited = new Promise<void>((resolve) => child.on('close', () => (waiters.splice(0).forEach((w) => w()), resolve())));
  const line = async (event: string): Promise<Record<string, unknown>> => {
    for (;;) {
      const l = lines.find((x) => x['event'] === event);
      if (l) return l;
      if (child.exitCode !== null) throw new Error(`sluice sim ended without a '${event}' line`);
      await new Promise<void>((r) => waiters.push(r));
    }
  };
  try {
    const port = (await line('listening'))['port'] as number;
    const client = new PvaClient({
      env: { EPICS_PVA_AUTO_ADDR_LIST: 'NO', EPICS_PVA_ADDR_LIST: '', EPICS_PVA_NAME_SERVERS: `127.0.0.1:${port}` },
    });
    const sub = client.monitor('pvapy:image', { queueSize: Number(opts.queue), pipeline: true });
    let last = -1;
    let received = 0;
    let missed = 0;
    let t0 = 0;
    let t1 = 0;
    let n0 = 0;
    for await (const u of sub) {
      const id = u.value['uniqueId'] as number;
      if (last >= 0 && id !== last + 1) missed += id - last - 1;
      last = id;
      received++;
      if (id === WARM) {
        t0 = performance.now();
        n0 = received;
      }
      t1 = performance.now();
    }
    client.close();
    await exited;
    const summary = await line('summary');
    const rate = t0 ? (received - n0) / ((t1 - t0) / 1000) : 0;
    return { rate, received, missed, simFps: summary['fps'] as number, simFrames: summary['frames'] as number };
  } finally {
    if (child.exitCode === null) child.kill();
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

const runs: Run[] = [];
console.log(
  `# sim benchmark: ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), Node ${process.version}: ` +
    `sluice sim -fps 0 --lossless -nx ${opts.nx} -ny ${opts.ny} -dt ${opts.dt}, ` +
    `one pipelined client, queue ${opts.queue}, ${opts.runs} runs of ${opts.seconds} s`,
);
for (let i = 0; i < Number(opts.runs); i++) {
  const r = await once();
  runs.push(r);
  console.log(
    `run ${i + 1}: ${r.rate.toFixed(0)} frames/s received (${r.received} frames, missed ${r.missed}); ` +
      `sim reports ${r.simFrames} frames @ ${r.simFps.toFixed(0)} fps`,
  );
}
const missed = runs.reduce((a, r) => a + r.missed, 0);
const rate = median(runs.map((r) => r.rate));
console.log(`median: ${rate.toFixed(0)} frames/s with ${missed} missed`);
if (opts.json) writeFileSync(opts.json, JSON.stringify({ node: process.version, cpus: cpus().length, opts, runs, rate, missed }, null, 2));
if (missed > 0) process.exitCode = 1;
