// ProcessSpawner: a child process with an RPC server; import a module there, its output as log
// records (levels, the child's clock, formats, an uncaught exception), stop / kill / exit codes,
// startup failure, and the clock difference.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { performance } from 'node:perf_hooks';
import { ProcessSpawner, measureClockDiff, type LogRecord } from '../../src/rpc/index.js';

const FIXTURE = new URL('../fixtures/rpc/child-module.js', import.meta.url).href;

/** Collects a child's log records; `until(n)` resolves once n have come. */
function recorder() {
  const records: LogRecord[] = [];
  const waiters: [number, () => void][] = [];
  return {
    records,
    onLog(r: LogRecord) {
      records.push(r);
      for (const w of waiters.filter(([n]) => records.length >= n)) {
        waiters.splice(waiters.indexOf(w), 1);
        w[1]();
      }
    },
    until(n: number): Promise<void> {
      return records.length >= n ? Promise.resolve() : new Promise((r) => waiters.push([n, r]));
    },
  };
}

test('start, import a module, its output as records with the child clock, stop politely', async () => {
  const rec = recorder();
  const child = await ProcessSpawner.start({ name: 'worker1', onLog: (r) => rec.onLog(r) });
  const mod = await child.import(FIXTURE);
  assert.equal(await mod.add(2, 3), 5);
  assert.equal(await mod.pid(), child.child.pid);
  const offset = await measureClockDiff(child.client);
  const t0 = performance.timeOrigin + performance.now();
  await mod.say('hello');
  const t1 = performance.timeOrigin + performance.now();
  await rec.until(2);
  const [out, err] = [rec.records.find((r) => r.stream === 'stdout'), rec.records.find((r) => r.stream === 'stderr')];
  assert.deepEqual(
    { ...out, time: 0 },
    { level: 'info', message: 'hello', time: 0, pid: child.child.pid, name: 'worker1', stream: 'stdout', via: 'child' },
  );
  assert.equal(err?.message, 'err: hello');
  assert.equal(err?.level, 'error');
  // Stamped in the child while the call ran (its clock, corrected by the measured offset).
  for (const r of [out, err]) assert.ok(r && r.time - offset >= t0 - 1 && r.time - offset <= t1 + 1, `${r?.time} in [${t0}, ${t1}]`);
  await mod.logLevels();
  await rec.until(8);
  assert.deepEqual(
    rec.records.slice(2).map((r) => `${r.level} ${r.stream} ${r.message}`),
    ['debug stdout d', 'info stdout i', 'warn stderr w', 'info stdout raw out', 'error stderr raw err', 'error stderr second half'],
  );
  await assert.rejects(mod.add(1), /add\(a, b\) needs at least 2 argument/);
  assert.equal(await child.stop(), 0);
  assert.equal(child.exitCode, 0);
});

test('by default records are printed with ISO times and the name; logFormat and log take them', async () => {
  const lines: string[] = [];
  let heard: () => void = () => {};
  const both = new Promise<void>((r) => (heard = r));
  const child = await ProcessSpawner.start({
    name: 'worker2',
    log: (line, record) => {
      lines.push(line);
      assert.equal(record.name, 'worker2');
      if (lines.length === 2) heard();
    },
  });
  const mod = await child.import(FIXTURE);
  await mod.say('hi');
  await both;
  const pid = child.child.pid;
  const iso = '\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z';
  assert.match(lines.find((l) => l.endsWith('hi')) ?? '', new RegExp(`^${iso} worker2\\[${pid}\\] info: hi$`));
  assert.match(lines.find((l) => l.endsWith('err: hi')) ?? '', new RegExp(`^${iso} worker2\\[${pid}\\] error: err: hi$`));
  assert.equal(await child.stop(), 0);
  const formatted: string[] = [];
  const other = await ProcessSpawner.start({
    name: 'fmt',
    logFormat: (r) => `<${r.level}> ${r.message}`,
    log: (line) => formatted.push(line),
  });
  const m2 = await other.import(FIXTURE);
  await m2.say('x');
  await other.stop();
  assert.deepEqual(formatted.sort(), ['<error> err: x', '<info> x'], 'every record came before the exit');
});

test("a child's uncaught exception reaches the parent as error records, and the child ends", async () => {
  const rec = recorder();
  const child = await ProcessSpawner.start({ name: 'crasher', onLog: (r) => rec.onLog(r) });
  const mod = await child.import(FIXTURE);
  await mod.crash('wires crossed');
  assert.equal(await child.wait(), 1);
  const text = rec.records
    .filter((r) => r.level === 'error')
    .map((r) => r.message)
    .join('\n');
  assert.match(text, /Error: wires crossed/);
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
  await assert.rejects(ProcessSpawner.start({ name: 'nonode', log: () => {}, execPath: '/nonexistent/node' }), {
    code: 'ERR_REMOTE',
    message: /nonode' could not be started: .*ENOENT/,
  });
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
