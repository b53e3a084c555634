// Hdf5AdImageWriter: files are read back with a fresh h5wasm File (HDF5's own library) and
// compared with the frames sent: layout, dtypes, the ids, partial files, names, configuration,
// statistics, failures (an uncreatable directory, a full disk), and lazy loading of h5wasm.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as h5wasm from 'h5wasm/node';
import { ProcessingController } from '../../src/runtime/processing-controller.js';
import { Hdf5AdImageWriter, Hdf5ImageWriter, hdf5ErrorSummary } from '../../src/processing/builtin/hdf5-writer.js';
import { loadProcessor } from '../../src/processing/loader.js';
import { ColorMode, ntndarray } from '../../src/pvdata/nt/ntndarray.js';
import type { PVStructure, PVTypedArray } from '../../src/pvdata/values.js';
import { frameFrom, pattern, tempDir } from '../helpers/image-frames.js';

interface Read {
  shape: number[];
  maxshape: (number | null)[];
  chunks: number[] | null;
  dtype: string;
  data: PVTypedArray;
  ids: number[];
}

/** Open the file anew and read a dataset and the ids (h5wasm: the HDF5 C library, not our writer's handles). */
async function readHdf5(path: string, dataset = 'images'): Promise<Read> {
  await h5wasm.ready;
  const f = new h5wasm.File(path, 'r');
  try {
    const d = f.get(dataset) as h5wasm.Dataset;
    const ids = f.get('uniqueIds') as h5wasm.Dataset;
    const unlimited = (n: number) => (n > 2 ** 53 ? null : n);
    return {
      shape: d.shape ?? [],
      maxshape: (d.metadata.maxshape ?? []).map(unlimited),
      chunks: d.metadata.chunks,
      dtype: String(d.dtype),
      data: d.value as PVTypedArray,
      ids: Array.from(ids.value as Int32Array),
    };
  } finally {
    f.close();
  }
}

function mono(ctor: new (n: number) => Uint16Array, nx: number, ny: number, id: number): PVStructure {
  return frameFrom(pattern(ctor, nx * ny, id), nx, ny, 1, ColorMode.Mono, id);
}

function pixels(v: PVStructure): number[] {
  return Array.from(v['value'].value as ArrayLike<number>);
}

async function writer(config: Record<string, unknown>): Promise<Hdf5AdImageWriter> {
  const w = new Hdf5AdImageWriter(config);
  await w.start();
  return w;
}

test('blocks of nImagesPerFile: full files, a last partial file shrunk to its frames, the ids, default names', async (t) => {
  const dir = await tempDir(t);
  const w = await writer({ outputDirectory: dir, nImagesPerFile: 3, processorId: 2 });
  const frames = Array.from({ length: 7 }, (_, i) => mono(Uint16Array, 64, 32, 101 + i)); // 4 KiB each
  for (const f of frames) assert.equal(w.process(f), undefined, 'synchronous once started');
  assert.equal(w.currentFilePath, join(dir, '000003.2.hdf'));
  await w.stop();
  assert.equal(w.currentFilePath, null);
  assert.deepEqual((await readdir(dir)).sort(), ['000001.2.hdf', '000002.2.hdf', '000003.2.hdf']);
  for (const [file, from, n] of [
    ['000001.2.hdf', 0, 3],
    ['000002.2.hdf', 3, 3],
    ['000003.2.hdf', 6, 1],
  ] as const) {
    const r = await readHdf5(join(dir, file));
    assert.deepEqual(r.shape, [n, 32, 64], file);
    assert.deepEqual(r.maxshape, [null, 32, 64], 'resizable along the frames');
    assert.deepEqual(r.chunks, [1, 32, 64], 'one frame per chunk');
    assert.equal(r.dtype, '<H');
    assert.deepEqual(Array.from(r.data as Uint16Array), frames.slice(from, from + n).flatMap(pixels), file);
    assert.deepEqual(
      r.ids,
      frames.slice(from, from + n).map((f) => f['uniqueId']),
    );
  }
  const s = w.getStats();
  assert.equal(s['nFilesSaved'], 3);
  const sizes = ['000001.2.hdf', '000002.2.hdf', '000003.2.hdf'].map((f) => statSync(join(dir, f)).size);
  assert.equal(
    s['nBytesSaved'],
    sizes.reduce((a, b) => a + b, 0),
  );
  // Frames not written take no space: the partial file is smaller by about two frames.
  assert.ok((sizes[0] as number) > 3 * 4096 && (sizes[2] as number) < (sizes[0] as number) - 4096, `${sizes}`);
});

