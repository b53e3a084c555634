// The node examples of examples/streams run as a user runs them (node on the built files), briefly.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const example = (name: string) => fileURLToPath(new URL(`../../examples/streams/${name}`, import.meta.url));
const LINE = /^PrintInput: index (\d+) shape \[(\d+), (\d+)\] min (-?[\d.]+) max (-?[\d.]+)$/;

function printed(stdout: string): number[][] {
  return stdout
    .split('\n')
    .map((l) => LINE.exec(l))
    .filter((m) => m !== null)
    .map((m) => m.slice(1).map(Number));
}

test('noise-generator-node: a NoiseGenerator feeding a PrintInput in one process', async () => {
  const { stdout } = await run(process.execPath, [example('noise-generator-node.js'), '3'], { timeout: 60_000 });
  const rows = printed(stdout);
  assert.ok(rows.length >= 3, stdout);
  assert.deepEqual(
    rows.slice(0, 3).map((r) => r.slice(0, 3)),
    [
      [500, 500, 4],
      [1000, 500, 4],
      [1500, 500, 4],
    ],
  );
  for (const r of rows) assert.ok((r[3] as number) >= -1 && (r[4] as number) <= 1 && (r[3] as number) < (r[4] as number));
});

test('remote-node-group: NoiseGenerator and ChunkResizer in a child, the printer here over tcp', async () => {
  const { stdout } = await run(process.execPath, [example('remote-node-group.js'), '3'], { timeout: 60_000 });
  const rows = printed(stdout);
  assert.deepEqual(
    rows.slice(0, 3).map((r) => r.slice(0, 3)),
    [
      [256, 256, 3],
      [512, 256, 3],
      [768, 256, 3],
    ],
  );
  assert.match(stdout, /child exited with code 0/);
});
