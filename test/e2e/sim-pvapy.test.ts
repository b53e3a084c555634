// `sluice sim` behaves as pvapy-ad-sim-server where a PvaPy user would notice: its defaults
// (300 s, 10 s start and shutdown delays, a progress line per frame) and the notify PV, put over
// Channel Access at start-up, before the start delay.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CaServer } from '../../src/ca/server.js';
import { SharedPV } from '../../src/pv/shared-pv.js';
import { ntscalar } from '../../src/pvdata/nt/index.js';
import { freeUdpPort, loopbackEnv, startCli } from '../helpers/cli.js';

test("sim's defaults are PvaPy's: 300 s runtime, 10 s delays, a report every frame", { timeout: 30_000 }, async (t) => {
  const p = startCli(t, ['sim', '--port', '0', '--host', '127.0.0.1', '--json'], await loopbackEnv());
  const m = await p.line(/^\{"event":"schedule".*\}$/);
  const schedule = JSON.parse(m[0]) as Record<string, unknown>;
  assert.deepEqual(
    {
      fps: schedule['fps'],
      runtime: schedule['runtime'],
      startDelay: schedule['startDelay'],
      shutdownDelay: schedule['shutdownDelay'],
      reportPeriod: schedule['reportPeriod'],
    },
    { fps: 20, runtime: 300, startDelay: 10, shutdownDelay: 10, reportPeriod: 1 },
  );
  p.kill('SIGINT');
  assert.equal(await p.exited, 0, p.stderr());
});

test('the notify PV (a bare name: Channel Access) is put at start-up, before the start delay', { timeout: 30_000 }, async (t) => {
  let resolvePut: (v: number) => void = () => {};
  const put = new Promise<number>((resolve) => (resolvePut = resolve));
  const acquire = new SharedPV({
    onPut: (pv, req) => {
      pv.postChanges(req.value, req.changed);
      resolvePut(req.value['value'] as number);
    },
  }).open(ntscalar.type('int'), { value: 0 });
  const ca = new CaServer({ host: '127.0.0.1', tcpPort: 0, udpPort: 0 });
  await ca.listen();
  ca.addPV('det:cam1:Acquire', acquire);
  t.after(() => ca.close());
  const env = {
    ...(await loopbackEnv()),
    EPICS_CA_AUTO_ADDR_LIST: 'NO',
    EPICS_CA_SERVER_PORT: String(await freeUdpPort()),
    EPICS_CA_ADDR_LIST: `127.0.0.1:${ca.udpPort}`,
  };
  // A start delay far longer than the test: the put must come before it.
  const p = startCli(t, ['sim', '-std', '600', '-npv', 'det:cam1:Acquire', '-nvl', '1'], env);
  assert.equal(await put, 1);
  await p.line(/^Set notification PV det:cam1:Acquire to 1$/);
  assert.doesNotMatch(p.stdout(), /^publishing$/m, 'still in the start delay');
  p.kill('SIGINT');
  assert.equal(await p.exited, 0, p.stderr());
});
