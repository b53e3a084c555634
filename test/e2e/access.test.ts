// Access rules end to end: a spawned `sluice consumer --access-file` whose control PV (ASG
// CONTROL) refuses `stop` from a user outside the rule, logs the refusal with the peer, takes
// new rules on SIGHUP, then stops when allowed; a bad file is a usage error naming file:line.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { RemoteError } from '../../src/errors.js';
import { PvaClient } from '../../src/pva/client/client.js';
import { loopbackEnv, startCli } from '../helpers/cli.js';

const rules = (ops: string) => `
UAG(ops) {${ops}}
ASG(DEFAULT) { RULE(1, READ) }
ASG(CONTROL) {
  RULE(1, READ)
  RULE(1, WRITE) { UAG(ops) }
}
`;

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-access-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test("the consumer's control PV refuses stop outside ASG CONTROL's rule; SIGHUP reloads the rules", async (t) => {
  const env = await loopbackEnv();
  const file = join(tempDir(t), 'rules.acf');
  writeFileSync(file, rules('alice'));
  const consumer = startCli(
    t,
    [
      'consumer',
      '-ic',
      'access:nothing',
      '-cc',
      'consumer:*:control',
      '-sc',
      'consumer:*:status',
      '-rp',
      '0',
      '-dc',
      '--access-file',
      file,
    ],
    env,
  );
  const as = (user: string) => {
    const c = new PvaClient({ env, timeoutMs: 10_000, beaconPort: false, identity: { user, host: 'ws9' } });
    t.after(() => c.close());
    return c;
  };
  const eve = as('eve');
  await assert.rejects(
    eve.put('consumer:1:control', { command: 'stop' }),
    (err: unknown) =>
      err instanceof RemoteError && /access denied: eve@ws9 may not put to consumer:1:control \(ASG CONTROL\)$/.test(err.message),
  );
  assert.equal((await eve.get('consumer:1:status')).value['consumerId'] ?? 1, 1, 'still serving');
  assert.equal(consumer.child.exitCode, null, 'still running');
  assert.match(
    consumer.stderr(),
    /access denied: eve@ws9 may not put to consumer:1:control \(ASG CONTROL\) \[pvAccess peer 127\.0\.0\.1:\d+\]/,
  );
  // New rules: eve joins ops.
  writeFileSync(file, rules('alice, eve'));
  consumer.kill('SIGHUP');
  await consumer.line(/^access rules reloaded from /);
  await eve.put('consumer:1:control', { command: 'stop' });
  assert.equal(await consumer.exited, 0, consumer.stderr());
});

test('a bad access file is a usage error naming file:line; a bad reload keeps the rules in force', async (t) => {
  const env = await loopbackEnv();
  const dir = tempDir(t);
  const bad = join(dir, 'bad.acf');
  writeFileSync(bad, 'ASG(DEFAULT) {\n  RULE(1, READ) { CALC("A") }\n}\n');
  const refused = startCli(t, ['mailbox', '--port', '0', '--access-file', bad, 'X'], env);
  assert.equal(await refused.exited, 2);
  assert.match(refused.stderr(), /bad\.acf:2: CALC conditions need INP links to PVs/);
  // SLUICE_ACCESS_FILE works as the option does; a reload of a broken file keeps the old rules.
  const good = join(dir, 'good.acf');
  writeFileSync(good, 'ASG(DEFAULT) { RULE(1, READ) }\n');
  const box = startCli(t, ['mailbox', '--port', '0', 'X=1'], { ...env, SLUICE_ACCESS_FILE: good });
  await box.line(/^serving X/);
  const client = new PvaClient({ env, timeoutMs: 10_000, beaconPort: false });
  t.after(() => client.close());
  await assert.rejects(client.put('X', { value: 2 }), /access denied: .* may not put to X \(ASG DEFAULT\)/);
  writeFileSync(good, 'ASG(DEFAULT) { RULE(1, WRITE) \n');
  box.kill('SIGHUP');
  await new Promise<void>((resolve) => {
    // The helper's own listener ran first, so stderr() already holds each chunk.
    const check = (): void => {
      if (!/access rules not reloaded/.test(box.stderr())) return;
      box.child.stderr?.off('data', check);
      resolve();
    };
    box.child.stderr?.on('data', check);
  });
  assert.match(box.stderr(), /access rules not reloaded \(the previous ones stay\): .*good\.acf:1: unexpected end of file, expected RULE/);
  await assert.rejects(client.put('X', { value: 2 }), /access denied/);
  box.kill('SIGTERM');
  assert.equal(await box.exited, 0);
});
