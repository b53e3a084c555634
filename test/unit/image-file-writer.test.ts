// AdOutputFileProcessor and its encoders: every file is read back by an independent decoder
// (geotiff for TIFF, pngjs for PNG) and compared with the frame sent; names, configuration,
// statistics, and the ways writing fails (unsupported types, unwritable places, a full disk).
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fromArrayBuffer } from 'geotiff';
import { PNG } from 'pngjs';
import { ProcessingController } from '../../src/runtime/processing-controller.js';
import { crc32, encodePng } from '../../src/formats/png-write.js';
import { encodeTiff } from '../../src/formats/tiff-write.js';
import { AdOutputFileProcessor, ImageFileWriter } from '../../src/processing/builtin/image-file-writer.js';
import { loadProcessor } from '../../src/processing/loader.js';
import { ColorMode, ntndarray } from '../../src/pvdata/nt/ntndarray.js';
import type { PVStructure } from '../../src/pvdata/values.js';
import { frameFrom, pattern, tempDir } from '../helpers/image-frames.js';

interface Decoded {
  width: number;
  height: number;
  samples: number;
  /** Pixel-interleaved samples. */
  data: ArrayLike<number>;
  /** What the file says about the samples. */
  kind: string;
}

/** A fresh ArrayBuffer holding the bytes (what geotiff reads from). */
function arrayBufferOf(bytes: Uint8Array): ArrayBuffer {
  return new Uint8Array(bytes).buffer;
}

async function readTiff(path: string): Promise<Decoded> {
  const tiff = await fromArrayBuffer(arrayBufferOf(await readFile(path)));
  assert.equal(await tiff.getImageCount(), 1);
  const image = await tiff.getImage();
  const raster = (await image.readRasters({ interleave: true })) as unknown as ArrayLike<number>;
  const format = image.getSampleFormat(0);
  return {
    width: image.getWidth(),
    height: image.getHeight(),
    samples: image.getSamplesPerPixel(),
    data: raster,
    kind: `${format === 3 ? 'float' : format === 2 ? 'int' : 'uint'}${image.getBitsPerSample(0)}`,
  };
}

async function readPng(path: string): Promise<Decoded> {
  const png = PNG.sync.read(await readFile(path), { skipRescale: true });
  const samples = png.colorType === 2 ? 3 : 1;
  // pngjs expands every pixel to RGBA: keep the channels the file holds.
  const rgba = png.data as unknown as ArrayLike<number>;
  const data = Array.from(
    { length: png.width * png.height * samples },
    (_, i) => rgba[Math.floor(i / samples) * 4 + (i % samples)] as number,
  );
  return { width: png.width, height: png.height, samples, data, kind: `uint${png.depth}` };
}

function readImage(path: string): Promise<Decoded> {
  return path.endsWith('.png') ? readPng(path) : readTiff(path);
}

async function saved(p: AdOutputFileProcessor, value: PVStructure): Promise<void> {
  await p.process(value);
}

test('TIFF: 8/16/32-bit integers and 32/64-bit floats, mono, default file name, read back by geotiff', async (t) => {
  const dir = await tempDir(t);
  const p = new AdOutputFileProcessor({ outputDirectory: dir, processorId: 3 });
  const cases = [
    [Uint8Array, 'uint8'],
    [Uint16Array, 'uint16'],
    [Int16Array, 'int16'],
    [Uint32Array, 'uint32'],
    [Float32Array, 'float32'],
    [Float64Array, 'float64'],
  ] as const;
  let id = 1;
  for (const [ctor, kind] of cases) {
    const pixels = pattern(ctor as new (n: number) => Uint8Array, 33 * 17, id);
    await saved(p, frameFrom(pixels, 33, 17, 1, ColorMode.Mono, id));
    const img = await readTiff(join(dir, `${String(id).padStart(6, '0')}.3.tiff`));
    assert.deepEqual([img.width, img.height, img.samples, img.kind], [33, 17, 1, kind]);
    assert.deepEqual(Array.from(img.data), Array.from(pixels), kind);
    id++;
  }
  assert.equal(p.getStats()['nFilesSaved'], cases.length);
});

