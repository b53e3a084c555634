// A consumer around user code that never finishes, forgets its promises or publishes the wrong
// type: it counts, reports and stops as told (time-out, Ctrl-C), and never dies without a report.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loopbackEnv, startCli, type CliProcess } from '../helpers/cli.js';

const FIXTURE = fileURLToPath(new URL('../../../test/fixtures/consumer/misbehaving.ts', import.meta.url));
const TIMEOUT = 90_000;

async function setup(t: TestContext): Promise<(args: string[]) => CliProcess> {
  const env = await loopbackEnv();
  return (args) => startCli(t, args, env, 30_000);
}

const sim = (channel: string, seconds: number): string[] => [
  'sim',
  '-cn',
  channel,
  '-nx',
  '16',
  '-ny',
  '16',
  '-fps',
  '20',
  '-rt',
  String(seconds),
  '-std',
  '0.3',
  '--wait-clients',
  '1',
  '-shd',
  '0.5',
];

test('a process() that never settles: --processing-timeout reports, counts an error and exits 1', { timeout: TIMEOUT }, async (t) => {
  const start = await setup(t);
  const c = start(['consumer', '-ic', 'img', '-pf', FIXTURE, '-pc', 'NeverResolves', '--processing-timeout', '1', '-rqs', '10', '-dc']);
  const s = start(sim('img', 10));
  await c.line(/^stuck at 3$/);
  assert.equal(await c.exited, 1, c.stderr());
  assert.match(c.stderr(), /consumer 1: warning: process\(\) of object 3 did not finish within the processing time-out of 1 s: stopping/);
  assert.match(c.stdout(), /consumer 1 final[\s\S]*processorStats: .*nProcessed=2 .*nErrors=1 /);
  const missed = /processorStats: .*nMissed=(\d+) /.exec(c.stdout());
  assert.ok(missed && Number(missed[1]) > 0, `objects received and never processed count as missed:\n${c.stdout()}`);
  s.kill('SIGINT');
  await s.exited;
});

test('a process() that never settles and no time-out: SIGINT still gives the final report and exits', { timeout: TIMEOUT }, async (t) => {
  const start = await setup(t);
  const c = start(['consumer', '-ic', 'img', '-pf', FIXTURE, '-pc', 'NeverResolves', '-dc']);
  const s = start(sim('img', 10));
  await c.line(/^stuck at 3$/);
  c.kill('SIGINT');
  assert.equal(await c.exited, 0, c.stderr());
  assert.match(c.stdout(), /consumer 1 final[\s\S]*processorStats: .*nProcessed=2 /);
  assert.match(c.stderr(), /processor stop\(\) did not finish within 5 s; not waiting for it/);
  s.kill('SIGINT');
  await s.exited;
});

test(
  'promises rejected with no handler in processor code are counted as processor errors; the consumer goes on',
  { timeout: TIMEOUT },
  async (t) => {
    const start = await setup(t);
    const c = start(['consumer', '-ic', 'img', '-pf', FIXTURE, '-pc', 'FloatingRejection', '-ll', 'error', '-dc']);
    const s = start(sim('img', 0.5));
    await c.line(/^rejected 3$/);
    assert.equal(await s.exited, 0, s.stderr());
    c.kill('SIGINT');
    assert.equal(await c.exited, 0, c.stderr());
    assert.match(c.stdout(), /consumer 1 final[\s\S]*processorStats: .*nProcessed=10 .*nErrors=10 /);
    assert.match(c.stderr(), /unhandled promise rejection in processor code \(1 errors so far\): forgotten promise 1/);
    assert.doesNotMatch(c.stderr(), /at .*misbehaving\.ts/, 'no stack trace');
  },
);

test('output of the wrong type is a publisher error, said once, not a publication', { timeout: TIMEOUT }, async (t) => {
  const start = await setup(t);
  const c = start(['consumer', '-ic', 'img', '-oc', 'out', '-pf', FIXTURE, '-pc', 'WrongOutput', '-dc']);
  const s = start(sim('img', 0.5));
  assert.equal(await s.exited, 0, s.stderr());
  c.kill('SIGINT');
  assert.equal(await c.exited, 0, c.stderr());
  assert.match(c.stdout(), /consumer 1 final[\s\S]*publisherStats: nPublished=0 publishedRate=0 nErrors=10 /);
  const said = c.stderr().match(/does not match the output type/g) ?? [];
  assert.equal(said.length, 1, c.stderr());
  assert.match(
    c.stderr(),
    /output out: object does not match the output type epics:nt\/NTNDArray:1.0: field 'value' is a number where the type has union \(give \{field, value\}\)/,
  );
});
