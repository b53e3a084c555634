// Write rate of the HDF5 writer (Hdf5AdImageWriter: frames through process(), h5wasm's HDF5 into
// files of nImagesPerFile frames), against the disk's baseline: the same bytes, frame by frame,
// with fs.writeSync into as many plain files. For reference, AdOutputFileProcessor writing one
// TIFF per frame (at most 5,000 files a run), against fs.writeFileSync of the pixels into as many
// new files. Frames of 128x128 uint8 and 1024x1024 uint16 by default; medians of --runs.
// Files go to a temporary directory (or --dir) and are removed after each run; nothing is
// fsync'ed, so the figures are those of the page cache unless the data outgrows it.
//
//   node dist/bench/hdf5.js [--runs 3] [--mb 256] [--images-per-file 1000] [--sizes 128x128:uint8,1024x1024:uint16] [--dir D] [--no-tiff]
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Hdf5AdImageWriter } from '../src/processing/builtin/hdf5-writer.js';
import { AdOutputFileProcessor } from '../src/processing/builtin/image-file-writer.js';
import { toNtNdArray } from '../src/processing/nd-image.js';
import type { PVStructure } from '../src/pvdata/values.js';
import { Prng } from '../src/sim/frames.js';

const { values: opts } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    mb: { type: 'string', default: '256' },
    'images-per-file': { type: 'string', default: '1000' },
    sizes: { type: 'string', default: '128x128:uint8,1024x1024:uint16' },
    dir: { type: 'string' },
    'no-tiff': { type: 'boolean', default: false },
  },
});
const runs = Number(opts.runs);
const budget = Number(opts.mb) * 2 ** 20;
const perFile = Number(opts['images-per-file']);
const root = mkdtempSync(join(opts.dir ?? tmpdir(), 'sluice-bench-hdf5-'));

interface Case {
  label: string;
  nx: number;
  ny: number;
  bytes: number;
  frames: PVStructure[];
  count: number;
}

/** A few distinct random frames (recycled), as the simulator serves them. */
function makeCase(spec: string): Case {
  const m = /^(\d+)x(\d+):(uint8|uint16)$/.exec(spec);
  if (!m) throw new Error(`bad size '${spec}' (NXxNY:uint8|uint16)`);
  const nx = Number(m[1]);
  const ny = Number(m[2]);
  const wide = m[3] === 'uint16';
  const bytes = nx * ny * (wide ? 2 : 1);
  const rng = new Prng(1);
  const frames = Array.from({ length: 8 }, (_, i) => {
    const data = wide ? new Uint16Array(nx * ny) : new Uint8Array(nx * ny);
    const words = new Uint32Array(data.buffer, 0, data.byteLength >>> 2);
    for (let k = 0; k < words.length; k++) words[k] = rng.u32();
    return toNtNdArray(data, { nx, ny, uniqueId: i + 1 });
  });
  return { label: `${nx}x${ny} ${m[3]}`, nx, ny, bytes, frames, count: Math.max(16, Math.floor(budget / bytes)) };
}

function frame(c: Case, i: number): PVStructure {
  return { ...(c.frames[i % c.frames.length] as PVStructure), uniqueId: i + 1 };
}

function freshDir(name: string): string {
  const dir = join(root, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Seconds to write all frames with the HDF5 writer (open, every chunk, close). */
async function hdf5Run(c: Case): Promise<number> {
  const dir = freshDir('hdf5');
  const w = new Hdf5AdImageWriter({ outputDirectory: dir, nImagesPerFile: perFile });
  await w.start(); // loads h5wasm outside the timing
  const t0 = performance.now();
  for (let i = 0; i < c.count; i++) w.process(frame(c, i));
  w.stop();
  const s = (performance.now() - t0) / 1000;
  if (w.getStats()['nFilesSaved'] !== Math.ceil(c.count / perFile)) throw new Error('HDF5 writer lost files');
  rmSync(dir, { recursive: true });
  return s;
}

/** Seconds to write the same pixel bytes with fs.writeSync, one plain file per block of frames. */
function baselineRun(c: Case): number {
  const dir = freshDir('raw');
  const t0 = performance.now();
  let fd = -1;
  for (let i = 0; i < c.count; i++) {
    if (i % perFile === 0) {
      if (fd >= 0) closeSync(fd);
      fd = openSync(join(dir, `${i / perFile}.raw`), 'w');
    }
    const data = frame(c, i)['value'].value as Uint8Array;
    writeSync(fd, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }
  closeSync(fd);
  const s = (performance.now() - t0) / 1000;
  rmSync(dir, { recursive: true });
  return s;
}

/** Seconds to write each frame's pixels into a new file of its own with fs.writeFileSync. */
function filesBaselineRun(c: Case, count: number): number {
  const dir = freshDir('files');
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    const data = frame(c, i)['value'].value as Uint8Array;
    writeFileSync(join(dir, `${i}.raw`), new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }
  const s = (performance.now() - t0) / 1000;
  rmSync(dir, { recursive: true });
  return s;
}

/** Seconds to save every frame as its own TIFF file. */
async function tiffRun(c: Case, count: number): Promise<number> {
  const dir = freshDir('tiff');
  const w = new AdOutputFileProcessor({ outputDirectory: dir });
  await w.start();
  const t0 = performance.now();
  for (let i = 0; i < count; i++) await w.process(frame(c, i));
  const s = (performance.now() - t0) / 1000;
  rmSync(dir, { recursive: true });
  return s;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

const fmt = (x: number, d = 0) => x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

console.log(`HDF5 writer vs fs.writeSync, ${perFile} frames per file, medians of ${runs} runs, ~${opts.mb} MiB per run`);
console.log(
  '| frames | count | HDF5 (Hdf5AdImageWriter) | fs.writeSync, same files | HDF5 / baseline | TIFF files (AdOutputFileProcessor) | fs.writeFileSync, one file per frame |',
);
console.log('| --- | --- | --- | --- | --- | --- | --- |');
try {
  for (const spec of opts.sizes.split(',')) {
    const c = makeCase(spec);
    const tiffCount = Math.min(c.count, 5_000);
    const h: number[] = [];
    const b: number[] = [];
    const tf: number[] = [];
    const fb: number[] = [];
    for (let r = 0; r < runs; r++) {
      b.push(baselineRun(c));
      h.push(await hdf5Run(c));
      if (!opts['no-tiff']) {
        fb.push(filesBaselineRun(c, tiffCount));
        tf.push(await tiffRun(c, tiffCount));
      }
    }
    const rate = (s: number, n: number) => `${fmt(n / s)} frames/s (${fmt((n * c.bytes) / s / 1e6)} MB/s)`;
    const hs = median(h);
    const bs = median(b);
    const ts = tf.length ? `${rate(median(tf), tiffCount)}, ${tiffCount} files` : 'skipped';
    const fs = fb.length ? rate(median(fb), tiffCount) : 'skipped';
    console.log(`| ${c.label} | ${c.count} | ${rate(hs, c.count)} | ${rate(bs, c.count)} | ${fmt((bs / hs) * 100)}% | ${ts} | ${fs} |`);
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}
