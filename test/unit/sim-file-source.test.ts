// Frames from files for the simulator: inputs in order (a directory sorted by name, unreadable
// files skipped with a warning, mismatched shapes refused), recycled when they fit the cache and
// otherwise streamed once through a bounded read-ahead queue, published in order by the real
// publisher, and errors while streaming that end the run instead of hanging it.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { SharedPV, type PVSubscriber } from '../../src/pv/shared-pv.js';
import { ntndarray } from '../../src/pvdata/nt/index.js';
import type { PVStructure } from '../../src/pvdata/values.js';
import { FileFrames, FileSource, FramePublisher, openFileFrames, type FileInputOptions } from '../../src/sim/index.js';
import { npyBytes, tiffBytes, zipBytes } from '../helpers/image-files.js';

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-src-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const NX = 6;
const NY = 4;
/** Frame k of the test data: every pixel tells which frame it is from and where. */
const frame = (k: number) => Uint16Array.from({ length: NX * NY }, (_, i) => k * 100 + i);
const stack = (from: number, n: number) => {
  const a = new Uint16Array(n * NX * NY);
  for (let k = 0; k < n; k++) a.set(frame(from + k), k * NX * NY);
  return a;
};

/** Three files of 2 + 3 + 2 frames (npy, TIFF, npz), named so that name order is frame order. */
function inputs(dir: string): void {
  writeFileSync(join(dir, 'a.npy'), npyBytes(stack(0, 2), [2, NY, NX]));
  writeFileSync(
    join(dir, 'b.tif'),
    tiffBytes(
      [2, 3, 4].map((k) => ({ width: NX, height: NY, pixels: frame(k) })),
      { littleEndian: false },
    ),
  );
  writeFileSync(
    join(dir, 'c.npz'),
    zipBytes([{ name: 'x.npy', data: npyBytes(stack(5, 2), [2, NY, NX], { littleEndian: false }), deflate: true }]),
  );
}

async function open(o: FileInputOptions): Promise<{ source: FileSource; warnings: string[] }> {
  const warnings: string[] = [];
  const source = await FileSource.open({ ...o, onWarning: (w) => warnings.push(w) });
  return { source, warnings };
}

test('a directory: its files sorted by name, unreadable ones skipped with a warning, hidden ones ignored', async (t) => {
  const dir = tempDir(t);
  inputs(dir);
  writeFileSync(join(dir, 'notes.txt'), 'not frames');
  writeFileSync(join(dir, 'broken.npy'), npyBytes(stack(0, 2), [2, NY, NX], { extra: -3 }));
  writeFileSync(join(dir, '.hidden.npy'), 'ignored without a word');
  mkdirSync(join(dir, 'sub'));
  writeFileSync(join(dir, 'sub', 'z.npy'), npyBytes(stack(0, 1), [1, NY, NX]));
  const { source, warnings } = await open({ inputDirectory: dir });
  assert.deepEqual(
    source.parts.map((p) => [p.format, p.frames]),
    [
      ['npy', 2],
      ['tiff', 3],
      ['npz', 2],
    ],
  );
  assert.equal(source.frames, 7);
  assert.equal(source.skipped, 2);
  assert.equal(warnings.length, 2);
  assert.match(warnings[0]!, /^skipping .*broken\.npy: truncated/);
  assert.match(warnings[1]!, /^skipping .*notes\.txt: unknown format/);
  assert.deepEqual(source.layout, { dtype: 'uint16', dims: [NX, NY], colorMode: 0 });
  for (let k = 0; k < 7; k++) assert.deepEqual([...(await source.read(k))], [...frame(k)], `frame ${k}`);
  await source.close();
});

