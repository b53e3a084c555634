// `sluice sim` serving frames from files, spawned as a user runs it: a NumPy stack streamed once
// through a small cache, a big-endian multi-page TIFF recycled, an HDF5 dataset, raw frames with
// a YAML config, a directory of mixed formats; a client checks every frame's pixels, type,
// dimensions and order against the files. Bad inputs end with a one-line error.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { PvaClient } from '../../src/pva/client/client.js';
import { ntndarray } from '../../src/pvdata/nt/index.js';
import { startCli, type CliProcess } from '../helpers/cli.js';
import { npyBytes, tiffBytes } from '../helpers/image-files.js';

const TEST_TIMEOUT = 60_000;

function envFor(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('EPICS_')) env[k] = v;
  return Object.assign(env, {
    EPICS_PVA_AUTO_ADDR_LIST: 'NO',
    EPICS_PVA_ADDR_LIST: '',
    EPICS_PVAS_AUTO_BEACON_ADDR_LIST: 'NO',
    EPICS_PVAS_BEACON_ADDR_LIST: '',
    EPICS_PVAS_BROADCAST_PORT: '0',
  });
}

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-simf-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

interface Received {
  id: number;
  dims: number[];
  dtype: string | null;
  colorMode: number | undefined;
  pixels: number[];
}

/**
 * Starts `sluice sim ARGS` on a free port, waiting for one client; monitors the channel with a
 * pipelined client until `until` frames (uniqueId > 0) have arrived or the channel ends.
 */
