// The collector sorting several producers: one producer process hosts P PVs and posts 128x128
// uint8 NTNDArray frames round robin (frame n on PV n mod P, so each producer carries every P-th
// id), as fast as the collector takes them without loss (post() + drained()); a spawned
// `sluice collector` (passthrough processor, server queue 100) gathers them back into one sorted
// stream. The same run times one `sluice consumer` taking the same number of frames from one PV,
// the baseline the collector is compared with.
//
//   node dist/bench/collector.js [--producers 4] [--frames 200000] [--runs 3]
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ntndarray } from '../src/pvdata/nt/index.js';
import { PvaServer } from '../src/pva/server/server.js';
import { SharedPV } from '../src/pv/shared-pv.js';

const { values: opts } = parseArgs({
  options: {
    producers: { type: 'string', default: '4' },
    frames: { type: 'string', default: '200000' },
    runs: { type: 'string', default: '3' },
    serve: { type: 'boolean', default: false },
  },
});
const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const SELF = fileURLToPath(import.meta.url);
const P = Number(opts.producers);
const N = Number(opts.frames);

/** Child mode: host P PVs, wait for a subscriber on each, post N frames, print the rate. */
async function serve(): Promise<void> {
  const server = new PvaServer({ port: 0, udpPort: false });
  const pvs = Array.from({ length: P }, () =>
    SharedPV.readonly().open(ntndarray.type(), ntndarray.build({ data: new Uint8Array(0), dims: [], uniqueId: 0 })),
  );
  pvs.forEach((pv, i) => server.addPV(`bench:p${i + 1}`, pv));
  await server.listen();
  console.log(`PORT ${server.tcpPort}`);
  // Frames built once (the data is shared): the producer's cost is the protocol, as in the sim.
  const frames = Array.from({ length: 64 }, (_, k) => new Uint8Array(128 * 128).fill(k));
  while (pvs.some((pv) => pv.subscriberCount === 0)) await new Promise((r) => setTimeout(r, 10));
  await new Promise((r) => setTimeout(r, 200)); // let the collector take the initial values
  const t0 = performance.now();
  for (let n = 1; n <= N; n++) {
    const pv = pvs[n % P] as SharedPV;
    if (!pv.post(ntndarray.build({ data: frames[n % 64] as Uint8Array, dims: [128, 128], uniqueId: n, colorMode: 0 }))) await pv.drained();
  }
  const s = (performance.now() - t0) / 1000;
  console.log(`POSTED ${N} ${(N / s).toFixed(0)}`);
  process.stdin.resume();
  await once(process.stdin, 'end'); // the parent closes stdin when the collector is done
  await server.close();
}

interface Outcome {
  rate: number;
  processed: number;
  missed: number;
  rejected: number;
}

async function runOnce(command: 'collector' | 'consumer'): Promise<Outcome> {
  const nPvs = command === 'collector' ? P : 1;
  const producer = spawn(process.execPath, [SELF, '--serve', '--producers', String(nPvs), '--frames', String(N)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let pout = '';
  const port = await new Promise<string>((resolve) =>
    producer.stdout.on('data', (c: Buffer) => {
      pout += c.toString();
      const m = /PORT (\d+)/.exec(pout);
      if (m) resolve(m[1] as string);
    }),
  );
  const env = {
    ...process.env,
    EPICS_PVA_NAME_SERVERS: `127.0.0.1:${port}`,
    EPICS_PVA_AUTO_ADDR_LIST: 'NO',
    EPICS_PVA_ADDR_LIST: '',
    EPICS_PVAS_SERVER_PORT: '0',
    EPICS_PVAS_BROADCAST_PORT: '0',
    EPICS_PVAS_AUTO_BEACON_ADDR_LIST: 'NO',
    EPICS_PVAS_BEACON_ADDR_LIST: '',
  };
  const args =
    command === 'collector'
      ? ['collector', '-pid', `range(1,${P + 1})`, '-ic', 'bench:p*', '-sqs', '100', '-rt', '600', '-dc']
      : ['consumer', '-ic', 'bench:p1', '-sqs', '100', '-rt', '600', '-dc'];
  const proc = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  proc.stdout.on('data', (c: Buffer) => (out += c.toString()));
  await new Promise<void>((resolve) => producer.stdout.on('data', () => /POSTED/.test(pout) && resolve()));
  await new Promise((r) => setTimeout(r, 1000)); // the last frames in flight
  proc.kill('SIGINT');
  await once(proc, 'exit');
  producer.stdin.end();
  await once(producer, 'exit');
  const final = /final[\s\S]*/.exec(out)?.[0] ?? '';
  const field = (name: string): number => Number(new RegExp(`${name}=([\\d.e+-]+)`).exec(final)?.[1] ?? NaN);
  return {
    rate: field('processedRate'),
    processed: field('nProcessed'),
    missed: field('nMissed'),
    rejected: command === 'collector' ? field('nRejected') : 0,
  };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

if (opts.serve) {
  await serve();
} else {
  console.log(`# ${P} producers → sluice collector (passthrough, -sqs 100), 128x128 uint8, ${N} frames, ${opts.runs} runs`);
  const col: Outcome[] = [];
  const con: Outcome[] = [];
  for (let i = 0; i < Number(opts.runs); i++) {
    col.push(await runOnce('collector'));
    con.push(await runOnce('consumer'));
    const c = col[i] as Outcome;
    const b = con[i] as Outcome;
    console.log(
      `run ${i + 1}: collector ${c.processed} frames at ${c.rate.toFixed(0)}/s (missed ${c.missed}, rejected ${c.rejected}) | consumer of one PV ${b.processed} at ${b.rate.toFixed(0)}/s (missed ${b.missed})`,
    );
  }
  const cr = median(col.map((o) => o.rate));
  const br = median(con.map((o) => o.rate));
  console.log(`median: collector ${cr.toFixed(0)} frames/s, one-PV consumer ${br.toFixed(0)} frames/s, ratio ${(cr / br).toFixed(2)}`);
}
