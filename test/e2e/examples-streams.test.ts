// The stream examples (examples/streams/) run as a user runs them, `node dist/examples/streams/x.js`,
// briefly, and their output says they did what they claim.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

async function example(name: string, args: string[] = []): Promise<string> {
  const file = fileURLToPath(new URL(`../../examples/streams/${name}.js`, import.meta.url));
  const { stdout } = await run(process.execPath, [file, ...args], { timeout: 60_000 });
  return stdout;
}

test('inproc: the seed example prints what it received, gap filled, and the buffer window', async () => {
  const out = await example('inproc');
  assert.match(out, /^Received: \(3, \[\[1,2\],\[3,4\],\[5,6\]\]\)$/m);
  assert.match(out, /^Received: \(6, \[\[7,8\]\]\)$/m);
  assert.match(out, /^buffer window \[-2, 6\): \[0,0,0,0,1,2,3,4,5,6,0,0,0,0,7,8\]$/m);
});

test('threads: a worker receives every sample in place over sharedmem and over tcp', async () => {
  const out = await example('threads', ['--chunks', '20']);
  for (const mode of ['sharedmem', 'tcp']) {
    assert.match(out, new RegExp(`^${mode} worker: Received: \\(1024, shape \\[1024, 4\\]\\)$`, 'm'));
    assert.match(out, new RegExp(`^${mode} worker: stream ended after 20 chunks, 20480 samples, 0 misplaced$`, 'm'));
    assert.match(out, new RegExp(`^${mode}: sent 20 chunks \\(0\\.3 MB\\) in [\\d.]+ s`, 'm'));
  }
});

for (const mode of ['tcp', 'sharedmem']) {
  test(`processes (${mode}): the input connects through an RPC proxy to an output made in a child`, async () => {
    const out = await example('processes', ['--mode', mode, '--chunks', '10']);
    assert.match(out, new RegExp(`^connected to the child's ${mode} output \\(pid \\d+\\)$`, 'm'));
    assert.match(out, /^Received: \(1000, shape \[1000, 8\], first value 0\)$/m);
    assert.match(out, /^stream ended: \d+ chunks, 10000 samples, last index 10000$/m);
    assert.match(out, /^child exited with code 0$/m);
  });
}

test('sim-frames: detector frames monitored over pvAccess become an image/video stream', async () => {
  const out = await example('sim-frames', ['--frames', '20', '--fps', '200', '--nx', '32', '--ny', '16']);
  assert.match(out, /^sim serving example:image on 127\.0\.0\.1:\d+: 32x16 uint16 at 200 fps$/m);
  assert.match(out, /^first chunk: index 1, shape \[1, 16, 32\]$/m);
  assert.match(out, /^received 20 frames \(last index 20\) in [\d.]+ s: [\d.]+ frames\/s, [\d.]+ MB\/s$/m);
});
