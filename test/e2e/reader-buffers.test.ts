// The real `sluice monitor` as a reader with its own server-side buffer, as pvmonitor would be:
// -r 'record[queueSize=10,policy=ring,fillRate=5]' against our server, and a bad option refused.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { SharedPV } from '../../src/pv/shared-pv.js';
import { t } from '../../src/pvdata/types.js';
import { envFor, start } from '../helpers/cli-session.js';
import { startServer } from '../helpers/net.js';

const TEST_TIMEOUT = 30_000;

async function serve(t0: TestContext) {
  const { server, port } = await startServer();
  t0.after(() => server.close());
  const pv = SharedPV.readonly().open(t.struct({ value: t.int }), { value: 0 });
  server.addPV('RB:x', pv);
  return { server, pv, env: envFor(port) };
}

test("monitor -r 'record[queueSize=10,policy=ring,fillRate=5]' gets every fifth update", { timeout: TEST_TIMEOUT }, async (t0) => {
  const { server, pv, env } = await serve(t0);
  const mon = start(t0, ['monitor', '--json', '--count', '4', '-r', 'record[queueSize=10,policy=ring,fillRate=5]', 'RB:x'], env);
  await mon.line(/"value":0\b/);
  for (let i = 1; i <= 11; i++) pv.post({ value: i }); // kept: 1, 6, 11
  assert.equal(await mon.exited, 0, mon.stderr());
  const values = mon
    .stdout()
    .trim()
    .split('\n')
    .map((l) => (JSON.parse(l) as { value: { value: number } }).value.value);
  assert.deepEqual(values, [0, 1, 6, 11]);
  assert.equal(server.stats.fillSkipped, 8);
});

test('monitor with an unknown policy is told which ones exist', { timeout: TEST_TIMEOUT }, async (t0) => {
  const { env } = await serve(t0);
  const mon = start(t0, ['monitor', '-r', 'record[policy=often]', 'RB:x'], env);
  const code = await mon.exited;
  assert.notEqual(code, 0);
  assert.match(mon.stderr(), /policy=often is not one of ring, clear, skip, wait, raise/);
});
