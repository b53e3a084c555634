// The relay hot path in one process: a source server posting NTNDArray updates, a MirrorServer
// relaying them, and a client of the mirror, all on loopback. What it measures is the cost per
// update of the client -> mirror -> server path (decode, marks, post, queue, encode), so the
// updates are small: partial ones (uniqueId only) and whole 128x128 frames. Reports updates per
// second and the CPU time per source update, median of several runs (and how many updates the
// mirror's client got: fewer when the mirror's server squashed for it).
//
//   node dist/bench/mirror.js [--runs 5] [--updates 200000]
import { parseArgs } from 'node:util';
import { MirrorServer } from '../src/mirror/mirror-server.js';
import { PvaClient } from '../src/pva/client/client.js';
import { PvaServer } from '../src/pva/server/server.js';
import { SharedPV } from '../src/pv/shared-pv.js';
import { ntndarray } from '../src/pvdata/nt/index.js';
import type { PVStructure } from '../src/pvdata/values.js';

const { values: opts } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    updates: { type: 'string', default: '200000' },
  },
});

const env = (port: number): Record<string, string> => ({
  EPICS_PVA_AUTO_ADDR_LIST: 'NO',
  EPICS_PVA_ADDR_LIST: '',
  EPICS_PVA_NAME_SERVERS: `127.0.0.1:${port}`,
});

interface Outcome {
  /** Source updates relayed per second (until the last one reached the mirror's client). */
  rate: number;
  cpuUsPerUpdate: number;
  /** Updates the mirror's client received (fewer when the mirror's server squashed). */
  received: number;
}

async function run(kind: 'partial' | 'frame', n: number): Promise<Outcome> {
  const source = new PvaServer({ host: '127.0.0.1', port: 0, udpPort: false });
  const sourcePort = await source.listen();
  const data = new Uint8Array(128 * 128);
  const frame = (id: number): PVStructure => ntndarray.build({ data, dims: [128, 128], uniqueId: id, colorMode: 0 });
  const pv = SharedPV.readonly().open(ntndarray.type(), frame(0));
  source.addPV('bench:src', pv);
  const mirror = new MirrorServer({
    serverOptions: { host: '127.0.0.1', port: 0, udpPort: false },
    clientOptions: { env: env(sourcePort) },
  });
  const mirrorPort = await mirror.listen();
  const up = new Promise<void>((resolve) => mirror.once('up', () => resolve()));
  mirror.addMirror('bench:m', 'bench:src', { queueSize: 100 });
  await up;
  const client = new PvaClient({ env: env(mirrorPort) });
  const sub = client.monitor('bench:m', { request: 'record[queueSize=100000,pipeline=true]' });
  await sub.next(); // the current value
  const last = n;
  const done = (async () => {
    for await (const u of sub) if (u.value['uniqueId'] === last) break;
  })();
  const cpu = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  for (let id = 1; id <= n; id++) {
    const posted = pv.post(kind === 'partial' ? { uniqueId: id } : frame(id));
    if (!posted) await pv.drained();
  }
  await done;
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const c = process.cpuUsage(cpu);
  const received = sub.stats.received;
  sub.close();
  client.close();
  await mirror.close();
  await source.close();
  return { rate: n / seconds, cpuUsPerUpdate: (c.user + c.system) / n, received };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

const runs = Number(opts.runs);
const updates = Number(opts.updates);
for (const kind of ['partial', 'frame'] as const) {
  const n = kind === 'partial' ? updates : Math.floor(updates / 4);
  const outcomes: Outcome[] = [];
  for (let i = 0; i < runs; i++) outcomes.push(await run(kind, n));
  const rate = median(outcomes.map((o) => o.rate));
  const cpu = median(outcomes.map((o) => o.cpuUsPerUpdate));
  const got = median(outcomes.map((o) => o.received));
  process.stdout.write(
    `${kind}: ${n} updates, median of ${runs}: ${Math.round(rate)} updates/s relayed, ${cpu.toFixed(2)} µs CPU per update, ${got} received\n`,
  );
}
