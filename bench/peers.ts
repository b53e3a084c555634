// Sluice against PVXS (C++), monitor throughput on loopback, in the four pairings:
// PVXS→PVXS, PVXS server→Sluice client, Sluice server→PVXS client, Sluice→Sluice.
// PVXS is not part of this project: build it yourself and point --pvxs-test at the folder
// holding its test programs `spam` (a server posting NTScalarArray uint32 updates as fast as
// its subscribers take them) and `eatspam` (a client counting them).
//
//   node dist/bench/peers.js --pvxs-test PATH/pvxs/test/O.linux-x86_64 [--seconds 3] [--runs 3]
//
// Frames are uint32 arrays of 4096 elements (16 KiB) and 524288 elements (2 MiB), with
// value[0] counting, so both clients can count skipped updates.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { PvaClient } from '../src/pva/client/client.js';
import { PvaServer } from '../src/pva/server/server.js';
import { SharedPV } from '../src/pv/shared-pv.js';
import { ntscalarArray } from '../src/pvdata/nt/index.js';

const { values: opts } = parseArgs({
  options: {
    role: { type: 'string' },
    port: { type: 'string' },
    nelem: { type: 'string' },
    seconds: { type: 'string', default: '3' },
    runs: { type: 'string', default: '3' },
    'pvxs-test': { type: 'string' },
  },
});
const PV = 'BENCH:spam';
const self = fileURLToPath(import.meta.url);

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function pvaEnv(tcp: number, udp: number): NodeJS.ProcessEnv {
  return {
    ...process.env,
    EPICS_PVA_AUTO_ADDR_LIST: 'NO',
    EPICS_PVA_ADDR_LIST: '',
    EPICS_PVA_NAME_SERVERS: `127.0.0.1:${tcp}`,
    EPICS_PVAS_SERVER_PORT: String(tcp),
    EPICS_PVAS_BROADCAST_PORT: String(udp),
    EPICS_PVAS_INTF_ADDR_LIST: '127.0.0.1',
    EPICS_PVAS_AUTO_BEACON_ADDR_LIST: 'NO',
    EPICS_PVAS_BEACON_ADDR_LIST: '127.0.0.1',
  };
}

// ---- Sluice roles --------------------------------------------------------------------------

/** Like PVXS's spam: a new array filled with the count for each post, posted while there is room. */
async function sluiceServer(nelem: number): Promise<void> {
  const server = new PvaServer({ udpPort: false });
  const pv = new SharedPV();
  pv.open(ntscalarArray.type('uint'), { value: new Uint32Array(nelem) });
  server.addPV(PV, pv);
  await server.listen();
  let cnt = 0;
  for (;;) {
    while (pv.subscriberCount === 0) await new Promise((r) => setTimeout(r, 5));
    if (!pv.post({ value: new Uint32Array(nelem).fill(cnt++) })) await pv.drained();
  }
}

async function sluiceClient(seconds: number): Promise<void> {
  const client = new PvaClient({ beaconPort: false });
  const sub = client.monitor(PV, { pipeline: true, queueSize: 100 });
  let n = 0;
  let skips = 0;
  let prev = -1;
  let t0 = 0;
  const stop = new Promise<void>((resolve) => setTimeout(resolve, seconds * 1000 + 500));
  const counting = (async () => {
    for await (const u of sub) {
      const v = (u.value['value'] as Uint32Array)[0] as number;
      if (prev >= 0 && v !== prev + 1) skips++;
      prev = v;
      if (t0 === 0)
        t0 = performance.now(); // start at the first update, as eatspam starts at subscribe
      else n++;
    }
  })();
  await stop;
  const dt = (performance.now() - t0) / 1000;
  sub.close();
  await counting;
  process.stdout.write(`${PV} ${n / dt} update/s ${skips / dt} skips/s\n`);
  client.close();
}

// ---- orchestration -------------------------------------------------------------------------

function startServer(kind: 'pvxs' | 'sluice', nelem: number, env: NodeJS.ProcessEnv): ChildProcess {
  if (kind === 'pvxs') {
    return spawn(join(opts['pvxs-test'] as string, 'spam'), ['-S', PV, '-#', String(nelem)], { env, stdio: 'ignore' });
  }
  return spawn(process.execPath, [self, '--role', 'server', '--nelem', String(nelem)], { env, stdio: 'ignore' });
}

async function runClient(kind: 'pvxs' | 'sluice', seconds: number, env: NodeJS.ProcessEnv): Promise<number> {
  const child =
    kind === 'pvxs'
      ? spawn(join(opts['pvxs-test'] as string, 'eatspam'), ['-P', '-Q', '100', PV], { env, stdio: ['ignore', 'pipe', 'ignore'] })
      : spawn(process.execPath, [self, '--role', 'client', '--seconds', String(seconds)], { env, stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  const exited = once(child, 'exit');
  if (kind === 'pvxs') setTimeout(() => child.kill('SIGINT'), seconds * 1000 + 500);
  await exited;
  const m = new RegExp(`${PV} [0-9.e+]+ wakes/s ([0-9.e+]+) update/s|${PV} ([0-9.e+]+) update/s`).exec(out);
  if (!m) throw new Error(`no rate in client output: ${out}`);
  return Number(m[1] ?? m[2]);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

async function main(): Promise<void> {
  if (opts.role === 'server') return sluiceServer(Number(opts.nelem));
  if (opts.role === 'client') return sluiceClient(Number(opts.seconds));
  if (!opts['pvxs-test']) throw new Error('--pvxs-test PATH (folder with PVXS spam and eatspam) is required');
  const seconds = Number(opts.seconds);
  const runs = Number(opts.runs);
  console.log(`# PVXS vs Sluice, monitor of uint32 arrays, pipeline queue 100, ${runs} runs of ${seconds} s, median updates/s`);
  for (const nelem of [4096, 524288]) {
    const mb = (nelem * 4) / 1e6;
    const pairs: ['pvxs' | 'sluice', 'pvxs' | 'sluice'][] = [
      ['pvxs', 'pvxs'],
      ['pvxs', 'sluice'],
      ['sluice', 'pvxs'],
      ['sluice', 'sluice'],
    ];
    const line: string[] = [];
    let base = 0;
    for (const [s, c] of pairs) {
      const rates: number[] = [];
      for (let i = 0; i < runs; i++) {
        const env = pvaEnv(await freePort(), await freePort());
        const srv = startServer(s, nelem, env);
        await new Promise((r) => setTimeout(r, 300)); // let it bind before the client searches
        rates.push(await runClient(c, seconds, env));
        srv.kill('SIGKILL');
        await once(srv, 'exit');
      }
      const rate = median(rates);
      if (s === 'pvxs' && c === 'pvxs') base = rate;
      line.push(`${s}→${c} ${rate.toFixed(0)}/s ${(rate * mb).toFixed(0)} MB/s (×${(rate / base).toFixed(2)})`);
    }
    console.log(`${nelem * 4} B: ${line.join(' | ')}`);
  }
}

await main();
