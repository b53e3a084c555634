// `sluice mirror` spawned as a user runs it, in front of `sluice sim`, serving `sluice consumer`
// processes that share the frames with the mirror's distributor. Processes find one another by
// UDP search on loopback (a free port, not 5076). Every wait is for an event: a printed line,
// a status PV update, a process end.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { PvaClient } from '../../src/pva/client/client.js';
import { loopbackEnv, startCli, type CliProcess } from '../helpers/cli.js';
import { RECORD_IDS_JS, recordArgs, recordedIds as ids } from '../helpers/record-ids.js';

const TEST_TIMEOUT = 60_000;
// The compiled fixture (next to this file's compiled form): no TypeScript to load in four processes.
const FRAMES = 100;

async function setup(t: TestContext): Promise<{ start: (args: string[]) => CliProcess; client: PvaClient; dir: string }> {
  const env = await loopbackEnv();
  const dir = mkdtempSync(join(tmpdir(), 'sluice-mirror-'));
  const client = new PvaClient({ env, timeoutMs: 10_000, beaconPort: false });
  t.after(() => {
    client.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { start: (args) => startCli(t, args, env, 15_000), client, dir };
}

/**
 * Resolves once the periodic report of `sluice consumer -nc N` shows every consumer with the
 * mirror's current value (nReceived >= 1): all of them are subscribed.
 */
function allSubscribed(p: CliProcess, n: number, ms = 15_000): Promise<void> {
  const re = /^consumer (\d+) \(input mirror:image\)\n {2}receiverStats: nReceived=[1-9]/gm;
  return new Promise((resolve, reject) => {
    const stdout = p.child.stdout as NodeJS.ReadableStream;
    const check = (): void => {
      if (new Set([...p.stdout().matchAll(re)].map((m) => m[1])).size < n) return;
      done();
      resolve();
    };
    const timer = setTimeout(() => (done(), reject(new Error(`not all ${n} consumers subscribed within ${ms} ms:\n${p.stdout()}`))), ms);
    const done = (): void => {
      clearTimeout(timer);
      stdout.off('data', check);
    };
    stdout.on('data', check);
    check();
  });
}

/**
 * sim → mirror (with `channelMap`) → 4 consumers sharing the mirror's frames (updates:1). The
 * simulator waits for the mirror's source monitors and for this test's own monitor, which it
 * opens only once every consumer reports the mirror's current value: no frame goes out before
 * all four are there.
 */
async function mirrorServesFourConsumers(t: TestContext, channelMap: string, sourceMonitors: number): Promise<void> {
  const { start, client, dir } = await setup(t);
  const sim = start([
    'sim',
    '-cn',
    'sim:image',
    '-nx',
    '32',
    '-ny',
    '32',
    '-fps',
    String(2 * FRAMES),
    '-rt',
    '0.5',
    '-std',
    '0',
    '-shd',
    '1',
    '--wait-clients',
    String(sourceMonitors + 1),
  ]);
  await sim.line(/^serving sim:image on /);
  const mirror = start(['mirror', '-cm', channelMap]);
  await mirror.line(/^Mirror channel mirror:image is up$/);
  const consumers = start([
    'consumer',
    '-ic',
    'mirror:image',
    '-nc',
    '4',
    '--distributor-updates',
    '1',
    '--distributor-trigger',
    'uniqueId',
    '-sqs',
    '100',
    '-rp',
    '0.2',
    '-rs',
    'receiver',
    '-dc',
    ...recordArgs(join(dir, 'c-{id}'), {}, RECORD_IDS_JS),
  ]);
  await allSubscribed(consumers, 4);

  const gate = client.monitor('sim:image', { queueSize: 100, pipeline: true });
  void (async () => {
    for await (const _ of gate); // keep taking frames, so the simulator is never held back
  })();
  assert.equal(await sim.exited, 0, sim.stderr());
  assert.match(sim.stdout(), new RegExp(`^Published frames: +${FRAMES} @`, 'm'));
  // The simulator closes its channel 1 s after the last frame: the mirror goes, the consumers had time to take everything.
  await mirror.line(/^Mirror channel mirror:image is down: source sim:image (closed|disconnected)$/);
  gate.close();

  consumers.kill('SIGINT');
  assert.equal(await consumers.exited, 0, consumers.stderr());
  mirror.kill('SIGINT');
  assert.equal(await mirror.exited, 0, mirror.stderr());

  const perConsumer = [1, 2, 3, 4].map((id) => ids(join(dir, `c-${id}`)));
  const all = perConsumer.flat().sort((a, b) => a - b);
  assert.deepEqual(
    all,
    Array.from({ length: FRAMES }, (_, i) => i + 1),
    'every frame exactly once, over the four consumers',
  );
  for (const got of perConsumer) assert.ok(got.length >= FRAMES / 4 - 1 && got.length <= FRAMES / 4 + 1, `a fair share: ${got.length}`);
  // Each consumer also received the mirror's value when it subscribed.
  assert.match(consumers.stdout(), new RegExp(`^Combined System Stats.*\\n {2}receiverStats: nReceived=${FRAMES + 4} .*nOverruns=0 `, 'm'));
  // The initial value and every frame, once, whatever the number of source monitors.
  const final = /^Keyboard interrupt received, exiting\.\n\nFinal Channel Statistics:\nChannel mirror:image @ [\d.]+: (.*)$/m.exec(
    mirror.stdout(),
  );
  assert.equal(final?.[1], `{'nReceived': ${FRAMES + 1}, 'nOverruns': 0}`, mirror.stdout());
  assert.equal(mirror.stderr(), '');
}

test('a mirror in front of a source serves four consumers', { timeout: TEST_TIMEOUT }, async (t) => {
  await mirrorServesFourConsumers(t, '(mirror:image,sim:image,pva,100)', 1);
});

test('four source monitors with a distributor request feed the mirror; four consumers share it', { timeout: TEST_TIMEOUT }, async (t) => {
  await mirrorServesFourConsumers(t, '(mirror:image,sim:image,pva,100,4,_[pydistributor=updates:1;group:mirror;trigger:uniqueId])', 4);
});

test('usage errors: the channel map is checked as PvaPy checks it', { timeout: TEST_TIMEOUT }, async (t) => {
  const { start } = await setup(t);
  const cases: [string[], RegExp][] = [
    [['mirror'], /^sluice mirror: Channel map is not specified$/m],
    [['mirror', '-cm', '(a,b,pva,0,1,x,y)'], /Invalid channel map entry: a,b,pva,0,1,x,y$/m],
    [['mirror', '-cm', '(a,b,tcp)'], /Invalid source provider type specified for entry: a,b,tcp$/m],
    [['mirror', '-cm', '(a,b,pva,-1)'], /Invalid source queue size specified for entry: a,b,pva,-1 \(allowed: 0 to 1000000\)$/m],
    [
      ['mirror', '-cm', '(a,b,pva,1000000000)'],
      /Invalid source queue size specified for entry: a,b,pva,1000000000 \(allowed: 0 to 1000000\)$/m,
    ],
    [['mirror', '-cm', '(a,b,pva,1,0)'], /Invalid number of source monitors specified for entry: a,b,pva,1,0 \(allowed: 1 to 256\)$/m],
    [
      ['mirror', '-cm', '(a,b,pva,1,100000)'],
      /Invalid number of source monitors specified for entry: a,b,pva,1,100000 \(allowed: 1 to 256\)$/m,
    ],
    [['mirror', '-cm', '(a,b)', '-rt', 'soon'], /--runtime must be a number up to 2147483 \(<= 0: until Ctrl-C\), not 'soon'/],
  ];
  for (const [args, message] of cases) {
    const p = start(args);
    assert.equal(await p.exited, 2, `sluice ${args.join(' ')}: ${p.stderr()}`);
    assert.match(p.stderr(), message);
  }
});
