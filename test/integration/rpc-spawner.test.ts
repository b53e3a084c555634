// ProcessSpawner: a child process with an RPC server; import a module there, its output as log
// lines, stop / kill / exit codes, startup failure, and the clock difference.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ProcessSpawner, measureClockDiff } from '../../src/rpc/index.js';

const FIXTURE = new URL('../fixtures/rpc/child-module.js', import.meta.url).href;

test('start, import a module, forward its output, stop politely', async () => {
  const lines: string[] = [];
  let heard: () => void = () => {};
  const both = new Promise<void>((r) => (heard = r));
  const child = await ProcessSpawner.start({
    name: 'worker1',
    log: (line) => {
      lines.push(line);
      if (lines.length === 2) heard();
    },
  });
  const mod = await child.import(FIXTURE);
  assert.equal(await mod.add(2, 3), 5);
  assert.equal(await mod.pid(), child.child.pid);
  await mod.say('hello');
  await both;
  assert.deepEqual(lines.sort(), ['[worker1] err: hello', '[worker1] hello']);
  await assert.rejects(mod.add(1), /add\(a, b\) needs at least 2 argument/);
  assert.equal(await child.stop(), 0);
  assert.equal(child.exitCode, 0);
});

test('kill and wait; a child that exited fails calls with a clear error', async () => {
  const child = await ProcessSpawner.start({ name: 'victim', log: () => {} });
  const mod = await child.import(FIXTURE);
  await mod.exit(3);
  assert.equal(await child.wait(), 3);
  await assert.rejects(mod.add(1, 2), { code: 'ERR_CONNECTION_CLOSED', message: /add\(\)/ });
  const other = await ProcessSpawner.start({ name: 'killed', log: () => {} });
  other.kill();
  assert.equal(await other.wait(), null);
});

test('a child that cannot start reports why', async () => {
  await assert.rejects(
    ProcessSpawner.start({ name: 'broken', log: () => {}, execArgv: ['--no-such-node-flag'] }),
    /broken.*exited \(code 9\) before reporting its RPC address/s,
  );
  await assert.rejects(
    ProcessSpawner.start({ name: 'badhost', host: '203.0.113.1', log: () => {} }),
    /badhost' could not start its RPC server: .*EADDRNOTAVAIL/s,
  );
});

test('measureClockDiff: the same host clock differs by well under a millisecond', async () => {
  const child = await ProcessSpawner.start({ name: 'clock', log: () => {} });
  try {
    const diff = await measureClockDiff(child.client);
    assert.ok(Math.abs(diff) < 5, `diff ${diff} ms`);
  } finally {
    await child.stop();
  }
});