test('inputs: a file given with a directory is sorted in (by path, as PvaPy does); sniffed formats; errors for what cannot be used', async (t) => {
  const dir = tempDir(t);
  inputs(dir);
  const other = join(dir, 'zz'); // sorts after the directory's files; subdirectories are not inputs
  mkdirSync(other);
  // A TIFF without its extension is recognised by its first bytes.
  writeFileSync(join(other, 'frames.dat'), tiffBytes([{ width: NX, height: NY, pixels: frame(9) }]));
  const { source } = await open({ inputDirectory: dir, inputFile: join(other, 'frames.dat') });
  assert.equal(source.parts.at(-1)?.format, 'tiff');
  assert.match(source.parts.at(-1)?.path ?? '', /zz\/frames\.dat$/);
  assert.equal(source.frames, 8);
  await source.close();

  writeFileSync(join(other, 'big.npy'), npyBytes(new Uint16Array(8 * 8), [8, 8]));
  await assert.rejects(open({ inputDirectory: dir, inputFile: join(other, 'big.npy') }), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'ERR_FILE');
    assert.match(
      err.message,
      /big\.npy: frames are 8x8 uint16 mono \[8,8\], but .*a\.npy has 6x4 uint16 mono \[6,4\]: all inputs must have frames of one shape and type/,
    );
    return true;
  });
  writeFileSync(join(other, 'x.txt'), 'hello');
  await assert.rejects(open({ inputFile: join(other, 'x.txt') }), /x\.txt: unknown format \(.* raw binary files need --config-file\)/);
  await assert.rejects(open({ inputFile: join(other, 'missing.npy') }), /missing\.npy: no such file/);
  await assert.rejects(open({ inputDirectory: join(other, 'nodir') }), /nodir: no such directory/);
  await assert.rejects(open({ inputDirectory: join(other, 'x.txt') }), /x\.txt: is not a directory/);
  const empty = join(other, 'empty');
  mkdirSync(empty);
  await assert.rejects(open({ inputDirectory: empty }), /empty: has no files/);
  writeFileSync(join(empty, 'a.txt'), 'a');
  await assert.rejects(open({ inputDirectory: empty }), /empty: none of its 1 files could be read; the first: .*a\.txt: unknown format/);
  // An explicit colour mode the files contradict.
  await assert.rejects(
    open({ inputDirectory: dir, colorMode: 2 }),
    /none of its 3 files could be read; the first: .*a\.npy: array of shape \[2, 4, 6\] does not fit colour mode 2/,
  );
});

test('raw files: the config names them (ordered_files, in its order) or -if/-id give them; the config itself is skipped', async (t) => {
  const dir = tempDir(t);
  const bytes = (k: number) => new Uint8Array(frame(k).buffer);
  writeFileSync(join(dir, 'z.raw'), Buffer.concat([bytes(0), bytes(1)]));
  writeFileSync(join(dir, 'y.raw'), bytes(2));
  const cfg = join(dir, 'raw.yaml');
  writeFileSync(cfg, `file_info:\n  datatype: uint16\n  width: ${NX}\n  height: ${NY}\n  ordered_files: [z.raw, y.raw]\n`);
  const { source } = await open({ configFile: cfg });
  assert.deepEqual(
    source.parts.map((p) => [p.format, p.frames]),
    [
      ['raw', 2],
      ['raw', 1],
    ],
  );
  for (let k = 0; k < 3; k++) assert.deepEqual([...(await source.read(k))], [...frame(k)]);
  await source.close();

  const plain = join(dir, 'plain.yml');
  writeFileSync(plain, `file_info:\n  datatype: uint16\n  width: ${NX}\n  height: ${NY}\n`);
  const { source: all, warnings } = await open({ configFile: plain, inputDirectory: dir });
  // raw.yaml is not frames: skipped with a warning; plain.yml, the config in use, silently.
  assert.deepEqual(
    all.parts.map((p) => p.path.slice(dir.length + 1)),
    ['y.raw', 'z.raw'],
  );
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /raw\.yaml: size mismatch/);
  await all.close();
  await assert.rejects(
    FileSource.open({ configFile: plain }),
    /has no ordered_files: give the raw files with --input-file or --input-directory/,
  );
});

/** Publishes everything `frames` has (fps 0), checking the read-ahead queue never exceeds its bound. */
async function publishAll(
  frames: FileFrames,
  max = 1000,
): Promise<{ ids: number[]; pixels: number[][]; reason: string; maxQueued: number }> {
  const pv = new SharedPV().open(ntndarray.type(), frames.initial());
  const ids: number[] = [];
  const pixels: number[][] = [];
  let maxQueued = 0;
  const sub: PVSubscriber = {
    onPost: (v: PVStructure) => {
      ids.push(v['uniqueId'] as number);
      pixels.push([...(ntndarray.read(v).data as Uint16Array)]);
      maxQueued = Math.max(maxQueued, frames.queued);
    },
    onClose: () => {},
    hasRoom: () => true,
  };
  pv.subscribe(sub);
  const stop = new AbortController();
  const publisher = new FramePublisher({ pv, cache: frames, fps: 0, runtimeMs: 0 });
  const run = publisher.run(stop.signal);
  // Recycling never ends by itself: stop after `max` frames.
  const timer = setInterval(() => publisher.published >= max && stop.abort(), 1);
  try {
    const s = await run;
    return { ids, pixels, reason: s.reason, maxQueued };
  } finally {
    clearInterval(timer);
    await frames.close();
  }
}

