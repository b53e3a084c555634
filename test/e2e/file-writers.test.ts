// The built-in file writers run by the real CLI: `sluice sim` with a fixed seed feeds three
// `sluice consumer` processes (--processor-class AdOutputFileProcessor as TIFF and as PNG,
// Hdf5AdImageWriter), found over UDP search on a free loopback port. Every file is read back
// by an independent decoder (geotiff, pngjs, a fresh h5wasm File) and compared with the frame
// the simulator sent, which its seed makes reproducible here.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fromArrayBuffer } from 'geotiff';
import * as h5wasm from 'h5wasm/node';
import { PNG } from 'pngjs';
import { PvaClient } from '../../src/pva/client/client.js';
import { FrameCache } from '../../src/sim/frame-cache.js';
import { loopbackEnv, startCli } from '../helpers/cli.js';
import { untilUpdate } from '../helpers/net.js';
import { tempDir } from '../helpers/image-frames.js';

const NX = 24;
const NY = 16;
const N = 12; // -fps 40 -rt 0.3
const SEED = 7;
const DISTINCT = 5;

/** The pixels `sluice sim ... -nf 5 --seed 7` publishes as frame `uniqueId`. */
function sentFrame(cache: FrameCache, uniqueId: number): number[] {
  return Array.from(cache.frame(uniqueId - 1)['value'].value as Uint16Array);
}

test('sim → consumers saving TIFF, PNG and HDF5: every frame read back equals the frame sent', async (t) => {
  const env = await loopbackEnv();
  const dir = await tempDir(t, 'sluice-e2e-files-');
  const client = new PvaClient({ env, timeoutMs: 10_000, beaconPort: false });
  t.after(() => client.close());

  const consumer = (id: number, processorClass: string, args: Record<string, unknown>) =>
    startCli(
      t,
      [
        'consumer',
        '-ic',
        'files:image',
        '-id',
        String(id),
        '-cc',
        'files:*:control',
        '-sc',
        'files:*:status',
        '-dc',
        '-sqs',
        '100',
        '-rp',
        '0.2',
        '--processor-class',
        processorClass,
        '--processor-args',
        JSON.stringify(args),
      ],
      env,
    );
  const consumers = [
    consumer(1, 'AdOutputFileProcessor', { outputDirectory: join(dir, 'tiff') }),
    consumer(2, 'AdOutputFileProcessor', { outputDirectory: join(dir, 'png'), outputFileNameFormat: '{frameId:04}-{processorId}.png' }),
    consumer(3, 'Hdf5AdImageWriter', { outputDirectory: join(dir, 'hdf5'), nImagesPerFile: 5 }),
  ];
  const sim = startCli(
    t,
    [
      'sim',
      '-cn',
      'files:image',
      '-nx',
      String(NX),
      '-ny',
      String(NY),
      '-dt',
      'uint16',
      '-nf',
      String(DISTINCT),
      '--seed',
      String(SEED),
      '-fps',
      '40',
      '-rt',
      '0.3',
      '-std',
      '0.2',
      '--wait-clients',
      '3',
      '-shd',
      '0.5',
    ],
    env,
  );
  assert.equal(await sim.exited, 0, sim.stderr());

  // Each consumer has processed every frame (its status PV, refreshed every 0.2 s, says so); then
  // stop it through its control PV.
  for (let id = 1; id <= 3; id++) {
    const status = await untilUpdate(
      client,
      `files:${id}:status`,
      (s) => (s['processorStats'] as Record<string, number>)['nProcessed'] === N,
      20_000,
    ).catch((err: Error) => assert.fail(`consumer ${id}: ${err.message}\n${consumers[id - 1]?.stdout()}`));
    assert.equal((status['processorStats'] as Record<string, number>)['nErrors'], 0);
    await client.put(`files:${id}:control`, { command: 'stop' });
  }
  for (const c of consumers) assert.equal(await c.exited, 0, c.stderr());
  assert.match(consumers[0]?.stdout() ?? '', /nFilesSaved=12\b/);
  assert.match(consumers[2]?.stdout() ?? '', /nFilesSaved=3\b/, 'two full files and the last partial one, closed by stop()');

  const cache = new FrameCache({ frame: { nx: NX, ny: NY, datatype: 'uint16' }, nFrames: DISTINCT, seed: SEED });
  const ids = Array.from({ length: N }, (_, i) => i + 1);

  const tiffs = (await readdir(join(dir, 'tiff'))).sort();
  assert.deepEqual(
    tiffs,
    ids.map((id) => `${String(id).padStart(6, '0')}.1.tiff`),
  );
  for (const id of ids) {
    const bytes = await readFile(join(dir, 'tiff', tiffs[id - 1] as string));
    const image = await (await fromArrayBuffer(new Uint8Array(bytes).buffer)).getImage();
    assert.deepEqual([image.getWidth(), image.getHeight(), image.getBitsPerSample(0)], [NX, NY, 16]);
    const raster = (await image.readRasters({ interleave: true })) as unknown as ArrayLike<number>;
    assert.deepEqual(Array.from(raster), sentFrame(cache, id), `TIFF of frame ${id}`);
  }

  const pngs = (await readdir(join(dir, 'png'))).sort();
  assert.deepEqual(
    pngs,
    ids.map((id) => `${String(id).padStart(4, '0')}-2.png`),
  );
  for (const id of ids) {
    const png = PNG.sync.read(await readFile(join(dir, 'png', pngs[id - 1] as string)), { skipRescale: true });
    assert.deepEqual([png.width, png.height, png.depth, png.colorType], [NX, NY, 16, 0]);
    const grey = Array.from(png.data as unknown as ArrayLike<number>).filter((_, i) => i % 4 === 0);
    assert.deepEqual(grey, sentFrame(cache, id), `PNG of frame ${id}`);
  }

  assert.deepEqual((await readdir(join(dir, 'hdf5'))).sort(), ['000001.3.hdf', '000002.3.hdf', '000003.3.hdf']);
  await h5wasm.ready;
  const stored: number[] = [];
  for (const [file, count] of [
    ['000001.3.hdf', 5],
    ['000002.3.hdf', 5],
    ['000003.3.hdf', 2],
  ] as const) {
    const f = new h5wasm.File(join(dir, 'hdf5', file), 'r');
    try {
      const images = f.get('images') as h5wasm.Dataset;
      assert.deepEqual([images.shape, images.dtype], [[count, NY, NX], '<H'], file);
      const frameIds = Array.from((f.get('uniqueIds') as h5wasm.Dataset).value as Int32Array);
      const pixels = images.value as Uint16Array;
      frameIds.forEach((id, k) => {
        assert.deepEqual(Array.from(pixels.subarray(k * NX * NY, (k + 1) * NX * NY)), sentFrame(cache, id), `${file}[${k}], frame ${id}`);
      });
      stored.push(...frameIds);
    } finally {
      f.close();
    }
  }
  assert.deepEqual(stored, ids);
});
