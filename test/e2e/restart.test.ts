// Restarts survived the way EPICS clients survive them: a source that ends or is killed and
// comes back is found again within a second, by the real CLIs, over UDP search on loopback.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { PvaServer } from '../../src/pva/server/server.js';
import { AdSimServer } from '../../src/sim/ad-sim-server.js';
import type { SimClock } from '../../src/sim/publisher.js';
import { collectorArgs, consumerArgs, simArgs, type SimOptions } from '../helpers/cli-args.js';
import { loopbackEnv, startCli, type CliProcess } from '../helpers/cli.js';
import { RECORD_IDS_JS, recordArgs, recordedIds as ids } from '../helpers/record-ids.js';

const TEST_TIMEOUT = 60_000;
/** Resolves once `cond` holds for the ids recorded so far (checked as the consumer reports). */
async function recorded(file: string, consumer: CliProcess, cond: (ids: number[]) => boolean): Promise<number[]> {
  for (;;) {
    const now = ids(file);
    if (cond(now)) return now;
    if (consumer.child.exitCode !== null) throw new Error(`consumer ended: ${consumer.stderr()}`);
    await new Promise((r) => consumer.child.stdout?.once('data', r)); // the next report
  }
}
/**
 * How long a source stays away: long enough for a search back-off (30 ms doubling, up to 5 s)
 * to have grown to seconds, so that finding the source again within a second is not luck.
 */
const AWAY_MS = 5500;

/** A simulator of rs:image, frames nx×4, starting and ending at once; `o` adds or overrides options. */
function sim(t: TestContext, env: NodeJS.ProcessEnv, o: SimOptions): CliProcess {
  return startCli(t, simArgs({ channel: 'rs:image', ny: 4, startDelay: 0, shutdownDelay: 0, ...o }), env);
}

test('sluice monitor prints the disconnect of an ended sim and resumes within 1 s of its restart', { timeout: TEST_TIMEOUT }, async (t) => {
  const env = await loopbackEnv();
  const first = sim(t, env, { nx: 3, fps: 20, runtime: 0.5, waitClients: 1 });
  await first.line(/^serving rs:image on /);
  const mon = startCli(t, ['monitor', '--json', 'rs:image'], env);
  await mon.line(/"size":3,/);
  assert.equal(await first.exited, 0, first.stderr());
  await mon.line(/^\{"name":"rs:image","event":"disconnect"\}$/);
  await delay(AWAY_MS); // the source is away (see AWAY_MS)
  assert.equal(mon.child.exitCode, null, `monitor ended with the source:\n${mon.stdout()}\n${mon.stderr()}`);
  const second = sim(t, env, { nx: 5, fps: 20, runtime: 0 });
  await second.line(/^serving rs:image on /);
  const back = performance.now();
  await mon.line(/"size":5,/);
  const ms = performance.now() - back;
  t.diagnostic(`resumed ${ms.toFixed(0)} ms after the source was back`);
  assert.ok(ms < 1000, `monitor resumed ${ms.toFixed(0)} ms after the source was back`);
  second.kill('SIGINT');
  assert.equal(await second.exited, 0, second.stderr());
  mon.kill('SIGINT');
  assert.equal(await mon.exited, 0, mon.stderr());
});

test('sim --wait-clients gives up when the clients do not come in time, with status 1', { timeout: TEST_TIMEOUT }, async (t) => {
  const env = await loopbackEnv();
  const p = sim(t, env, { nx: 3, fps: 20, runtime: 0.5, waitClients: 4, waitTimeout: 1 });
  await p.line(/^waiting for 4 clients to monitor the channel$/);
  const waited = performance.now();
  assert.equal(await p.exited, 1, p.stderr());
  assert.ok(performance.now() - waited < 5000, 'it did not wait much longer than --wait-timeout');
  assert.match(p.stdout(), /^Server exiting: the clients awaited did not all subscribe in time$/m);
  assert.match(p.stdout(), /^Published frames: +0 @/m);
  assert.match(p.stderr(), /fewer than 4 clients subscribed to rs:image in time/);
});

