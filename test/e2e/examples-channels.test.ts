// examples/channels/measurement.ts run as a user runs it, against the real `sluice server`
// (spawned): the lossless recorder gets every block, the ring-buffer analyser some, the display
// every 50th (and the last).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { envFor, start } from '../helpers/cli-session.js';

const run = promisify(execFile);

test('measurement: one writer, a lossless recorder, a ring-buffer analyser and a low-rate display', { timeout: 60_000 }, async (t) => {
  const server = start(t, ['server', '--port', '0', '--host', '127.0.0.1'], envFor());
  const [, address] = await server.line(/^listening on (\S+)$/);
  const file = fileURLToPath(new URL('../../examples/channels/measurement.js', import.meta.url));
  const { stdout } = await run(process.execPath, [file, '--server', address as string, '--blocks', '200', '--samples', '500'], {
    timeout: 50_000,
  });
  assert.match(stdout, /^daq: wrote 200 blocks of 500 samples in [\d.]+ s$/m);
  assert.match(stdout, /^recorder: 200 blocks, 100000 samples, 0 missing$/m);
  const analysed = /^analyser: (\d+) blocks analysed, (\d+) skipped \(ring of 20\)/m.exec(stdout);
  assert.ok(analysed, stdout);
  const [a, skipped] = [Number(analysed[1]), Number(analysed[2])];
  assert.ok(a >= 1 && a + skipped === 200, stdout);
  // Blocks 1, 51, 101, 151 by the fill rate, and the writer's last one (200) with its end mark.
  const shown = [...stdout.matchAll(/^display: block (\d+) at daq#\d+$/gm)].map((m) => Number(m[1]));
  assert.deepEqual(shown, [1, 51, 101, 151, 200], stdout);
  assert.match(stdout, /^display: 5 updates \(fill rate 50\)$/m);
  server.kill('SIGINT');
  assert.equal(await server.exited, 0);
});