test('PNG: 8- and 16-bit mono and RGB read back by pngjs (checked CRCs, big-endian 16-bit samples)', async (t) => {
  const dir = await tempDir(t);
  const p = new AdOutputFileProcessor({ outputDirectory: dir, outputFileNameFormat: 'f{uniqueId}.png' });
  let id = 1;
  for (const ctor of [Uint8Array, Uint16Array]) {
    for (const nz of [1, 3]) {
      const pixels = pattern(ctor as new (n: number) => Uint16Array, 19 * 11 * nz, id);
      await saved(p, frameFrom(pixels, 19, 11, nz, nz === 3 ? ColorMode.RGB1 : ColorMode.Mono, id));
      const file = join(dir, `f${id}.png`);
      const img = await readPng(file);
      assert.deepEqual([img.width, img.height, img.samples, img.kind], [19, 11, nz, `uint${ctor.BYTES_PER_ELEMENT * 8}`]);
      assert.deepEqual(Array.from(img.data), Array.from(pixels));
      if (ctor === Uint16Array) {
        // The first sample of the first row, right after the filter byte, is stored high byte first.
        const first = pixels[0] as number;
        assert.equal(first > 255, true);
        assert.equal(
          encodePng({ width: 19, height: 11, samples: nz, data: pixels }, { level: 0 }).includes(
            Buffer.from([0, first >> 8, first & 0xff]),
          ),
          true,
        );
      }
      id++;
    }
  }
});

test('RGB1, RGB2 and RGB3 frames are saved pixel-interleaved, in TIFF and PNG', async (t) => {
  const dir = await tempDir(t);
  const pixels = pattern(Uint16Array, 7 * 5 * 3);
  for (const ext of ['tif', 'png']) {
    const p = new AdOutputFileProcessor({ outputDirectory: dir, outputFileNameFormat: `{uniqueId}.${ext}` });
    for (const mode of [ColorMode.RGB1, ColorMode.RGB2, ColorMode.RGB3]) {
      await saved(p, frameFrom(pixels, 7, 5, 3, mode, mode));
      const img = await readImage(join(dir, `${mode}.${ext}`));
      assert.deepEqual([img.width, img.height, img.samples], [7, 5, 3], `${ext} mode ${mode}`);
      assert.deepEqual(Array.from(img.data), Array.from(pixels), `${ext} mode ${mode}`);
    }
  }
});

test('encoders: TIFF in several strips, every PNG filter, CRC-32', async () => {
  const pixels = pattern(Uint8Array, 64 * 40 * 3);
  const tif = encodeTiff({ width: 64, height: 40, samples: 3, data: pixels }, { rowsPerStrip: 7 });
  const image = await (await fromArrayBuffer(arrayBufferOf(tif))).getImage();
  const dir = image.fileDirectory;
  assert.equal(((await dir.loadValue('StripOffsets')) as ArrayLike<number>).length, 6);
  assert.deepEqual(Array.from((await dir.loadValue('StripByteCounts')) as ArrayLike<number>), [...Array(5).fill(7 * 64 * 3), 5 * 64 * 3]);
  assert.equal(await dir.loadValue('PhotometricInterpretation'), 2);
  assert.equal(await dir.loadValue('Software'), 'Sluice\0', 'NUL-terminated, as TIFF ASCII fields are');
  assert.deepEqual(Array.from((await image.readRasters({ interleave: true })) as unknown as ArrayLike<number>), Array.from(pixels));
  for (const filter of ['none', 'sub', 'up', 'paeth'] as const) {
    for (const data of [pixels, pattern(Uint16Array, 64 * 40 * 3)]) {
      const png = PNG.sync.read(encodePng({ width: 64, height: 40, samples: 3, data }, { filter, level: 1 }), { skipRescale: true });
      const rgb = Array.from(png.data as unknown as ArrayLike<number>).filter((_, i) => i % 4 !== 3);
      assert.deepEqual(rgb, Array.from(data), filter);
    }
  }
  assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
  assert.throws(() => encodeTiff({ width: 4, height: 4, samples: 1, data: new Uint8Array(15) }), /needs 16 samples, data has 15/);
  assert.throws(() => encodePng({ width: 2, height: 2, samples: 2, data: new Uint8Array(8) }), /2 samples per pixel are not supported/);
});

