// Restarts survived the way EPICS clients survive them: a source that ends or is killed and
// comes back is found again within a second, by the real CLIs, over UDP search on loopback.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { loopbackEnv, startCli, type CliProcess } from '../helpers/cli.js';

const TEST_TIMEOUT = 60_000;
/**
 * How long a source stays away: long enough for a search back-off (30 ms doubling, up to 5 s)
 * to have grown to seconds, so that finding the source again within a second is not luck.
 */
const AWAY_MS = 5500;

/** A simulator of `nx`×4 frames; `rest` adds or overrides options. */
function sim(t: TestContext, env: NodeJS.ProcessEnv, nx: number, rest: string[]): CliProcess {
  return startCli(t, ['sim', '-cn', 'rs:image', '-nx', String(nx), '-ny', '4', '-std', '0', '-shd', '0', ...rest], env);
}

test('sluice monitor prints the disconnect of an ended sim and resumes within 1 s of its restart', { timeout: TEST_TIMEOUT }, async (t) => {
  const env = await loopbackEnv();
  const first = sim(t, env, 3, ['-fps', '20', '-rt', '0.5', '--wait-clients', '1']);
  await first.line(/^serving rs:image on /);
  const mon = startCli(t, ['monitor', '--json', 'rs:image'], env);
  await mon.line(/"size":3,/);
  assert.equal(await first.exited, 0, first.stderr());
  await mon.line(/^\{"name":"rs:image","event":"disconnect"\}$/);
  await delay(AWAY_MS); // the source is away (see AWAY_MS)
  assert.equal(mon.child.exitCode, null, `monitor ended with the source:\n${mon.stdout()}\n${mon.stderr()}`);
  const second = sim(t, env, 5, ['-fps', '20', '-rt', '0']);
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