test('with a runtime, the wait for clients is the runtime, at least 30 s; without one it is unbounded', async () => {
  const waits = async (o: { runtime: number; waitTimeout?: number }): Promise<{ slept: number[]; reason: string }> => {
    const slept: number[] = [];
    // A clock whose sleeps end at once: the time limit of the wait, if any, expires immediately.
    const clock: SimClock = { now: () => 0, sleep: async (ms) => void slept.push(ms), yield: async () => {} };
    const server = new PvaServer({
      host: '127.0.0.1',
      port: 0,
      udpPort: false,
      env: { EPICS_PVAS_AUTO_BEACON_ADDR_LIST: 'NO', EPICS_PVAS_BEACON_ADDR_LIST: '' },
    });
    await server.listen();
    const s = new AdSimServer({
      frame: { nx: 2, ny: 2, datatype: 'uint8' },
      server,
      clock,
      waitClients: 1,
      startDelay: 0,
      shutdownDelay: 0,
      ...o,
    });
    const ac = new AbortController();
    const run = s.run(ac.signal);
    // Without a time limit nothing ends the wait but the signal.
    const early = await Promise.race([run.then(() => 'ended'), new Promise((r) => setImmediate(() => r('waiting')))]);
    if (early === 'waiting') ac.abort();
    const summary = await run;
    await server.close();
    return { slept, reason: summary.reason };
  };
  assert.deepEqual(await waits({ runtime: 0.5 }), { slept: [30_000], reason: 'clients' });
  assert.deepEqual(await waits({ runtime: 45 }), { slept: [45_000], reason: 'clients' });
  assert.deepEqual(await waits({ runtime: 0.5, waitTimeout: 2 }), { slept: [2000], reason: 'clients' });
  assert.deepEqual(await waits({ runtime: 0 }), { slept: [], reason: 'aborted' });
});

