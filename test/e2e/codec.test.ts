// Compressed frames end to end: `sluice sim --compressor NAME` publishes NDPluginCodec-style
// NTNDArrays, a spawned `sluice consumer` hands them to a processor, and the pixels it sees
// (decoded by frameOf()) equal the simulator's uncompressed frames, regenerated here from the seed.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FrameCache } from '../../src/sim/frame-cache.js';
import type { PVTypedArray } from '../../src/pvdata/values.js';
import { loopbackEnv, startCli } from '../helpers/cli.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const RECORD = join(root, 'test/fixtures/consumer/record-pixels.ts');

function sha1(a: PVTypedArray): string {
  return createHash('sha1')
    .update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength))
    .digest('hex');
}

for (const codec of ['lz4']) {
  test(`sim --compressor ${codec}: the consumer's processor sees the uncompressed frames`, { timeout: 60_000 }, async (t) => {
    const env = await loopbackEnv();
    const dir = mkdtempSync(join(tmpdir(), 'sluice-codec-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'pixels');
    const consumer = startCli(
      t,
      [
        'consumer',
        '-ic',
        'pvapy:image',
        '-rp',
        '1',
        '-dc',
        '--processor-file',
        RECORD,
        '--processor-class',
        'RecordPixels',
        '--processor-args',
        JSON.stringify({ file }),
      ],
      env,
      30_000,
    );
    const spec = { nx: 96, ny: 40, datatype: 'uint16' as const, colorMode: 0 };
    const sim = startCli(
      t,
      [
        'sim',
        '-cn',
        'pvapy:image',
        '-nx',
        '96',
        '-ny',
        '40',
        '-dt',
        'uint16',
        '-nf',
        '3',
        '--seed',
        '5',
        '-mx',
        '1000',
        '--compressor',
        codec,
        '-fps',
        '40',
        '-rt',
        '0.5',
        '-std',
        '0.2',
        '--wait-clients',
        '1',
        '-shd',
        '1',
      ],
      env,
      30_000,
    );
    const line = await sim.line(new RegExp(`^compressor ${codec}: 7680 -> (\\d+) bytes per frame`));
    assert.ok(Number(line[1]) > 0);
    assert.equal(await sim.exited, 0, sim.stderr());
    consumer.kill('SIGINT');
    await consumer.exited;
    assert.ok(existsSync(file), consumer.stderr());
    const rows = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split(' '));
    assert.equal(rows.length, 20, 'every frame processed');
    const cache = new FrameCache({ frame: { ...spec, maximum: 1000 }, nFrames: 3, seed: 5 });
    const want = [0, 1, 2].map((i) => sha1((cache.frame(i)['value'] as { value: PVTypedArray }).value));
    for (const [id, name, dtype, nx, ny, hash] of rows) {
      assert.deepEqual([name, dtype, nx, ny], [codec, 'ushort', '96', '40'], `frame ${id}`);
      assert.equal(hash, want[(Number(id) - 1) % 3], `frame ${id} pixels`);
    }
  });
}

test('sim refuses an unknown compressor and -hcm with one clear line', async (t) => {
  const env = await loopbackEnv();
  const bad = startCli(t, ['sim', '--port', '0', '--compressor', 'jpeg'], env);
  assert.equal(await bad.exited, 2);
  assert.match(bad.stderr(), /--compressor must be one of lz4, lz4hdf5, bslz4, blosc, zlib, not 'jpeg' \(jpeg is lossy/);
  const hcm = startCli(t, ['sim', '--port', '0', '-hcm'], env);
  assert.equal(await hcm.exited, 2);
  assert.match(
    hcm.stderr(),
    /--hdf-compression-mode: .*h5wasm 0\.10 can neither read a raw chunk nor locate one in the file.*--compressor NAME/,
  );
  assert.match(hcm.stderr().split('\n')[1] ?? '', /^Run 'sluice sim --help' for usage/, 'one line, then the usual hint');
});
