// `sluice collector` end to end: a simulator, consumers splitting its stream, and a collector
// gathering their outputs back into one sorted stream, all spawned CLI processes finding each
// other over UDP search on loopback (a free port, not 5076).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { PvaClient } from '../../src/pva/client/client.js';
import { collectorArgs, consumerArgs, simArgs } from '../helpers/cli-args.js';
import { loopbackEnv, startCli, type CliProcess } from '../helpers/cli.js';
import { recordArgs as record, recordedIds as ids } from '../helpers/record-ids.js';
import { untilUpdate } from '../helpers/net.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

async function setup(t: TestContext) {
  const env = await loopbackEnv();
  const dir = mkdtempSync(join(tmpdir(), 'sluice-collector-'));
  const client = new PvaClient({ env, timeoutMs: 10_000, beaconPort: false });
  t.after(() => {
    client.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { env, dir, client, start: (args: string[]): CliProcess => startCli(t, args, env, 20_000) };
}

/**
 * The simulator waits for three monitors (two consumers and the test, which subscribes once the
 * collector is connected to both consumer outputs), starts 0.2 s later and lingers 2 s.
 */
const simTail = { startDelay: 0.2, waitClients: 3, shutdownDelay: 2 } as const;
/** Consumers splitting the stream frame by frame; runtimes are long stops: the test stops everything itself. */
const splitting = { distributorUpdates: 1, distributorTrigger: 'uniqueId', serverQueueSize: 10, runtime: 60, disableCurses: true } as const;
/** The collector's status and control PVs under their default names. */
const defaultChannels = { status: '_', control: '_' } as const;
/** The collector runs until the test stops it, reporting (and refreshing its status) every 0.2 s. */
const running = { runtime: 60, reportPeriod: 0.2, disableCurses: true } as const;

/** The status PV once it shows what `ok` wants: monitored (collectors here refresh it every 0.2 s). */
async function statusOf(
  client: PvaClient,
  name: string,
  ok: (s: Record<string, any>) => boolean,
  ms = 40_000,
): Promise<Record<string, any>> {
  return untilUpdate(client, name, ok, ms);
}

test('two producers out of order reach the collector, which processes them sorted', async (t) => {
  const { dir, start, client } = await setup(t);
  const N = 30;
  // The simulator waits for three monitors: the two consumers and, last, this test, which
  // subscribes only once the collector is connected to both consumer outputs.
  const sim = start(simArgs({ channel: 'col:image', nx: 16, ny: 16, fps: 20, nFrames: 4, runtime: N / 20, ...simTail }));
  // Consumer 2 takes 70 ms per frame: its frame N reaches the collector after consumer 1's N+1.
  const c1 = start(consumerArgs({ input: 'col:image', id: 1, output: 'col:out:1', ...splitting }, ...record(join(dir, 'c1'))));
  const c2 = start(
    consumerArgs({ input: 'col:image', id: 2, output: 'col:out:2', ...splitting }, ...record(join(dir, 'c2'), { busyMs: 70 })),
  );
  const collector = start(
    collectorArgs(
      { id: 7, producers: '1,2', input: 'col:out:*', output: 'col:sorted', ...defaultChannels, serverQueueSize: 50, ...running },
      ...record(join(dir, 'collected')),
    ),
  );
  await statusOf(
    client,
    'pvapy:collector:7:status',
    (s) => s['producerStats_1'].receiverStats.nReceived >= 1 && s['producerStats_2'].receiverStats.nReceived >= 1,
  );
  const watch = client.monitor('col:image', { queueSize: 4 });
  t.after(() => watch.close());
  assert.equal(await sim.exited, 0, sim.stderr());
  const frames = Array.from({ length: N }, (_, i) => i + 1);
  await statusOf(client, 'pvapy:collector:7:status', (s) => s['processorStats'].nProcessed === N).catch((err: Error) => {
    throw new Error(`${err.message}\ncollector: ${collector.stdout()}${collector.stderr()}\nsim: ${sim.stdout()}`);
  });
  await client.put('pvapy:collector:7:control', { command: 'stop' });
  assert.equal(await collector.exited, 0, collector.stderr());
  c1.kill('SIGINT');
  c2.kill('SIGINT');
  await Promise.all([c1.exited, c2.exited]);

  const odd = ids(join(dir, 'c1'));
  const even = ids(join(dir, 'c2'));
  assert.deepEqual(
    [...odd, ...even].sort((a, b) => a - b),
    frames,
    'the consumers split the stream',
  );
  assert.ok(odd.length > 0 && even.length > 0);
  assert.deepEqual(ids(join(dir, 'collected')), frames, 'the collector processed every frame, in order');
  const out = collector.stdout();
  assert.match(out, /collector 7 final\n\s+collectorStats: nCollected=30 [^\n]*nRejected=0 [^\n]*nMissed=0 /);
  assert.match(out, /producerStats_1 \(col:out:1\)/);
  assert.match(out, /producerStats_2 \(col:out:2\)/);
});

test('consumers split frames into tiles, the collector stitches them: the result equals the source', async (t) => {
  const { start, client } = await setup(t);
  const N = 24;
  const SPLIT = join(root, 'examples/split-processor.ts');
  const STITCH = join(root, 'examples/stitch-processor.ts');
  // A frame size that does not divide evenly into tiles, 16-bit pixels.
  const sim = start(simArgs({ channel: 'tile:image', nx: 50, ny: 30, dtype: 'uint16', fps: 20, nFrames: 5, runtime: N / 20, ...simTail }));
  const split = { processorFile: SPLIT, processorClass: 'SplitProcessor', processorArgs: '{"nx": 3, "ny": 2}', ...splitting };
  const c1 = start(consumerArgs({ input: 'tile:image', id: 1, output: 'tile:split:1', ...split }));
  const c2 = start(consumerArgs({ input: 'tile:image', id: 2, output: 'tile:split:2', ...split }));
  const collector = start(
    collectorArgs({
      id: 3,
      producers: '1,2',
      input: 'tile:split:*',
      output: 'tile:stitched',
      ...defaultChannels,
      serverQueueSize: 100,
      processorFile: STITCH,
      processorClass: 'StitchProcessor',
      ...running,
    }),
  );
  await statusOf(
    client,
    'pvapy:collector:3:status',
    (s) => s['producerStats_1'].receiverStats.nReceived >= 1 && s['producerStats_2'].receiverStats.nReceived >= 1,
  );
  // The stitched output appears with the first stitched frame: watch it from now on, and the source.
  const stitched = client.monitor('tile:stitched', { queueSize: 100 });
  const source = client.monitor('tile:image', { queueSize: 100 });
  t.after(() => (stitched.close(), source.close()));
  const sourceFrames = new Map<number, Uint16Array>();
  const reading = (async () => {
    for await (const u of source) {
      const id = u.value['uniqueId'] as number;
      if (id > 0) sourceFrames.set(id, (u.value['value'] as { value: Uint16Array }).value.slice());
      if (id === N) break;
    }
  })();
  assert.equal(await sim.exited, 0, sim.stderr());
  await reading;
  const status = await statusOf(client, 'pvapy:collector:3:status', (s) => s['userStats']?.nFramesStitched === N);
  assert.equal(status['userStats'].nFramesMissed, 0);
  assert.equal(status['userStats'].nTilesReceived, 6 * N);
  let compared = 0;
  for (let u = await stitched.next(); !u.done; u = await stitched.next()) {
    const v = u.value.value;
    const id = v['uniqueId'] as number;
    assert.deepEqual(
      v['dimension'].map((d: { size: number }) => d.size),
      [50, 30],
      `frame ${id} has the source's size`,
    );
    const data = v['value'] as { field: string; value: Uint16Array };
    assert.equal(data.field, 'ushortValue');
    assert.deepEqual(data.value, sourceFrames.get(id), `stitched frame ${id} equals the source frame`);
    compared++;
    if (id === N) break;
  }
  assert.ok(compared >= N / 2, `compared ${compared} stitched frames with their sources`);
  await client.put('pvapy:collector:3:control', { command: 'stop' });
  assert.equal(await collector.exited, 0, collector.stderr());
  c1.kill('SIGINT');
  c2.kill('SIGINT');
  await Promise.all([c1.exited, c2.exited]);
});

test('collector usage errors name the option', async (t) => {
  const { start } = await setup(t);
  const noInput = start(['collector']);
  assert.equal(await noInput.exited, 2);
  assert.match(noInput.stderr(), /--input-channel is required/);
  const badList = start(['collector', '-ic', 'x:*', '-pid', '1,a']);
  assert.equal(await badList.exited, 2);
  assert.match(badList.stderr(), /--producer-id-list: '1,a' is not an id list/);
  const version = start(['collector', '-v']);
  assert.equal(await version.exited, 0);
  assert.match(version.stdout(), /^sluice \d+\.\d+\.\d+/);
  const twice = start(['collector', '-ic', 'x:*', '-pid', '1,1']);
  assert.equal(await twice.exited, 2);
  assert.match(twice.stderr(), /same id twice/);
});
