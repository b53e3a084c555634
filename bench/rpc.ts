// RPC round trips in one host: p50 and p99 of a no-op call (one call at a time), and call rates
// one at a time and pipelined (N calls in flight), over real pvAccess on 127.0.0.1. The server
// runs in a child process (ProcessSpawner), as remote objects usually do; --inproc puts it in
// this process.
//
//   node dist/bench/rpc.js [--calls 5000] [--concurrency 32] [--inproc]
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { ProcessSpawner, RPCClient, RPCServer, type ObjectProxy } from '../src/rpc/index.js';

const { values: opts } = parseArgs({
  options: {
    calls: { type: 'string', default: '5000' },
    concurrency: { type: 'string', default: '32' },
    inproc: { type: 'boolean', default: false },
  },
});
const calls = Number(opts.calls);
const concurrency = Number(opts.concurrency);

async function target(): Promise<{ noop: ObjectProxy; done: () => Promise<void> }> {
  if (opts.inproc) {
    const server = await RPCServer.start({ name: 'bench' });
    server.publish('obj', { noop: (_a: unknown, _b: unknown) => undefined });
    const client = await RPCClient.connect(server.address);
    const obj = await client.get('obj');
    return { noop: obj.noop, done: async () => (client.close(), await server.close()) };
  }
  const child = await ProcessSpawner.start({ name: 'bench' });
  // A module every Node has: its noop-like function answers at once.
  const util = await child.import('node:util');
  return { noop: util.isDeepStrictEqual, done: async () => void (await child.stop()) };
}

const { noop, done } = await target();
for (let i = 0; i < 500; i++) await noop(1, 1); // warm up: JIT, type caches, the connection

const lat = new Float64Array(calls);
let t0 = performance.now();
for (let i = 0; i < calls; i++) {
  const s = performance.now();
  await noop(1, 1);
  lat[i] = performance.now() - s;
}
const syncRate = calls / ((performance.now() - t0) / 1000);
lat.sort();
const pct = (p: number) => ((lat[Math.min(calls - 1, Math.floor(calls * p))] as number) * 1000).toFixed(0);

t0 = performance.now();
let next = 0;
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (next++ < calls) await noop(1, 1);
  }),
);
const pipeRate = calls / ((performance.now() - t0) / 1000);

console.log(`rpc no-op call (${opts.inproc ? 'server in this process' : 'server in a child process'}), ${calls} calls`);
console.log(`  round trip  p50 ${pct(0.5)} us   p99 ${pct(0.99)} us`);
console.log(`  sync        ${syncRate.toFixed(0)} calls/s`);
console.log(`  pipelined   ${pipeRate.toFixed(0)} calls/s (${concurrency} in flight)`);
await done();