test('frames larger than a batch (1 MiB) are written one by one, without the batch copy', async (t) => {
  const dir = await tempDir(t);
  const w = await writer({ outputDirectory: dir, nImagesPerFile: 3 });
  const frames = [1, 2].map((id) => mono(Uint16Array, 1024, 513, id)); // 1,050,624 bytes each
  for (const f of frames) w.process(f);
  w.stop();
  const r = await readHdf5(join(dir, '000001.1.hdf'));
  assert.deepEqual(
    [r.shape, r.ids],
    [
      [2, 513, 1024],
      [1, 2],
    ],
  );
  const bytes = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  const sent = Buffer.concat(frames.map((f) => bytes(f['value'].value as Uint16Array)));
  assert.ok(bytes(r.data).equals(sent), 'the pixels read back are the pixels sent');
});

test('every element type keeps its dtype; RGB1, RGB2 and RGB3 are stored (n, ny, nx, 3)', async (t) => {
  const dir = await tempDir(t);
  const w = await writer({ outputDirectory: dir, nImagesPerFile: 1, outputFileNameFormat: '{uniqueId}.h5' });
  const cases = [
    [Uint8Array, '<B'],
    [Int8Array, '<b'],
    [Int16Array, '<h'],
    [Int32Array, '<i'],
    [Uint32Array, '<I'],
    [Float32Array, '<f'],
    [Float64Array, '<d'],
  ] as const;
  let id = 1;
  for (const [ctor, dtype] of cases) {
    const f = mono(ctor as unknown as new (n: number) => Uint16Array, 9, 4, id);
    w.process(f);
    const r = await readHdf5(join(dir, `${id}.h5`));
    assert.equal(r.dtype, dtype);
    assert.equal(r.data.constructor as unknown, ctor);
    assert.deepEqual(Array.from(r.data as ArrayLike<number>), pixels(f), dtype);
    id++;
  }
  const long = ntndarray.build({ data: BigInt64Array.from([-5n, 2n ** 40n, 7n, 0n]), dims: [2, 2], uniqueId: id });
  w.process(long);
  const rl = await readHdf5(join(dir, `${id}.h5`));
  assert.equal(rl.dtype, '<q');
  assert.deepEqual(Array.from(rl.data as BigInt64Array), [-5n, 2n ** 40n, 7n, 0n]);
  id++;
  const rgb = pattern(Uint8Array, 6 * 5 * 3);
  for (const mode of [ColorMode.RGB1, ColorMode.RGB2, ColorMode.RGB3]) {
    w.process(frameFrom(rgb, 6, 5, 3, mode, id));
    const r = await readHdf5(join(dir, `${id}.h5`));
    assert.deepEqual(r.shape, [1, 5, 6, 3], `mode ${mode}`);
    assert.deepEqual(Array.from(r.data as Uint8Array), Array.from(rgb), `mode ${mode}`);
    id++;
  }
});

