// Stages in another language: the Python reader and writer shipped in python/ (numpy only) take
// our streams byte for byte, and a Python stage runs between Sluice stages over real pipes.
// Skipped, with the reason shown, where python3 with numpy is not installed.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { StreamEncoder } from '../../src/pipeline/stream-format.js';
import { ntndarray } from '../../src/pvdata/nt/index.js';
import { completeStructure } from '../../src/pvdata/values.js';
import { CLI } from '../helpers/cli.js';
import { tempDir } from '../helpers/pipeline.js';

const PYTHON_DIR = fileURLToPath(new URL('../../../python/', import.meta.url));
const numpy = spawnSync('python3', ['-c', 'import numpy'], { stdio: 'ignore' });
const skip =
  numpy.status === 0 ? false : 'python3 with numpy is not installed here (apt install python3-numpy): the Python stage is not tested';

function run(cmd: string, args: string[], input: Buffer): Promise<{ stdout: Buffer; stderr: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ stdout: Buffer.concat(out), stderr: err, code }));
    child.stdin.on('error', () => {}); // a stage that stops reading early
    child.stdin.end(input);
  });
}

/** Frames of several pixel types, with attributes, codec parameters and time stamps. */
function frames(): { bytes: Buffer; sums: Map<number, number> } {
  const e = new StreamEncoder();
  const type = ntndarray.type();
  const chunks = [e.header(), e.note({ source: 'test' })];
  const sums = new Map<number, number>();
  const data = [
    Uint8Array.from([1, 2, 3, 250]),
    Int16Array.from([-5, 7, 300, 2]),
    Float64Array.from([0.5, 1.25, -3, 8]),
    Uint16Array.from([9, 9, 9, 65535]),
  ];
  data.forEach((d, i) => {
    const frame = ntndarray.build({
      data: d,
      dims: [2, 2],
      uniqueId: i + 1,
      attributes: [{ name: 'Gain', value: 2.5, descriptor: 'gain' }],
    });
    chunks.push(e.value(type, completeStructure(type, frame)));
    sums.set(
      i + 1,
      Array.from(d as ArrayLike<number>).reduce((a, b) => a + b, 0),
    );
  });
  chunks.push(e.end());
  return { bytes: Buffer.concat(chunks.flat()), sums };
}

const PASS_THROUGH = `
import sys
sys.path.insert(0, ${JSON.stringify(PYTHON_DIR)})
from sluice_stream import StreamReader, StreamWriter
out = StreamWriter(sys.stdout.buffer)
for item in StreamReader(sys.stdin.buffer).items():
    if item[0] == "note": out.note(item[1])
    if item[0] == "value": out.write(item[2], item[1], item[3], item[4])
out.end()
`;

test('python: a stream read and written again by sluice_stream.py comes out byte for byte', { skip }, async () => {
  const { bytes } = frames();
  const r = await run('python3', ['-c', PASS_THROUGH], bytes);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.toString('hex'), bytes.toString('hex'));
});

test('python: an example stage between Sluice stages (frames in, statistics out)', { skip }, async (t) => {
  const dir = tempDir(t, 'sluice-python-');
  const { bytes, sums } = frames();
  const file = join(dir, 'frames.sls');
  writeFileSync(file, bytes);
  const script = join(PYTHON_DIR, 'examples', 'image_stats.py');
  const r = await run(
    'bash',
    ['-c', `"${process.execPath}" "${CLI}" cat "${file}" | python3 "${script}" | "${process.execPath}" "${CLI}" to-json`],
    Buffer.alloc(0),
  );
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout
    .toString()
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { uniqueId: number; sum: number });
  assert.deepEqual(
    lines.map((l) => [l.uniqueId, l.sum]),
    [...sums],
  );
});

test('python: a wrong stream stops the Python stage with one line and status 1', { skip }, async () => {
  const r = await run('python3', [join(PYTHON_DIR, 'examples', 'image_stats.py')], Buffer.from('{"value": 1}\n'));
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^image_stats: stdin: not a Sluice stream/);
  const truncated = await run('python3', [join(PYTHON_DIR, 'examples', 'image_stats.py')], frames().bytes.subarray(0, 200));
  assert.equal(truncated.code, 1);
  assert.match(truncated.stderr, /truncated/);
});
