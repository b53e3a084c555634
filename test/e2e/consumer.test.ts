// The seed document's examples, with spawned `sluice sim` and `sluice consumer` processes
// finding each other over UDP search on loopback (a free port, not 5076).
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, watch } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { PvaClient } from '../../src/pva/client/client.js';
import { consumerArgs, simArgs } from '../helpers/cli-args.js';
import { loopbackEnv, spawnCli } from '../helpers/cli.js';
import { recordArgs, recordedIds as ids } from '../helpers/record-ids.js';
import { untilUpdate } from '../helpers/net.js';

async function setup(t: TestContext): Promise<{ env: NodeJS.ProcessEnv; dir: string; start: (args: string[]) => Proc; client: PvaClient }> {
  const env = await loopbackEnv();
  const dir = mkdtempSync(join(tmpdir(), 'sluice-consumer-'));
  const procs: Proc[] = [];
  const client = new PvaClient({ env, timeoutMs: 10_000, beaconPort: false });
  t.after(() => {
    client.close();
    for (const p of procs) p.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    env,
    dir,
    client,
    start: (args) => {
      const p = new Proc(spawnCli(args, env));
      procs.push(p);
      return p;
    },
  };
}

class Proc {
  out = '';
  err = '';
  readonly exited: Promise<number | null>;
  constructor(readonly child: ChildProcess) {
    child.stdout?.on('data', (c: Buffer) => (this.out += c.toString()));
    child.stderr?.on('data', (c: Buffer) => (this.err += c.toString()));
    this.exited = new Promise((r) => child.on('exit', (code) => r(code)));
  }
}

/** The simulator's channel, started 0.3 s after its clients came. */
const image = { channel: 'pvapy:image', startDelay: 0.3 } as const;
/** A consumer of it with a server queue, for 8 s (the test stops the stream before). */
const consumer = { input: 'pvapy:image', runtime: 8, serverQueueSize: 100, disableCurses: true } as const;
/** The distributor hands each frame to the next consumer in turn. */
const oneEach = { distributorUpdates: 1, distributorTrigger: 'uniqueId' } as const;

/** The consumer's status PV once it shows what `ok` wants (it is monitored, not polled). */
async function statusOf(client: PvaClient, name: string, ok: (s: Record<string, any>) => boolean): Promise<Record<string, any>> {
  return untilUpdate(client, name, ok, 20_000);
}

/** Resolve once `cond()` holds, checking whenever a file in `dir` changes (an event, not a timer). */
async function untilFiles(dir: string, cond: () => boolean, ms = 20_000): Promise<void> {
  if (cond()) return;
  await new Promise<void>((resolve, reject) => {
    const watcher = watch(dir, () => {
      if (cond()) finish(null);
    });
    const timer = setTimeout(() => finish(new Error(`no change in ${dir} made the condition true within ${ms} ms`)), ms);
    const finish = (err: Error | null) => {
      clearTimeout(timer);
      watcher.close();
      if (err) reject(err);
      else resolve();
    };
    if (cond()) finish(null); // a write between the first check and the watch
  });
}

test('single consumer: output, status and control channels; stop through the control PV', async (t) => {
  const { dir, start, client } = await setup(t);
  const file = join(dir, 'c1');
  const consumer = start(
    consumerArgs(
      {
        input: 'pvapy:image',
        control: 'consumer:*:control',
        status: 'consumer:*:status',
        output: 'consumer:*:output',
        reportPeriod: 1,
        serverQueueSize: 100,
        disableCurses: true,
      },
      ...recordArgs(file),
    ),
  );
  const sim = start(simArgs({ ...image, nx: 64, ny: 32, dtype: 'uint8', fps: 50, runtime: 1, waitClients: 1, shutdownDelay: 1 }));
  assert.equal(await sim.exited, 0, sim.err);
  const out = (await client.get('consumer:1:output', { request: 'field(uniqueId,dimension)' })).value;
  assert.equal(out['uniqueId'], 50);
  assert.deepEqual(
    out['dimension'].map((d: { size: number }) => d.size),
    [64, 32],
  );
  await client.put('consumer:1:control', { command: 'get_stats' });
  const status = await statusOf(client, 'consumer:1:status', (s) => s['processorStats'].nProcessed === 50);
  assert.equal(status['processorStats'].nMissed, 0);
  assert.equal(status['processorStats'].firstObjectId, 1);
  assert.equal(status['receiverStats'].nReceived, 51, 'the initial value plus 50 frames');
  await client.put('consumer:1:control', { command: 'configure', args: '{"x":100}' });
  assert.equal((await client.get('consumer:1:control')).value['statusMessage'], 'Configuration successful');
  await client.put('consumer:1:control', { command: 'nonsense' });
  assert.match((await client.get('consumer:1:control')).value['statusMessage'], /unrecognized command/);
  await client.put('consumer:1:control', { command: 'stop' });
  assert.equal(await consumer.exited, 0);
  assert.deepEqual(
    ids(file),
    Array.from({ length: 50 }, (_, i) => i + 1),
  );
  assert.match(consumer.out, /consumer 1 final[\s\S]*nProcessed=50/);
});

/**
 * Consumers that run until the test stops them: through their control PVs once `done()` holds
 * (a slow start on a busy machine must not run out a fixed runtime before the frames came).
 */
const untilStopped = { ...consumer, runtime: 120, control: 'ctl:*:control' } as const;

async function stopWhen(client: PvaClient, dir: string, done: () => boolean, ids: number[]): Promise<void> {
  await untilFiles(dir, done);
  for (const id of ids) await client.put(`ctl:${id}:control`, { command: 'stop' });
}

test('two consumers: both get every frame; with --distributor-updates 1 they alternate', async (t) => {
  const { dir, start, client } = await setup(t);
  const all = start(consumerArgs({ ...untilStopped, nConsumers: 2 }, ...recordArgs(join(dir, 'all-{id}'))));
  const alt = start(consumerArgs({ ...untilStopped, id: 3, nConsumers: 2, ...oneEach }, ...recordArgs(join(dir, 'alt-{id}'))));
  const sim = start(simArgs({ ...image, nx: 32, ny: 32, fps: 20, runtime: 1, waitClients: 4, shutdownDelay: 1 }));
  assert.equal(await sim.exited, 0, sim.err);
  const count = (f: string): number => ids(join(dir, f)).length;
  await stopWhen(client, dir, () => count('all-1') >= 20 && count('all-2') >= 20 && count('alt-3') + count('alt-4') >= 20, [1, 2, 3, 4]);
  assert.equal(await all.exited, 0, all.err);
  assert.equal(await alt.exited, 0, alt.err);
  const frames = Array.from({ length: 20 }, (_, i) => i + 1);
  assert.deepEqual(ids(join(dir, 'all-1')), frames);
  assert.deepEqual(ids(join(dir, 'all-2')), frames);
  const odd = frames.filter((i) => i % 2 === 1);
  const even = frames.filter((i) => i % 2 === 0);
  const pair = [ids(join(dir, 'alt-3')), ids(join(dir, 'alt-4'))].sort((a, b) => (a[0] ?? 0) - (b[0] ?? 0));
  assert.deepEqual(pair, [odd, even]);
  assert.match(all.out, /Combined System Stats[\s\S]*nProcessed=40 [\s\S]*nMissed=0 /);
  assert.match(alt.out, /Combined System Stats[\s\S]*nProcessed=20 [\s\S]*nMissed=0 /);
});

test('two sets of two consumers with 3 updates: 1,2,3,7,8,9 / 4,5,6,10,11,12', async (t) => {
  const { dir, start, client } = await setup(t);
  const set = (id: number, distributorSet: string) =>
    consumerArgs(
      { ...untilStopped, nConsumers: 2, id, distributorSet, distributorUpdates: 3, distributorTrigger: 'uniqueId', nDistributorSets: 2 },
      ...recordArgs(join(dir, 's-{id}')),
    );
  const a = start(set(1, 'A'));
  const b = start(set(3, 'B'));
  const sim = start(simArgs({ ...image, nx: 32, ny: 32, fps: 24, runtime: 1, waitClients: 4, shutdownDelay: 1 }));
  assert.equal(await sim.exited, 0, sim.err);
  const count = (i: number): number => ids(join(dir, `s-${i}`)).length;
  await stopWhen(client, dir, () => [1, 2, 3, 4].every((i) => count(i) >= 12), [1, 2, 3, 4]);
  assert.equal(await a.exited, 0, a.err);
  assert.equal(await b.exited, 0, b.err);
  const first = [1, 2, 3, 7, 8, 9, 13, 14, 15, 19, 20, 21];
  const second = [4, 5, 6, 10, 11, 12, 16, 17, 18, 22, 23, 24];
  const [s1, s2, s3, s4] = [1, 2, 3, 4].map((i) => ids(join(dir, `s-${i}`)));
  assert.deepEqual(s1, s2, 'both consumers of a set get the same frames');
  assert.deepEqual(s3, s4);
  // Which set is served first depends on which connected first.
  assert.deepEqual(
    [s1 ?? [], s3 ?? []].sort((x, y) => (x[0] ?? 0) - (y[0] ?? 0)),
    [first, second],
  );
  assert.match(a.out, /Combined System Stats[\s\S]*nMissed=0 /);
  assert.match(b.out, /Combined System Stats[\s\S]*nMissed=0 /);
});

test('a processor that throws: errors are counted and the stream goes on', async (t) => {
  const { dir, start } = await setup(t);
  const file = join(dir, 'f');
  const c = start(consumerArgs({ ...consumer, runtime: 5 }, ...recordArgs(file, { failIds: [3, 4] })));
  const sim = start(simArgs({ ...image, nx: 16, ny: 16, fps: 20, runtime: 0.5, waitClients: 1, shutdownDelay: 0.5 }));
  assert.equal(await sim.exited, 0, sim.err);
  assert.equal(await c.exited, 0, c.err);
  assert.deepEqual(ids(file), [1, 2, 5, 6, 7, 8, 9, 10]);
  assert.match(c.out, /nProcessed=8 [\s\S]*nErrors=2 /);
});

test('overrun demo: a slow consumer loses frames without queues, none with a server queue', async (t) => {
  const { dir, start } = await setup(t);
  // 600 frames at 1000/s into a processor that needs 2 ms each: 1.2 s of work for 0.6 s of stream.
  const slow = { busyMs: 2 };
  const noQueue = start(consumerArgs({ input: 'img:a', runtime: 6, disableCurses: true }, ...recordArgs(join(dir, 'a'), slow)));
  const queued = start(
    consumerArgs({ input: 'img:b', serverQueueSize: 1000, runtime: 6, disableCurses: true }, ...recordArgs(join(dir, 'b'), slow)),
  );
  const fast = (channel: string) =>
    simArgs({ channel, nx: 32, ny: 32, fps: 1000, runtime: 0.6, startDelay: 0.3, waitClients: 1, shutdownDelay: 3 });
  const simA = start(fast('img:a'));
  const simB = start(fast('img:b'));
  for (const p of [simA, simB, noQueue, queued]) assert.equal(await p.exited, 0, p.err);
  const lost = /nOverruns=(\d+) [\s\S]*nMissed=(\d+) /.exec(noQueue.out);
  assert.ok(lost && Number(lost[1]) > 0 && Number(lost[2]) > 0, `losses expected without queues:\n${noQueue.out}`);
  assert.equal(ids(join(dir, 'b')).length, 600);
  assert.match(queued.out, /final[\s\S]*nOverruns=0 [\s\S]*nProcessed=600 [\s\S]*nMissed=0 /);
});

test('a consumer killed mid-stream: the others go on and the distributor rebalances', async (t) => {
  const { dir, start } = await setup(t);
  const args = (n: number) => consumerArgs({ ...consumer, id: n, ...oneEach }, ...recordArgs(join(dir, `k-${n}`)));
  const c1 = start(args(1));
  const c2 = start(args(2));
  const c3 = start(args(3));
  const sim = start(simArgs({ ...image, nx: 16, ny: 16, fps: 50, runtime: 3, waitClients: 3, shutdownDelay: 1 }));
  // Kill the third once it has processed a few frames (its file grows as it goes).
  await untilFiles(dir, () => ids(join(dir, 'k-3')).length >= 5);
  c3.child.kill('SIGKILL');
  assert.equal(await sim.exited, 0, sim.err);
  assert.equal(await c1.exited, 0, c1.err);
  assert.equal(await c2.exited, 0, c2.err);
  const dead = ids(join(dir, 'k-3'));
  const last = dead[dead.length - 1] as number;
  const alive = new Set([...ids(join(dir, 'k-1')), ...ids(join(dir, 'k-2'))]);
  // Frames dealt to the killed process before the server saw its connection go are lost (a few,
  // more on a busy machine); from then on every frame goes to the others. A distributor that did
  // not rebalance would lose every third frame to the end.
  const lost = Array.from({ length: 150 - last }, (_, i) => last + 1 + i).filter((id) => !alive.has(id));
  assert.ok(lost.length <= 8, `frames lost after the kill at ${last}: ${lost.join(',')}`);
  assert.ok(
    lost.every((id) => id <= last + 30),
    `frames lost long after the kill at ${last}: ${lost.join(',')}`,
  );
  assert.ok(dead.length >= 5 && dead.length < 40, `the killed consumer got ${dead.length} frames`);
});

test('processing chains: output mode pva into input mode pvas, and rpc into rpc', async (t) => {
  const { dir, start } = await setup(t);
  const stage = (extra: string[], file: string) =>
    start(['consumer', '-rt', '7', '-sqs', '100', '-dc', ...extra, ...recordArgs(join(dir, file))]);
  // Downstream first: a pva/rpc output needs its receiver up.
  const pvasIn = stage(['-ic', 'stage2:pvas', '-im', 'pvas', '-siu', '0', '-id', '2'], 'pvas-in');
  const rpcIn = stage(['-ic', 'stage2:rpc', '-im', 'rpc', '-siu', '0', '-id', '4'], 'rpc-in');
  const pvaOut = stage(['-ic', 'pvapy:image', '-oc', 'stage2:pvas', '-om', 'pva', '-id', '1'], 'pva-out');
  const rpcOut = stage(['-ic', 'pvapy:image', '-oc', 'stage2:rpc', '-om', 'rpc', '-id', '3'], 'rpc-out');
  const sim = start(simArgs({ ...image, nx: 16, ny: 16, fps: 20, runtime: 0.5, waitClients: 2, shutdownDelay: 1 }));
  for (const p of [sim, pvasIn, rpcIn, pvaOut, rpcOut]) assert.equal(await p.exited, 0, p.err);
  const frames = Array.from({ length: 10 }, (_, i) => i + 1);
  assert.deepEqual(ids(join(dir, 'pva-out')), frames);
  assert.deepEqual(ids(join(dir, 'pvas-in')), frames, 'every put arrived at the pvas consumer');
  assert.deepEqual(ids(join(dir, 'rpc-in')), frames, 'every RPC call arrived at the rpc consumer');
  assert.match(pvaOut.out, /publisherStats: nPublished=10 [\s\S]*nErrors=0 /);
  assert.match(rpcOut.out, /publisherStats: nPublished=10 [\s\S]*nErrors=0 /);
});

test('receiver queues: accumulation loses nothing; a full bounded queue refuses and counts', async (t) => {
  const { dir, start } = await setup(t);
  // A server queue (pipelined monitor): no frame is squashed before it reaches the consumer, however
  // busy the machine, so every loss would be the accumulation's.
  const c = start(
    consumerArgs(
      {
        input: 'pvapy:image',
        serverQueueSize: 100,
        receiverQueueSize: 0,
        accumulateObjects: 5,
        accumulationTimeout: 0.5,
        runtime: 5,
        disableCurses: true,
      },
      ...recordArgs(join(dir, 'q')),
    ),
  );
  // A bounded queue of 2 in front of a processor that needs 20 ms per frame, fed at 200 frames/s.
  const small = start(
    consumerArgs(
      { input: 'pvapy:image', receiverQueueSize: 2, runtime: 5, disableCurses: true },
      ...recordArgs(join(dir, 'r'), { busyMs: 20 }),
    ),
  );
  const sim = start(simArgs({ ...image, nx: 16, ny: 16, fps: 200, runtime: 0.2, waitClients: 2, shutdownDelay: 1 }));
  assert.equal(await sim.exited, 0, sim.err);
  assert.equal(await c.exited, 0, c.err);
  assert.equal(await small.exited, 0, small.err);
  assert.deepEqual(
    ids(join(dir, 'q')),
    Array.from({ length: 40 }, (_, i) => i + 1),
  );
  assert.match(c.out, /queueStats: nReceived=41 nRejected=0 nDelivered=41 nQueued=0/);
  const q = /queueStats: nReceived=(\d+) nRejected=(\d+) nDelivered=(\d+)/.exec(small.out.slice(small.out.indexOf('final')));
  assert.ok(q, small.out);
  const [received, rejected, delivered] = [Number(q[1]), Number(q[2]), Number(q[3])];
  assert.ok(rejected > 0, `a queue of 2 in front of a slow processor refuses frames (${rejected})`);
  assert.equal(received, delivered);
  // Without a server queue some updates are also squashed before they reach ours (overruns).
  assert.ok(received + rejected <= 41 && received + rejected > 20, `${received} queued + ${rejected} refused of 41`);
});