test('file names: PvaPy placeholders and format specs; directories made as needed; both reconfigurable', async (t) => {
  const dir = await tempDir(t);
  const p = new AdOutputFileProcessor({
    outputDirectory: join(dir, 'a', 'b'),
    outputFileNameFormat: '{frameId:6d}_{objectId:x}_{processorId:03}.tiff',
    processorId: 2,
  });
  const f = (id: number) => frameFrom(pattern(Uint8Array, 8 * 4, id), 8, 4, 1, ColorMode.Mono, id);
  await saved(p, f(42));
  assert.deepEqual(await readdir(join(dir, 'a', 'b')), ['    42_2a_002.tiff']);
  p.configure({ outputDirectory: join(dir, 'c'), outputFileNameFormat: 'sub/{uniqueId:05}.PNG' });
  await saved(p, f(7));
  const img = await readPng(join(dir, 'c', 'sub', '00007.PNG'));
  assert.deepEqual(Array.from(img.data), Array.from(pattern(Uint8Array, 8 * 4, 7)));
  // A bad reconfiguration changes nothing.
  assert.throws(
    () => p.configure({ outputDirectory: join(dir, 'd'), outputFileNameFormat: '{nope}.tif' }),
    /unknown placeholder 'nope' \(known: uniqueId, frameId, objectId, processorId/,
  );
  assert.equal(p.outputDirectory, join(dir, 'c'));
  assert.equal(p.outputFileNameFormat, 'sub/{uniqueId:05}.PNG');
  // Defaults, as PvaPy's.
  const d = new AdOutputFileProcessor();
  assert.equal(d.outputDirectory, '.');
  assert.equal(d.outputFileNameFormat, '{uniqueId:06}.{processorId}.tiff');
  assert.throws(
    () => new AdOutputFileProcessor({ outputFileNameFormat: '{uniqueId}.jpg' }),
    /cannot tell the image format of '1.jpg': use one of the extensions .tif, .tiff, .png/,
  );
  assert.throws(
    () => new AdOutputFileProcessor({ outputFileNameFormat: '{uniqueId:q}.tif' }),
    /format spec 'q' of 'uniqueId' is not valid/,
  );
  assert.throws(() => new AdOutputFileProcessor({ outputDirectory: 5 }), /outputDirectory must be a non-empty string, not 5/);
});

test('frames are republished unchanged; empty frames are neither saved nor republished', async (t) => {
  const dir = await tempDir(t);
  const p = new AdOutputFileProcessor({ outputDirectory: dir });
  const published: PVStructure[] = [];
  p.publisher = (v) => published.push(v);
  const empty = ntndarray.build({ data: new Uint8Array(0), dims: [], uniqueId: 0 });
  assert.equal(p.process(empty), undefined);
  const frame = frameFrom(pattern(Uint8Array, 6 * 6), 6, 6, 1, ColorMode.Mono, 1);
  await saved(p, frame);
  assert.deepEqual(published, [frame]);
  assert.equal(published[0], frame);
  assert.deepEqual(await readdir(dir), ['000001.1.tiff']);
});

test('unsupported images: a clear error per frame, and the next frames are saved', async (t) => {
  const dir = await tempDir(t);
  const png = new AdOutputFileProcessor({ outputDirectory: dir, outputFileNameFormat: '{uniqueId}.png' });
  await assert.rejects(saved(png, frameFrom(pattern(Float32Array, 8 * 4), 8, 4, 1, ColorMode.Mono, 1)), {
    code: 'ERR_PROCESSOR',
    message:
      'frame 1 (8x4 float) cannot be saved as PNG: PNG holds 8- and 16-bit unsigned samples, not 32-bit float ones (TIFF takes them)',
  });
  await assert.rejects(
    saved(png, frameFrom(pattern(Int16Array, 8 * 4), 8, 4, 1, ColorMode.Mono, 2)),
    /frame 2 \(8x4 short\) cannot be saved as PNG: .*16-bit signed integer/,
  );
  const tif = new AdOutputFileProcessor({ outputDirectory: dir });
  const long = ntndarray.build({ data: new BigInt64Array(4), dims: [2, 2], uniqueId: 3 });
  await assert.rejects(saved(tif, long), /frame 3 \(2x2 long\) cannot be saved as TIFF: image samples must be .* not BigInt64Array/);
  await saved(png, frameFrom(pattern(Uint8Array, 8 * 4), 8, 4, 1, ColorMode.Mono, 4));
  assert.deepEqual(await readdir(dir), ['4.png']);
});

test('write errors are counted by the framework with the path named; nothing crashes, no partial files', async (t) => {
  const dir = await tempDir(t);
  const frame = (id: number) => frameFrom(pattern(Uint16Array, 16 * 16, id), 16, 16, 1, ColorMode.Mono, id);
  const opts = { objectIdField: 'uniqueId', objectIdOffset: 1, nSequentialUpdates: 1, skipInitialUpdates: 0 };

  // An output directory that cannot be created: its parent is a regular file (EACCES does not stop root).
  await writeFile(join(dir, 'plain'), 'x');
  const blocked = join(dir, 'plain', 'out');
  const p = new AdOutputFileProcessor({ outputDirectory: blocked });
  const warnings: string[] = [];
  p.logger = { debug() {}, info() {}, warn: (m) => warnings.push(m), error() {} };
  await p.start();
  assert.match(warnings[0] ?? '', new RegExp(`cannot create output directory '${blocked}': ENOTDIR`));
  const c = new ProcessingController(p, opts, null);
  for (let id = 1; id <= 3; id++) await c.process(frame(id), ntndarray.type());
  assert.equal(c.nErrors, 3);
  assert.equal(c.nProcessed, 0);
  assert.match(c.lastError?.message ?? '', new RegExp(`^cannot create output directory '${blocked}': ENOTDIR`));

  // The file cannot be opened: a directory has its name.
  const q = new AdOutputFileProcessor({ outputDirectory: dir });
  await mkdir(join(dir, '000001.1.tiff'));
  const c2 = new ProcessingController(q, opts, null);
  await c2.process(frame(1), ntndarray.type());
  assert.equal(c2.nErrors, 1);
  assert.match(c2.lastError?.message ?? '', new RegExp(`^frame 1: cannot write '${join(dir, '000001.1.tiff')}': EISDIR`));

  // A full disk: the file is a link to /dev/full, so writing fails with ENOSPC after the open.
  await symlink('/dev/full', join(dir, '000002.1.tiff'));
  await c2.process(frame(2), ntndarray.type());
  assert.equal(c2.nErrors, 2);
  assert.match(c2.lastError?.message ?? '', new RegExp(`^frame 2: cannot write '${join(dir, '000002.1.tiff')}': ENOSPC`));
  await assert.rejects(stat(join(dir, '000002.1.tiff')), { code: 'ENOENT' }, 'the failed file is removed');

  // And the stream goes on.
  await c2.process(frame(3), ntndarray.type());
  assert.equal(c2.nProcessed, 1);
  assert.deepEqual(Array.from((await readTiff(join(dir, '000003.1.tiff'))).data), Array.from(frame(3)['value'].value));
  assert.equal(q.getStats()['nFilesSaved'], 1);
});

test('statistics: files, bytes and rates, with types for the status PV; reset', async (t) => {
  const dir = await tempDir(t);
  const p = new AdOutputFileProcessor({ outputDirectory: dir });
  for (let id = 1; id <= 4; id++) await saved(p, frameFrom(pattern(Uint16Array, 32 * 8, id), 32, 8, 1, ColorMode.Mono, id));
  const sizes = await Promise.all((await readdir(dir)).map(async (f) => (await stat(join(dir, f))).size));
  const s = p.getStats();
  assert.equal(s['nFilesSaved'], 4);
  assert.equal(
    s['nBytesSaved'],
    sizes.reduce((a, b) => a + b, 0),
  );
  assert.ok((s['fileProcessingTime'] as number) > 0);
  assert.ok(Math.abs((s['fileProcessingRate'] as number) - 4 / (s['fileProcessingTime'] as number)) < 1e-9);
  assert.ok(
    Math.abs((s['dataStorageRateMBps'] as number) - (s['nBytesSaved'] as number) / (s['fileProcessingTime'] as number) / 1e6) < 1e-9,
  );
  assert.deepEqual(p.getStatsTypes(), {
    nFilesSaved: 'uint',
    nBytesSaved: 'ulong',
    fileProcessingTime: 'double',
    fileProcessingRate: 'double',
    dataStorageRateMBps: 'double',
  });
  p.resetStats();
  assert.deepEqual(Object.values(p.getStats()), [0, 0, 0, 0, 0]);
});

test('--processor-class AdOutputFileProcessor (and ImageFileWriter) load the built-in', async (t) => {
  const dir = await tempDir(t);
  const p = await loadProcessor({
    className: 'AdOutputFileProcessor',
    args: JSON.stringify({ outputDirectory: dir }),
    system: { processorId: 4 },
  });
  assert.ok(p instanceof AdOutputFileProcessor);
  assert.equal(p.outputDirectory, dir);
  assert.equal(p.outputFilePath(12), join(dir, '000012.4.tiff'));
  assert.equal(ImageFileWriter, AdOutputFileProcessor);
  assert.ok((await loadProcessor({ className: 'ImageFileWriter' })) instanceof AdOutputFileProcessor);
});