test(
  'a consumer counts a killed and restarted source as a new run, and the frames of it that it missed',
  { timeout: TEST_TIMEOUT },
  async (t) => {
    const env = await loopbackEnv();
    const dir = mkdtempSync(join(tmpdir(), 'sluice-restart-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'ids');
    const first = sim(t, env, { nx: 3, fps: 100, runtime: 0, waitClients: 1 });
    await first.line(/^serving rs:image on /);
    const consumer = startCli(
      t,
      consumerArgs(
        {
          input: 'rs:image',
          serverQueueSize: 100,
          skipInitialUpdates: 0,
          reportPeriod: 0.2,
          reportStats: 'processor',
          disableCurses: true,
          runtime: 50,
        },
        ...recordArgs(file, {}, RECORD_IDS_JS),
      ),
      env,
    );
    await recorded(file, consumer, (x) => x.length > 0 && (x.at(-1) as number) >= 150);
    first.kill('SIGKILL');
    // The new run publishes at once: the consumer, still finding it again, misses its first frames.
    const second = sim(t, env, { nx: 3, fps: 100, runtime: 0 });
    const all = await recorded(file, consumer, (x) =>
      x.some((id, i) => i > 0 && id < (x[i - 1] as number) && (x.at(-1) as number) >= id + 50),
    );
    const back = all.findIndex((id, i) => i > 0 && id < (all[i - 1] as number));
    const run1 = all.slice(0, back);
    const firstOfRun2 = all[back] as number;
    assert.deepEqual(
      run1,
      Array.from({ length: run1.length }, (_, i) => i),
      'run 1: the initial 0, then every frame',
    );
    assert.ok(firstOfRun2 > 1, `the consumer got the new run from id ${firstOfRun2}`);
    consumer.kill('SIGINT');
    assert.equal(await consumer.exited, 0, consumer.stderr());
    const final = consumer.stdout().split('consumer 1 final')[1] ?? '';
    const nRuns = Number(/nRuns=(\d+)/.exec(final)?.[1]);
    const nMissed = Number(/nMissed=(\d+)/.exec(final)?.[1]);
    const run2 = ids(file).slice(back);
    const gaps = run2.slice(1).reduce((n, id, i) => n + Math.max(0, id - (run2[i] as number) - 1), 0);
    assert.equal(nRuns, 2, final);
    assert.equal(nMissed, firstOfRun2 - 1 + gaps, `ids 1-${firstOfRun2 - 1} of the new run are missed:\n${final}`);
    assert.match(consumer.stderr(), /consumer 1: input rs:image disconnected \(.*\): searching again/);
    assert.match(consumer.stderr(), /consumer 1: input rs:image connected again/);
    second.kill('SIGINT');
    assert.equal(await second.exited, 0, second.stderr());
  },
);

test(
  'sluice mirror takes its mirror down when the source ends and back up within a second of its return',
  { timeout: TEST_TIMEOUT },
  async (t) => {
    const env = await loopbackEnv();
    // The mirror is the simulator's client; the run lasts while the monitor of the mirror joins.
    const first = sim(t, env, { nx: 3, fps: 20, runtime: 3, waitClients: 1 });
    await first.line(/^serving rs:image on /);
    const mirror = startCli(t, ['mirror', '-cm', '(mr:image,rs:image)', '--port', '0'], env);
    await mirror.line(/^serving /);
    const mon = startCli(t, ['monitor', '--json', 'mr:image'], env);
    await mon.line(/"size":3,/);
    assert.equal(await first.exited, 0, first.stderr());
    await mon.line(/^\{"name":"mr:image","event":"disconnect"\}$/);
    // Everything the source published reached the mirror's client before the mirror went down.
    const last = Math.max(...[...mon.stdout().matchAll(/"uniqueId":(\d+)/g)].map((m) => Number(m[1])));
    assert.equal(last, Number(/^Published frames: +(\d+)/m.exec(first.stdout())?.[1]), first.stdout());
    await delay(AWAY_MS); // the source is away (see AWAY_MS)
    assert.equal(mirror.child.exitCode, null, `mirror ended with its source:\n${mirror.stderr()}`);
    const second = sim(t, env, { nx: 5, fps: 20, runtime: 0 });
    await second.line(/^serving rs:image on /);
    const back = performance.now();
    await mon.line(/"size":5,/);
    const ms = performance.now() - back;
    t.diagnostic(`the mirror's client resumed ${ms.toFixed(0)} ms after the source was back`);
    // Two hops, each finding its server again within a second.
    assert.ok(ms < 2000, `resumed ${ms.toFixed(0)} ms after the source was back`);
    second.kill('SIGINT');
    assert.equal(await second.exited, 0, second.stderr());
    mon.kill('SIGINT');
    assert.equal(await mon.exited, 0, mon.stderr());
    mirror.kill('SIGINT');
    assert.equal(await mirror.exited, 0, mirror.stderr());
  },
);

test('sluice collector finds a killed and restarted producer again and counts its new run', { timeout: TEST_TIMEOUT }, async (t) => {
  const env = await loopbackEnv();
  const producer = { channel: 'rs:img:1', nx: 3, fps: 100, runtime: 0, reportPeriod: 0, waitClients: 1 };
  const first = sim(t, env, producer);
  await first.line(/^serving rs:img:1 on /);
  const collector = startCli(
    t,
    collectorArgs({ id: 1, producers: 1, input: 'rs:img:*', reportPeriod: 0.2, disableCurses: true, runtime: 50 }),
    env,
  );
  await collector.line(/nCollected=[1-9]\d* /);
  first.kill('SIGKILL');
  await first.exited;
  // The new run starts when the collector is back (ids from 1 again, so the run is told apart
  // however long finding it again took).
  const second = sim(t, env, producer);
  await second.line(/^serving rs:img:1 on /);
  await collector.line(/nRuns=2$/m);
  collector.kill('SIGINT');
  assert.equal(await collector.exited, 0, collector.stderr());
  const final = collector.stdout().split('collector 1 final')[1] ?? '';
  assert.match(final, /collectorStats: nCollected=\d+ .* nRuns=2/);
  assert.match(collector.stderr(), /collector 1: input rs:img:1 disconnected \(.*\): searching again/);
  assert.match(collector.stderr(), /collector 1: input rs:img:1 connected again/);
  second.kill('SIGINT');
  assert.equal(await second.exited, 0, second.stderr());
});
