// Pipeline stages chained by real OS pipes (bash), as users chain them: sim → cat → filter →
// to-json; a recorded file → head → publish, read back by a pvAccess monitor; wrong, truncated
// and cut-off streams.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { PvaClient } from '../../src/pva/client/client.js';
import { CLI, loopbackEnv, startCli } from '../helpers/cli.js';

const S = `"${process.execPath}" "${CLI}"`;

/** Run a bash pipeline; resolves with its output and the exit status of every stage. */
function bash(script: string, env: NodeJS.ProcessEnv): Promise<{ stdout: Buffer; stderr: string; status: number[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', `${script}; echo "status \${PIPESTATUS[*]}" >&2`], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', reject);
    child.on('close', () => {
      const m = /status ([\d ]+)\n$/.exec(err);
      resolve({
        stdout: Buffer.concat(out),
        stderr: err.replace(/status [\d ]+\n$/, ''),
        status: m ? (m[1] as string).split(' ').map(Number) : [],
      });
    });
  });
}

test('pipeline: sim → cat → filter → to-json, and a recording → head → publish read by a monitor', async (t) => {
  const env = await loopbackEnv();
  const dir = mkdtempSync(join(tmpdir(), 'sluice-pipeline-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const sim = startCli(
    t,
    [
      'sim',
      '-cn',
      'pipe:image',
      '-nx',
      '16',
      '-ny',
      '8',
      '-fps',
      '200',
      '-rt',
      '0.15',
      '-std',
      '0',
      '-shd',
      '0',
      '--wait-clients',
      '1',
      '-dc',
    ],
    env,
  );
  const file = join(dir, 'frames.sls');
  const rec = await bash(`${S} cat -n 30 pipe:image | tee "${file}" | ${S} filter --every 3 -f uniqueId | ${S} to-json`, env);
  assert.deepEqual(rec.status, [0, 0, 0, 0], rec.stderr);
  assert.equal(await sim.exited, 0, sim.stderr());
  const ids = rec.stdout
    .toString()
    .trim()
    .split('\n')
    .map((l) => (JSON.parse(l) as { uniqueId: number }).uniqueId);
  assert.equal(ids.length, 10);
  for (let i = 1; i < ids.length; i++) assert.equal((ids[i] as number) - (ids[i - 1] as number), 3, `ids ${ids.join(',')}`);

  // The recording, cut to 5 values, served as a PV; a monitor subscribed first gets all 5.
  const client = new PvaClient({ env, timeoutMs: 10_000, beaconPort: false });
  t.after(() => client.close());
  const pub = startCli(t, ['publish', '--input', file, '--wait-clients', '1', 'pipe:copy'], env);
  const sub = client.monitor('pipe:copy', { queueSize: 100, pipeline: true });
  const got: number[] = [];
  for await (const u of sub) {
    got.push(u.value['uniqueId'] as number);
    if (got.length === 30) break;
  }
  const all = (await bash(`${S} to-json "${file}"`, env)).stdout
    .toString()
    .trim()
    .split('\n')
    .map((l) => (JSON.parse(l) as { uniqueId: number }).uniqueId);
  assert.deepEqual(got, all, 'the monitor got every recorded frame, in order');
  await pub.line(/ended after 30 values/);
  pub.kill('SIGINT');
  assert.equal(await pub.exited, 0, pub.stderr());

  const head = await bash(`${S} head -n 5 "${file}" | ${S} to-json --marks`, env);
  assert.deepEqual(head.status, [0, 0], head.stderr);
  const lines = head.stdout.toString().trim().split('\n');
  assert.equal(lines.length, 5);
  assert.deepEqual((JSON.parse(lines[0] as string) as { overrun: string[] }).overrun, []);
  assert.ok(
    readFileSync(file)
      .subarray(0, 4)
      .equals(Buffer.from([0x89, 0x53, 0x4c, 0x53])),
  );
});

test('pipeline: a wrong, a truncated and a cut-off stream', async (t) => {
  const env = await loopbackEnv();
  const dir = mkdtempSync(join(tmpdir(), 'sluice-pipeline-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const text = await bash(`echo '{"a":1}' | ${S} to-json`, env);
  assert.deepEqual(text.status, [0, 1]);
  assert.match(text.stderr, /^sluice to-json: stdin: not a Sluice stream .*looks like text/);
  assert.equal(text.stderr.trim().split('\n').length, 1, 'one line');

  const pv = startCli(t, ['mailbox', '--port', '0', 'pipe:n:int=1'], env);
  await pv.line(/serving pipe:n/);
  const file = join(dir, 'one.sls');
  const one = await bash(`${S} cat -n 1 pipe:n > "${file}" && ${S} to-json "${file}"`, env);
  assert.equal(one.stdout.toString().trim(), JSON.stringify(JSON.parse(one.stdout.toString())), one.stderr);
  const cut = await bash(`head -c 40 "${file}" | ${S} head`, env);
  assert.deepEqual(cut.status, [0, 1]);
  assert.match(cut.stderr, /sluice head: stdin: truncated/);

  pv.kill('SIGINT');
  await pv.exited;

  // A reader that goes away: cat ends quietly with status 0.
  const sim = startCli(
    t,
    [
      'sim',
      '-cn',
      'pipe:fast',
      '-nx',
      '8',
      '-ny',
      '8',
      '-fps',
      '1000',
      '-rt',
      '30',
      '-std',
      '0',
      '-shd',
      '0',
      '--wait-clients',
      '1',
      '-dc',
    ],
    env,
  );
  const gone = await bash(`${S} cat pipe:fast | head -c 10 > /dev/null`, env);
  assert.deepEqual(gone.status, [0, 0], gone.stderr);
  assert.equal(gone.stderr, '');
  sim.kill('SIGINT');
  await sim.exited;
});
