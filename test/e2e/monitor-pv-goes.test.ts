// The real `sluice monitor` of a PV whose server lets it go: a closed PV ends the monitor after its
// last value (stderr says the server ended it, exit 0, as pvmonitor and pvxmonitor end on a
// finished subscription); a PV removed from the server prints "<Disconnect>" and the monitor keeps
// waiting, resuming when the PV is served again (as pvmonitor prints <Disconnect> and pvxmonitor
// "Disconnected" on a server's DESTROY_CHANNEL).
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { SharedPV } from '../../src/pv/shared-pv.js';
import { t } from '../../src/pvdata/types.js';
import { envFor, start } from '../helpers/cli-session.js';
import { startServer } from '../helpers/net.js';

const TEST_TIMEOUT = 30_000;
const counterT = t.struct({ value: t.int });
/** stdout's lines without trailing blanks (a plain structure's value prints with one). */
const lines = (out: string): string[] =>
  out
    .trim()
    .split('\n')
    .map((l) => l.trimEnd());

async function serve(t0: TestContext, name: string) {
  const { server, port } = await startServer();
  t0.after(() => server.close());
  const pv = SharedPV.readonly().open(counterT, { value: 1 });
  server.addPV(name, pv);
  return { server, pv, env: envFor(port) };
}

test('monitor of a PV its server closes prints the last value and ends (exit 0)', { timeout: TEST_TIMEOUT }, async (t0) => {
  const { pv, env } = await serve(t0, 'GONE:closed');
  const mon = start(t0, ['monitor', 'GONE:closed'], env);
  await mon.line(/^GONE:closed +1 *$/);
  pv.post({ value: 2 });
  pv.post({ value: 3 });
  pv.close();
  assert.equal(await mon.exited, 0, mon.stderr());
  assert.deepEqual(lines(mon.stdout()), ['GONE:closed 1', 'GONE:closed 2', 'GONE:closed 3']);
  assert.match(mon.stderr(), /^GONE:closed: the server ended the subscription$/m);
});

test(
  'monitor of a PV removed from its server prints <Disconnect>, keeps waiting and resumes when it is back',
  { timeout: TEST_TIMEOUT },
  async (t0) => {
    const { server, pv, env } = await serve(t0, 'GONE:removed');
    const mon = start(t0, ['monitor', 'GONE:removed'], env);
    await mon.line(/^GONE:removed +1 *$/);
    pv.post({ value: 2 });
    server.removePV('GONE:removed');
    await mon.line(/^GONE:removed +<Disconnect> *$/);
    assert.equal(mon.child.exitCode, null, 'still waiting for the PV');
    server.addPV('GONE:removed', SharedPV.readonly().open(counterT, { value: 10 }));
    await mon.line(/^GONE:removed +10 *$/);
    assert.deepEqual(lines(mon.stdout()), ['GONE:removed 1', 'GONE:removed 2', 'GONE:removed <Disconnect>', 'GONE:removed 10']);
    mon.kill('SIGINT');
    assert.equal(await mon.exited, 0, mon.stderr());
    assert.doesNotMatch(mon.stderr(), /ended the subscription/);
  },
);