test('frames that fit the cache are read at start and recycled; their pixels are the files', async (t) => {
  const dir = tempDir(t);
  inputs(dir);
  const frames = await openFileFrames({ inputDirectory: dir }, { cacheSize: 7 });
  assert.equal(frames.streaming, false);
  assert.equal(frames.size, 7);
  assert.equal(frames.limit, Infinity);
  assert.equal(frames.frame(8), frames.frame(1), 'recycled');
  assert.equal(frames.initial()['uniqueId'], 0);
  const { ids, pixels, reason } = await publishAll(frames, 20);
  assert.equal(reason, 'aborted');
  assert.deepEqual(
    ids.slice(0, 20),
    Array.from({ length: 20 }, (_, i) => i + 1),
  );
  pixels.slice(0, 20).forEach((p, i) => assert.deepEqual(p, [...frame(i % 7)], `publication ${i}`));

  // -nf takes the first N frames.
  const three = await openFileFrames({ inputDirectory: dir }, { nFrames: 3 });
  assert.equal(three.total, 3);
  assert.equal(three.streaming, false);
  assert.deepEqual([...(ntndarray.read(three.frame(5)).data as Uint16Array)], [...frame(2)]);
  await three.close();
});

test('more frames than the cache: streamed once in order through a bounded queue, then the run ends', async (t) => {
  const dir = tempDir(t);
  inputs(dir);
  const frames = await openFileFrames({ inputDirectory: dir }, { cacheSize: 2 });
  assert.equal(frames.streaming, true);
  assert.equal(frames.size, 2, 'read-ahead queue of the cache size');
  assert.equal(frames.limit, 7);
  const { ids, pixels, reason, maxQueued } = await publishAll(frames);
  assert.equal(reason, 'frames', 'ends after the last frame');
  assert.deepEqual(ids, [1, 2, 3, 4, 5, 6, 7]);
  pixels.forEach((p, i) => assert.deepEqual(p, [...frame(i)], `frame ${i}`));
  assert.ok(maxQueued <= 2, `at most 2 frames read ahead, saw ${maxQueued}`);

  // Without -nf the cache also keeps within a byte budget: 3 frames' worth here.
  const budget = await openFileFrames({ inputDirectory: dir }, { cacheBytes: 3 * NX * NY * 2 });
  assert.equal(budget.streaming, true);
  assert.equal(budget.size, 3);
  const b = await publishAll(budget);
  assert.deepEqual(b.ids, [1, 2, 3, 4, 5, 6, 7]);
  assert.ok(b.maxQueued <= 3);
  // An explicit -nf beyond the cache streams those frames.
  const nf = await openFileFrames({ inputDirectory: dir }, { nFrames: 5, cacheSize: 4 });
  assert.equal(nf.limit, 5);
  assert.deepEqual((await publishAll(nf)).ids, [1, 2, 3, 4, 5]);
});

test('a file that goes bad while streaming ends the run with its error; close() stops the producer', async (t) => {
  const dir = tempDir(t);
  writeFileSync(join(dir, 'a.npy'), npyBytes(stack(0, 2), [2, NY, NX]));
  writeFileSync(join(dir, 'b.npy'), npyBytes(stack(2, 4), [4, NY, NX]));
  const frames = await openFileFrames({ inputDirectory: dir }, { cacheSize: 1 });
  truncateSync(join(dir, 'b.npy'), 200); // cut after it was opened and checked
  await assert.rejects(publishAll(frames), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'ERR_FILE');
    assert.match(err.message, /b\.npy: ends at byte \d+, before the data it declares/);
    return true;
  });

  const more = await openFileFrames({ inputFile: join(dir, 'a.npy') }, { cacheSize: 1 });
  assert.equal(more.streaming, true);
  const pending = more.ready(0, new AbortController().signal);
  assert.equal(pending, undefined, 'the first frame was read when opened');
  await more.close();
  assert.equal(more.queued, 0);
  assert.equal(await more.ready(1, new AbortController().signal), false, 'a closed supply has no next frame');
});