test('names and datasets: uniqueId placeholders, a nested dataset; reconfiguring closes the file being written', async (t) => {
  const dir = await tempDir(t);
  const w = await writer({
    outputDirectory: join(dir, 'x'),
    outputFileNameFormat: 'scan_{outputFileId:03}_{uniqueId:05}.h5',
    datasetName: 'entry/data/data',
    nImagesPerFile: '10',
  });
  assert.equal(w.nImagesPerFile, 10, 'a numeric string is taken, as PvaPy int() does');
  for (let id = 5; id <= 6; id++) w.process(mono(Uint16Array, 4, 3, id));
  w.configure({ nImagesPerFile: 2, datasetName: 'frames', outputDirectory: join(dir, 'y') });
  const first = await readHdf5(join(dir, 'x', 'scan_001_00005.h5'), 'entry/data/data');
  assert.deepEqual(first.shape, [2, 3, 4]);
  assert.deepEqual(first.ids, [5, 6]);
  for (let id = 7; id <= 9; id++) w.process(mono(Uint16Array, 4, 3, id));
  w.stop();
  assert.deepEqual((await readdir(join(dir, 'y'))).sort(), ['scan_002_00007.h5', 'scan_003_00009.h5']);
  assert.deepEqual((await readHdf5(join(dir, 'y', 'scan_002_00007.h5'), 'frames')).ids, [7, 8]);
  assert.deepEqual((await readHdf5(join(dir, 'y', 'scan_003_00009.h5'), 'frames')).ids, [9]);
  // Checked before anything changes.
  assert.throws(() => w.configure({ nImagesPerFile: 0 }), /nImagesPerFile must be a positive integer, not 0/);
  assert.throws(() => w.configure({ datasetName: 'a//b' }), /datasetName must be a dataset path/);
  assert.throws(() => w.configure({ datasetName: 'uniqueIds' }), /that dataset holds the frame ids/);
  assert.throws(
    () => w.configure({ outputFileNameFormat: '{uniqueId:06}.{bad}.hdf' }),
    /unknown placeholder 'bad' \(known: outputFileId, uniqueId/,
  );
  assert.equal(w.nImagesPerFile, 2);
  const d = new Hdf5AdImageWriter();
  assert.deepEqual(
    [d.outputDirectory, d.outputFileNameFormat, d.nImagesPerFile, d.datasetName],
    ['.', '{outputFileId:06}.{processorId}.hdf', 1000, 'images'],
  );
});

test('a frame of another size or dtype starts a new file; empty frames are skipped; frames are republished', async (t) => {
  const dir = await tempDir(t);
  const w = await writer({ outputDirectory: dir, nImagesPerFile: 5 });
  const warnings: string[] = [];
  w.logger = { debug() {}, info() {}, warn: (m) => warnings.push(m), error() {} };
  const published: PVStructure[] = [];
  w.publisher = (v) => published.push(v);
  const a = mono(Uint16Array, 8, 8, 1);
  const empty = ntndarray.build({ data: new Uint8Array(0), dims: [], uniqueId: 0 });
  const b = mono(Uint16Array, 8, 4, 2);
  const c = mono(Uint8Array as unknown as new (n: number) => Uint16Array, 8, 4, 3);
  for (const f of [a, empty, b, c]) w.process(f);
  w.stop();
  assert.deepEqual(published, [a, b, c]);
  assert.deepEqual((await readHdf5(join(dir, '000001.1.hdf'))).shape, [1, 8, 8]);
  assert.deepEqual((await readHdf5(join(dir, '000002.1.hdf'))).shape, [1, 4, 8]);
  const last = await readHdf5(join(dir, '000003.1.hdf'));
  assert.deepEqual([last.dtype, last.ids], ['<B', [3]]);
  assert.match(warnings[0] ?? '', /frame 2 is <H 4x8, the file being written holds <H 8x8: starting a new file/);
});

test('failures are counted by the framework with the path named, and the stream goes on', async (t) => {
  const dir = await tempDir(t);
  const opts = { objectIdField: 'uniqueId', objectIdOffset: 1, nSequentialUpdates: 1, skipInitialUpdates: 0 };
  // A directory that cannot be created (its parent is a regular file; EACCES would not stop root).
  await writeFile(join(dir, 'plain'), 'x');
  const blocked = join(dir, 'plain', 'out');
  const w = await writer({ outputDirectory: blocked, nImagesPerFile: 2 });
  const c = new ProcessingController(w, opts, null);
  for (let id = 1; id <= 3; id++) await c.process(mono(Uint16Array, 8, 8, id), ntndarray.type());
  assert.equal(c.nErrors, 3);
  assert.match(c.lastError?.message ?? '', new RegExp(`^frame 3: cannot create '${join(blocked, '000001.1.hdf')}': ENOTDIR`));

  // A full disk: the file is a link to /dev/full; HDF5 fails writing its superblock.
  await symlink('/dev/full', join(dir, '000001.1.hdf'));
  const full = await writer({ outputDirectory: dir, nImagesPerFile: 2 });
  const c2 = new ProcessingController(full, opts, null);
  await c2.process(mono(Uint16Array, 8, 8, 1), ntndarray.type());
  assert.equal(c2.nErrors, 1);
  assert.match(
    c2.lastError?.message ?? '',
    new RegExp(`^frame 1: cannot create HDF5 file '${join(dir, '000001.1.hdf')}': .*No space left on device`),
  );
  // Once the disk has room again (here: the link is gone), files are written.
  await rm(join(dir, '000001.1.hdf'));
  for (let id = 2; id <= 3; id++) await c2.process(mono(Uint16Array, 8, 8, id), ntndarray.type());
  await full.stop();
  assert.equal(c2.nProcessed, 2);
  assert.deepEqual((await readHdf5(join(dir, '000001.1.hdf'))).ids, [2, 3]);

  assert.equal(
    hdf5ErrorSummary(
      new Error(
        [
          'HDF5-DIAG: Error detected in HDF5 (2.0.0):',
          '  #000: H5F.c line 647 in H5Fcreate(): unable to synchronously create file',
          '    major: File accessibility',
          "  #001: H5FDsec2.c line 288 in H5FD__sec2_open(): unable to open file: name = '/x', errno = 44, error message = 'No such file or directory', flags = 13",
          '    minor: Unable to open file',
        ].join('\n'),
      ),
    ),
    'H5Fcreate(): unable to synchronously create file: H5FD__sec2_open(): unable to open file (No such file or directory)',
  );
});

test('a file system that stops a file growing mid-file (ulimit -f, like a full disk): the lost frames are named, the next file is good', async (t) => {
  const dir = await tempDir(t);
  const script = fileURLToPath(new URL('../fixtures/file-writers/hdf5-file-size-limit.js', import.meta.url));
  // 300 KiB (dash counts 512-byte blocks) or 600 KiB (bash: 1 KiB): less than a 1 MiB batch of 64 frames.
  const r = spawnSync('/bin/sh', ['-c', 'ulimit -f 600 && exec "$0" "$@"', process.execPath, script, dir, '70'], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { thrown: string[]; logged: string[]; stats: Record<string, number> };
  const first = join(dir, '000001.1.hdf');
  assert.equal(out.thrown.length, 1, r.stdout);
  assert.match(out.thrown[0] ?? '', new RegExp(`^64: frames 1 to 64: cannot write to '${first}': .*File too large`));
  assert.ok(
    out.logged.some((m) => m.startsWith(`cannot close '${first}'`)),
    r.stdout,
  );
  const second = await readHdf5(join(dir, '000002.1.hdf'));
  assert.deepEqual(second.ids, [65, 66, 67, 68, 69, 70]);
  assert.deepEqual(
    Array.from(second.data as Uint8Array).filter((_, i) => i % (128 * 128) === 0),
    second.ids,
  );
  assert.equal(out.stats['nFilesSaved'], 1);
});

test('statistics with types for the status PV; reset', async (t) => {
  const dir = await tempDir(t);
  const w = await writer({ outputDirectory: dir, nImagesPerFile: 2 });
  const before = Date.now() / 1000;
  for (let id = 1; id <= 3; id++) w.process(mono(Uint16Array, 16, 16, id));
  let s = w.getStats();
  assert.equal(s['nFilesSaved'], 1, 'the second file is still open');
  assert.equal(s['nBytesSaved'], statSync(join(dir, '000001.1.hdf')).size);
  assert.ok(
    (s['lastFileProcessedTime'] as number) >= before && (s['lastFrameProcessedTime'] as number) >= (s['lastFileProcessedTime'] as number),
  );
  assert.ok(Math.abs((s['fileProcessingRate'] as number) - 1 / (s['fileProcessingTime'] as number)) < 1e-9);
  assert.ok(
    Math.abs((s['dataStorageRateMBps'] as number) - (s['nBytesSaved'] as number) / (s['fileProcessingTime'] as number) / 1e6) < 1e-9,
  );
  w.stop();
  s = w.getStats();
  assert.equal(s['nFilesSaved'], 2);
  assert.deepEqual(Object.keys(w.getStatsTypes()), Object.keys(s));
  assert.deepEqual(w.getStatsTypes(), {
    nFilesSaved: 'uint',
    nBytesSaved: 'ulong',
    fileProcessingTime: 'double',
    fileProcessingRate: 'double',
    dataStorageRateMBps: 'double',
    lastFileProcessedTime: 'double',
    lastFrameProcessedTime: 'double',
  });
  w.resetStats();
  assert.deepEqual(Object.values(w.getStats()), [0, 0, 0, 0, 0, 0, 0]);
});

test('--processor-class Hdf5AdImageWriter (and Hdf5ImageWriter); without start() the first frame loads HDF5', async (t) => {
  const dir = await tempDir(t);
  const p = await loadProcessor({
    className: 'Hdf5AdImageWriter',
    args: { outputDirectory: dir, nImagesPerFile: 4 },
    system: { processorId: 7 },
  });
  assert.ok(p instanceof Hdf5AdImageWriter);
  assert.equal(Hdf5ImageWriter, Hdf5AdImageWriter);
  assert.ok((await loadProcessor({ className: 'Hdf5ImageWriter' })) instanceof Hdf5AdImageWriter);
  const fresh = new Hdf5AdImageWriter({ outputDirectory: dir, processorId: 8 });
  const r = fresh.process(mono(Uint16Array, 4, 4, 1));
  assert.ok(r instanceof Promise || r === undefined);
  await r;
  fresh.stop();
  assert.deepEqual((await readHdf5(join(dir, '000001.8.hdf'))).ids, [1]);
});

test('importing sluice or starting the CLI does not load h5wasm (only the writer does, when it starts)', () => {
  // Follow the static imports of the compiled entry points: h5wasm must only be imported dynamically.
  const seen = new Set<string>();
  const bare = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const src = readFileSync(file, 'utf8');
    for (const m of src.matchAll(/^\s*(?:import|export)\s[^;]*?\sfrom\s+'([^']+)'|^\s*import\s+'([^']+)'/gm)) {
      const spec = (m[1] ?? m[2]) as string;
      if (spec.startsWith('.')) visit(resolve(dirname(file), spec));
      else bare.add(spec);
    }
  };
  for (const entry of ['../../src/index.js', '../../src/cli/main.js']) visit(fileURLToPath(new URL(entry, import.meta.url)));
  assert.ok(seen.size > 20, `${seen.size} modules`);
  assert.ok(seen.has(fileURLToPath(new URL('../../src/processing/builtin/hdf5-writer.js', import.meta.url))));
  assert.deepEqual(
    [...bare].filter((s) => s.startsWith('h5wasm')),
    [],
  );
});
