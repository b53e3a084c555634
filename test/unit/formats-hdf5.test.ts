// The HDF5 reader on files written here with h5wasm: the default dataset (first 3-d, else
// 2-d), a named one, stacks read one hyperslab at a time, compressed chunks, 64-bit and float
// types, colour stacks; unknown datasets, non-numeric data, files that are not HDF5 or are cut.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { openHdf5 } from '../../src/formats/hdf5-read.js';

type H5 = typeof import('h5wasm');

async function h5(): Promise<H5> {
  const m = (await import('h5wasm/node')) as unknown as { default: H5 };
  await m.default.ready;
  return m.default;
}

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-h5-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('HDF5: the first 3-d dataset by default, frames read one by one; a named dataset; compressed chunks', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'scan.h5');
  const { File } = await h5();
  const stack = Uint16Array.from({ length: 4 * 6 * 5 }, (_, i) => i * 17);
  const f = new File(path, 'w');
  f.create_group('entry');
  f.create_group('entry/data');
  f.create_group('entry/instrument');
  // Found first in name order, but 2-d: the 3-d dataset wins.
  f.create_dataset({ name: 'entry/a_mask', data: new Uint8Array(30), shape: [6, 5], dtype: '<B' });
  f.create_dataset({
    name: 'entry/data/data',
    data: stack,
    shape: [4, 6, 5],
    dtype: '<H',
    chunks: [1, 6, 5],
    compression: 'gzip',
    compression_opts: 4,
  });
  f.create_dataset({ name: 'entry/instrument/dark', data: Float64Array.from({ length: 30 }, (_, i) => i / 4), shape: [6, 5], dtype: '<d' });
  f.create_dataset({ name: 'entry/title', data: 'a scan' });
  f.close();

  const d = await openHdf5(path);
  assert.equal(d.format, 'hdf5');
  assert.equal(d.detail, '/entry/data/data');
  assert.deepEqual(d.layout, { dtype: 'uint16', dims: [5, 6], colorMode: 0 });
  assert.equal(d.frames, 4);
  for (const k of [3, 0, 2]) assert.deepEqual([...(await d.read(k))], [...stack.subarray(k * 30, (k + 1) * 30)], `frame ${k}`);
  await d.close();

  const dark = await openHdf5(path, 'entry/instrument/dark');
  assert.equal(dark.detail, '/entry/instrument/dark');
  assert.deepEqual(dark.layout, { dtype: 'float64', dims: [5, 6], colorMode: 0 });
  assert.equal(dark.frames, 1);
  assert.equal((await dark.read(0))[29], 29 / 4);
  await dark.close();

  await assert.rejects(openHdf5(path, '/entry/data/nope'), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'ERR_FILE');
    assert.match(
      err.message,
      /scan\.h5: HDF5 dataset \/entry\/data\/nope does not exist; datasets that could be frames: .*\/entry\/data\/data \[4, 6, 5\]/,
    );
    return true;
  });
  await assert.rejects(openHdf5(path, '/entry/data'), /\/entry\/data is not a dataset/);
  await assert.rejects(openHdf5(path, '/entry/title'), /holds no numbers|frames must be/);
});

test('HDF5: 64-bit integers, float32, colour stacks, -cm for a 3-d colour frame', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'types.h5');
  const { File } = await h5();
  const f = new File(path, 'w');
  const longs = BigInt64Array.from({ length: 2 * 3 * 4 }, (_, i) => BigInt(i) * -(2n ** 40n));
  f.create_dataset({ name: 'longs', data: longs, shape: [2, 3, 4], dtype: '<q' });
  const rgb = Uint8Array.from({ length: 2 * 5 * 4 * 3 }, (_, i) => i);
  f.create_dataset({ name: 'rgb', data: rgb, shape: [2, 5, 4, 3], dtype: '<B' });
  f.create_dataset({ name: 'one', data: rgb.subarray(0, 60), shape: [5, 4, 3], dtype: '<B' });
  f.create_dataset({ name: 'floats', data: new Float32Array([1.5, -2.5, 3, 4]), shape: [2, 2], dtype: '<f' });
  f.close();

  const l = await openHdf5(path, '/longs');
  assert.equal(l.layout.dtype, 'int64');
  assert.deepEqual([...(await l.read(1))], [...longs.subarray(12)]);
  await l.close();
  const c = await openHdf5(path, 'rgb');
  assert.deepEqual(c.layout, { dtype: 'uint8', dims: [3, 4, 5], colorMode: 2 });
  assert.deepEqual([...(await c.read(1))], [...rgb.subarray(60)]);
  await c.close();
  const one = await openHdf5(path, 'one', 2);
  assert.equal(one.frames, 1);
  assert.deepEqual([...(await one.read(0))], [...rgb.subarray(0, 60)]);
  await one.close();
  assert.equal((await openHdf5(path, 'one')).frames, 5, 'without -cm a 3-d dataset is a stack');
  const fl = await openHdf5(path, 'floats');
  assert.deepEqual([...(await fl.read(0))], [1.5, -2.5, 3, 4]);
  await fl.close();
});

test('HDF5: not an HDF5 file, a truncated one, a missing one, one without frames', async (t) => {
  const dir = tempDir(t);
  const { File } = await h5();
  const good = join(dir, 'good.h5');
  const f = new File(good, 'w');
  f.create_dataset({ name: 'data', data: new Uint16Array(2 * 64 * 64), shape: [2, 64, 64], dtype: '<H' });
  f.create_dataset({ name: 'line', data: new Uint16Array(8), shape: [8], dtype: '<H' });
  f.close();
  const fake = join(dir, 'fake.h5');
  writeFileSync(fake, 'not an HDF5 file at all, just text');
  await assert.rejects(openHdf5(fake), /fake\.h5: not an HDF5 file \(no HDF5 signature\)/);
  const cut = join(dir, 'cut.h5');
  writeFileSync(cut, readFileSync(good).subarray(0, 1200));
  await assert.rejects(openHdf5(cut), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'ERR_FILE');
    assert.match(err.message, /cut\.h5: /);
    assert.ok(err.message.length < 300, `one line, not HDF5's error stack: ${err.message}`);
    return true;
  });
  await assert.rejects(openHdf5(join(dir, 'missing.h5')), /missing\.h5: no such file/);
  const flat = join(dir, 'flat.h5');
  const g = new File(flat, 'w');
  g.create_dataset({ name: 'line', data: new Uint16Array(8), shape: [8], dtype: '<H' });
  g.close();
  await assert.rejects(openHdf5(flat), /has no 2-d or 3-d numeric dataset \(name one with --hdf-dataset\)/);
  await assert.rejects(openHdf5(good, 'line'), /has 1 dimensions/);
});