async function serve(t: TestContext, args: string[], until: number): Promise<{ p: CliProcess; frames: Received[] }> {
  const p = startCli(
    t,
    ['sim', '--port', '0', '--host', '127.0.0.1', '--wait-clients', '1', '-std', '0', '-shd', '0.5', ...args],
    envFor(),
    15_000,
  );
  const m = await p.line(/^(?:serving \S+ on 127\.0\.0\.1:(\d+)|\{"event":"listening",.*"port":(\d+))/);
  const port = Number(m[1] ?? m[2]);
  const c = new PvaClient({
    env: { EPICS_PVA_AUTO_ADDR_LIST: 'NO', EPICS_PVA_ADDR_LIST: '', EPICS_PVA_NAME_SERVERS: `127.0.0.1:${port}` },
  });
  t.after(() => c.close());
  const frames: Received[] = [];
  for await (const u of c.monitor('pvapy:image', { queueSize: 100, pipeline: true })) {
    const r = ntndarray.read(u.value);
    const data = r.data as ArrayLike<number | bigint>;
    frames.push({ id: r.uniqueId, dims: r.dims, dtype: r.dtype, colorMode: r.colorMode, pixels: Array.from(data, Number) });
    if (frames.filter((f) => f.id > 0).length >= until) break;
  }
  return { p, frames };
}

const frame = (k: number, n: number) => Array.from({ length: n }, (_, i) => k * 1000 + i * 7);

test('an .npy stack larger than the cache is streamed once, in order, and the run ends', { timeout: TEST_TIMEOUT }, async (t) => {
  const dir = tempDir(t);
  const [n, ny, nx] = [9, 5, 8];
  const data = Uint16Array.from({ length: n * ny * nx }, (_, i) => frame(Math.floor(i / (nx * ny)), nx * ny)[i % (nx * ny)] as number);
  const path = join(dir, 'stack.npy');
  writeFileSync(path, npyBytes(data, [n, ny, nx], { littleEndian: false }));
  const { p, frames } = await serve(t, ['-if', path, '-cs', '3', '-fps', '0', '--lossless', '-rt', '0'], n);
  assert.equal(await p.exited, 0, p.stderr());
  const out = p.stdout();
  assert.match(out, /^input: 9 frames from 1 file: .*stack\.npy \(npy, 9 frames\)$/m);
  assert.match(
    out,
    /^9 frames read while publishing \(more than the cache; read ahead up to 3\), each served once: 8x5 uint16 mono \(dimensions \[8,5\], 80 bytes\)$/m,
  );
  assert.match(out, /^Server exiting after publishing 9 frames$/m);
  assert.match(out, /^Published frames: +9 @/m);
  const published = frames.filter((f) => f.id > 0);
  assert.deepEqual(
    published.map((f) => f.id),
    [1, 2, 3, 4, 5, 6, 7, 8, 9],
  );
  published.forEach((f, k) => {
    assert.deepEqual(f.dims, [nx, ny]);
    assert.equal(f.dtype, 'ushort');
    assert.deepEqual(f.pixels, frame(k, nx * ny), `frame ${k} is page k of the file`);
  });
});

test('a big-endian multi-page TIFF fits the cache: its pages are recycled in order', { timeout: TEST_TIMEOUT }, async (t) => {
  const dir = tempDir(t);
  const [nx, ny] = [7, 3];
  const pages = [0, 1, 2].map((k) => ({
    width: nx,
    height: ny,
    pixels: Float32Array.from(frame(k, nx * ny), (v) => v / 4),
    compression: 8,
  }));
  const path = join(dir, 'pages.tif');
  writeFileSync(path, tiffBytes(pages, { littleEndian: false }));
  const { p, frames } = await serve(t, ['-if', path, '-fps', '2000', '-rt', '0'], 8);
  p.kill('SIGINT');
  assert.equal(await p.exited, 0, p.stderr());
  assert.match(p.stdout(), /^3 cached frames from files, recycled: 7x3 float32 mono/m);
  const published = frames.filter((f) => f.id > 0);
  assert.deepEqual(
    published.map((f) => f.id),
    [1, 2, 3, 4, 5, 6, 7, 8],
  );
  published.forEach((f) => {
    assert.equal(f.dtype, 'float');
    assert.deepEqual(
      f.pixels,
      frame((f.id - 1) % 3, nx * ny).map((v) => v / 4),
    );
  });
  assert.deepEqual(
    frames[0]?.pixels,
    frame(0, nx * ny).map((v) => v / 4),
    'before the first frame the channel holds page 0',
  );
});

test('HDF5 (-hds), raw frames with a YAML config, and a directory of mixed formats', { timeout: TEST_TIMEOUT }, async (t) => {
  const dir = tempDir(t);
  const [nx, ny] = [6, 4];
  const h5 = ((await import('h5wasm/node')) as unknown as { default: typeof import('h5wasm') }).default;
  await h5.ready;
  const hpath = join(dir, 'c.h5');
  const f = new h5.File(hpath, 'w');
  f.create_dataset({ name: 'other', data: new Uint8Array(5 * 5 * 5), shape: [5, 5, 5], dtype: '<B' });
  f.create_dataset({
    name: 'frames',
    data: Int32Array.from(
      [2, 3].flatMap((k) => frame(k, nx * ny)),
      (v) => -v,
    ),
    shape: [2, ny, nx],
    dtype: '<i',
  });
  f.close();
  writeFileSync(
    join(dir, 'a.raw'),
    Buffer.from(
      Int32Array.from(
        [0, 1].flatMap((k) => frame(k, nx * ny)),
        (v) => -v,
      ).buffer,
    ),
  );
  const cfg = join(dir, 'raw.yaml');
  writeFileSync(cfg, `file_info:\n  datatype: int32\n  width: ${nx}\n  height: ${ny}\n  endian: little\n`);
  writeFileSync(
    join(dir, 'd.tif'),
    tiffBytes([{ width: nx, height: ny, pixels: Int32Array.from(frame(4, nx * ny), (v) => -v) }], { littleEndian: false }),
  );
  writeFileSync(join(dir, 'b.txt'), 'a raw file of the wrong size');

  const { p, frames } = await serve(
    t,
    ['-id', dir, '-cfg', cfg, '-hds', '/frames', '-cs', '2', '-fps', '0', '--lossless', '-rt', '0', '--json'],
    5,
  );
  assert.equal(await p.exited, 0, p.stderr());
  assert.match(p.stderr(), /^warning: skipping .*b\.txt: size mismatch/m);
  const lines = p
    .stdout()
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  const input = lines.find((l) => l['event'] === 'input') as {
    frames: number;
    files: number;
    skipped: number;
    parts: { format: string; frames: number }[];
  };
  assert.deepEqual(
    input.parts.map((x) => [x.format, x.frames]),
    [
      ['raw', 2],
      ['hdf5', 2],
      ['tiff', 1],
    ],
  );
  assert.equal(input.skipped, 1);
  const summary = lines.find((l) => l['event'] === 'summary') as { frames: number; reason: string };
  assert.deepEqual([summary.frames, summary.reason], [5, 'frames']);
  const published = frames.filter((x) => x.id > 0);
  assert.deepEqual(
    published.map((x) => x.id),
    [1, 2, 3, 4, 5],
  );
  published.forEach((x, k) => {
    assert.equal(x.dtype, 'int');
    assert.deepEqual(x.dims, [nx, ny]);
    assert.deepEqual(
      x.pixels,
      frame(k, nx * ny).map((v) => 0 - v),
      `frame ${k}`,
    );
  });
});

test('bad inputs: a clear one-line error, status 1 for files, 2 for usage', { timeout: TEST_TIMEOUT }, async (t) => {
  const dir = tempDir(t);
  const lying = join(dir, 'lying.npy');
  writeFileSync(lying, npyBytes(new Uint16Array(16), [4, 4], { extra: -2 }));
  const huge = join(dir, 'huge.tif');
  writeFileSync(
    huge,
    tiffBytes([{ width: 4, height: 4, pixels: new Uint16Array(16), override: { 256: [40000], 257: [40000], 278: [40000] } }]),
  );
  const other = join(dir, 'other.npy');
  writeFileSync(other, npyBytes(new Uint16Array(16), [4, 4]));
  const mixed = join(dir, 'mixed');
  mkdirSync(mixed);
  writeFileSync(join(mixed, 'a.npy'), npyBytes(new Uint16Array(16), [4, 4]));
  writeFileSync(join(mixed, 'b.npy'), npyBytes(new Uint16Array(15), [3, 5]));
  const cases: [string[], number, RegExp][] = [
    [['-if', join(dir, 'missing.npy')], 1, /^sluice sim: .*missing\.npy: no such file$/m],
    [['-if', lying], 1, /lying\.npy: truncated: the header declares shape \(4, 4\) of <u2, 32 bytes of data, the file has 30/],
    [['-if', huge], 1, /huge\.tif: page 0: StripByteCounts \(tag 279\): strip 0 has 32 bytes, too few for 3200000000 bytes of pixels/],
    [['-id', mixed], 1, /b\.npy: frames are 5x3 uint16 mono \[5,3\], but .*a\.npy has 4x4 uint16 mono \[4,4\]/],
    [['-if', other, '-hds', '/nope'], 0, /serving/], // -hds only concerns HDF5 inputs
    [['-if', other, '-cm', '2'], 1, /other\.npy: array of shape \[4, 4\] is one mono frame, not colour mode 2/],
    [['-if', other, '-hcm'], 2, /--hdf-compression-mode: publishing HDF5 chunks still compressed is not supported/],
    [['-hds', '/entry/data'], 2, /--hdf-dataset needs HDF5 input files/],
  ];
  await Promise.all(
    cases.map(async ([args, status, re]) => {
      const r = startCli(t, ['sim', '--port', '0', '--host', '127.0.0.1', '-rt', '0.01', '-std', '0', '-shd', '0', ...args], envFor());
      assert.equal(await r.exited, status, `${args.join(' ')}: ${r.stderr()}`);
      assert.match(status === 0 ? r.stdout() : r.stderr(), re);
      if (status === 1) assert.equal(r.stdout(), '', 'nothing served: the files are checked before the port is bound');
    }),
  );
});
