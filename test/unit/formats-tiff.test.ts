// The TIFF reader against files built here from the TIFF 6.0 and BigTIFF specifications: both
// byte orders, several pages, strips and tiles, every supported compression and the predictor,
// every sample type, grey and RGB (chunky and planar); a strip compressed by libtiff as a golden
// vector for LZW; and hostile files (truncated, lying sizes, loops, unsupported tags), which must
// give an error naming the file, the page and the tag, without large allocations.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import type { FrameFile, PixelArray } from '../../src/formats/frame-file.js';
import { lzwDecode, openTiff, unpackBits } from '../../src/formats/tiff-read.js';
import { lzwEncode, packBits, tiffBytes, type TiffOptions, type TiffPageSpec } from '../helpers/image-files.js';

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-tiff-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

let count = 0;
async function open(dir: string, pages: TiffPageSpec[], o?: TiffOptions): Promise<FrameFile> {
  const path = join(dir, `f${count++}.tif`);
  writeFileSync(path, tiffBytes(pages, o));
  return openTiff(path);
}

async function frames(f: FrameFile): Promise<PixelArray[]> {
  const out: PixelArray[] = [];
  for (let k = 0; k < f.frames; k++) out.push(await f.read(k));
  await f.close();
  return out;
}

const W = 13;
const H = 7;
const ramp = (n: number, k = 1) => Uint16Array.from({ length: n }, (_, i) => (i * 331 * k) % 65536);

test('TIFF: grey uint16, little- and big-endian, classic and BigTIFF, several pages are several frames', async (t) => {
  const dir = tempDir(t);
  const pages = [1, 2, 3].map((k) => ({ width: W, height: H, pixels: ramp(W * H, k), rowsPerStrip: 3 }));
  for (const littleEndian of [true, false]) {
    for (const bigTiff of [false, true]) {
      const f = await open(dir, pages, { littleEndian, bigTiff });
      assert.equal(f.format, 'tiff');
      assert.deepEqual(f.layout, { dtype: 'uint16', dims: [W, H], colorMode: 0 });
      assert.equal(f.frames, 3);
      const got = await frames(f);
      got.forEach((a, k) =>
        assert.deepEqual([...a], [...pages[k]!.pixels], `${littleEndian ? 'II' : 'MM'} ${bigTiff ? 'BigTIFF' : ''} page ${k}`),
      );
    }
  }
});

test('TIFF: every sample type (8 to 64 bits, signed, unsigned, float) in both byte orders', async (t) => {
  const dir = tempDir(t);
  const n = W * H;
  const arrays: [string, PixelArray][] = [
    ['int8', Int8Array.from({ length: n }, (_, i) => (i % 256) - 128)],
    ['uint8', Uint8Array.from({ length: n }, (_, i) => (i * 7) % 256)],
    ['int16', Int16Array.from({ length: n }, (_, i) => i * 300 - 20000)],
    ['int32', Int32Array.from({ length: n }, (_, i) => i * 123456 - 1e9)],
    ['uint32', Uint32Array.from({ length: n }, (_, i) => i * 40000000)],
    ['int64', BigInt64Array.from({ length: n }, (_, i) => BigInt(i) * -(2n ** 50n))],
    ['uint64', BigUint64Array.from({ length: n }, (_, i) => BigInt(i) * 2n ** 56n)],
    ['float32', Float32Array.from({ length: n }, (_, i) => i / 7 - 3)],
    ['float64', Float64Array.from({ length: n }, (_, i) => i * 1e200 - 1e201)],
  ];
  for (const [dtype, pixels] of arrays) {
    for (const littleEndian of [true, false]) {
      const f = await open(dir, [{ width: W, height: H, pixels }], { littleEndian });
      assert.equal(f.layout.dtype, dtype);
      assert.deepEqual([...(await frames(f))[0]!], [...pixels], `${dtype} ${littleEndian}`);
    }
  }
});

test('TIFF: PackBits, LZW and Deflate, strips and tiles, predictor 2 (integers and floats)', async (t) => {
  const dir = tempDir(t);
  const u16 = ramp(W * H);
  const f32 = Float32Array.from({ length: W * H }, (_, i) => Math.sin(i) * 100);
  const variants: Partial<TiffPageSpec>[] = [
    { compression: 32773, rowsPerStrip: 2 },
    { compression: 5, rowsPerStrip: 4 },
    { compression: 8 },
    { compression: 5, predictor: 2 },
    { compression: 8, predictor: 2, rowsPerStrip: 3 },
    { tile: [16, 16] },
    { tile: [16, 16], compression: 8, predictor: 2 },
    { tile: [16, 16], compression: 32773 },
  ];
  for (const v of variants) {
    for (const littleEndian of [true, false]) {
      const f = await open(dir, [{ width: W, height: H, pixels: u16, ...v }], { littleEndian });
      assert.deepEqual([...(await frames(f))[0]!], [...u16], JSON.stringify(v));
      const g = await open(dir, [{ width: W, height: H, pixels: f32, ...v }], { littleEndian });
      assert.deepEqual([...(await frames(g))[0]!], [...f32], `float32 ${JSON.stringify(v)}`);
    }
  }
  // An LZW stream long enough to widen its codes to 12 bits and clear its table.
  const noise = Uint8Array.from({ length: 40000 }, (_, i) => (Math.imul(i, 2654435761) >>> 13) & 0xff);
  assert.deepEqual(lzwDecode(lzwEncode(noise), noise.length), noise);
  assert.deepEqual(unpackBits(packBits(noise), noise.length), noise);
  const big = await open(dir, [{ width: 200, height: 200, pixels: noise.subarray(0, 40000), compression: 5 }]);
  assert.deepEqual((await frames(big))[0], noise);
});

test('TIFF: an LZW strip written by libtiff decodes (golden vector)', () => {
  // tiffcp -c lzw of a 24x6 uint8 image whose pixel i is [1,2,3,1,2,3,4,4,4,4][i % 10] + (i >> 5).
  const strip = Buffer.from(
    '8000404038100c0907024160b0884c0e170881012060402c540b1389c5a2f068cc5a3114034840d0602c9245238a49a45249201e5c07904825f300281a652f98cd65c08044ea753c9e4fa020',
    'hex',
  );
  const want = Array.from({ length: 24 * 6 }, (_, i) => ([1, 2, 3, 1, 2, 3, 4, 4, 4, 4][i % 10] as number) + (i >> 5));
  assert.deepEqual([...lzwDecode(strip, want.length)], want);
});

test('TIFF: RGB chunky is colour mode RGB1 [3, nx, ny], planar is RGB3 [nx, ny, 3]; thumbnails are skipped', async (t) => {
  const dir = tempDir(t);
  const rgb = Uint8Array.from({ length: W * H * 3 }, (_, i) => (i * 5) % 256);
  const chunky = await open(dir, [{ width: W, height: H, pixels: rgb, samples: 3, compression: 8 }], { littleEndian: false });
  assert.deepEqual(chunky.layout, { dtype: 'uint8', dims: [3, W, H], colorMode: 2 });
  assert.deepEqual((await frames(chunky))[0], rgb);
  const planar = await open(dir, [{ width: W, height: H, pixels: rgb, samples: 3, planar: 2, rowsPerStrip: 2, compression: 32773 }]);
  assert.deepEqual(planar.layout, { dtype: 'uint8', dims: [W, H, 3], colorMode: 4 });
  assert.deepEqual((await frames(planar))[0], rgb, 'planes one after another, as RGB3 lays them out');
  const thumb = { width: 4, height: 2, pixels: new Uint16Array(8), newSubfileType: 1 };
  const withThumbs = await open(dir, [
    { width: W, height: H, pixels: ramp(W * H) },
    thumb,
    { width: W, height: H, pixels: ramp(W * H, 2) },
  ]);
  assert.equal(withThumbs.frames, 2, 'the reduced-resolution page is not a frame');
  assert.deepEqual([...(await frames(withThumbs))[1]!], [...ramp(W * H, 2)]);
});

test('TIFF: unsupported layouts are refused naming the file, page and tag', async (t) => {
  const dir = tempDir(t);
  const px = ramp(W * H);
  const base = { width: W, height: H, pixels: px };
  const cases: [TiffPageSpec[], RegExp][] = [
    [[{ ...base, override: { 259: [7] } }], /page 0: Compression \(tag 259\) = 7 \(JPEG\) is not supported/],
    [[{ ...base, override: { 259: [50000] } }], /Compression \(tag 259\) = 50000 \(Zstandard\)/],
    [[{ ...base, photometric: 3 }], /PhotometricInterpretation \(tag 262\) = 3 is not supported/],
    [[{ ...base, predictor: 1, override: { 317: [3] } }], /Predictor \(tag 317\) = 3 is not supported/],
    [[{ ...base, override: { 258: [12] } }], /BitsPerSample \(tag 258\) = 12 is not supported/],
    [
      [{ width: W, height: H, pixels: new Uint8Array(W * H * 3), samples: 3, extra: [[338, 3, [2]]], override: { 277: [3] } }],
      /ExtraSamples \(tag 338\)/,
    ],
    [[{ width: W, height: H, pixels: new Uint8Array(W * H * 3), samples: 3, override: { 277: [4] } }], /SamplesPerPixel \(tag 277\) = 4/],
    [[{ ...base, override: { 339: [3] } }], /SampleFormat \(tag 339\) = 3 with 16 bits is not supported/],
    [
      [base, { width: W + 1, height: H, pixels: ramp((W + 1) * H) }],
      /page 1 is 14x7x1 uint16, page 0 is 13x7x1 uint16: all pages must have one shape/,
    ],
  ];
  for (const [pages, re] of cases) {
    await assert.rejects(open(dir, pages), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'ERR_FILE');
      assert.match(err.message, re);
      assert.match(err.message, /f\d+\.tif: /, 'names the file');
      return true;
    });
  }
});

test('TIFF: hostile files (truncated, lying sizes, huge dimensions, loops) are refused before large allocations', async (t) => {
  const dir = tempDir(t);
  const good = tiffBytes([{ width: W, height: H, pixels: ramp(W * H), rowsPerStrip: 2 }]);
  const write = (name: string, bytes: Uint8Array) => {
    const path = join(dir, name);
    writeFileSync(path, bytes);
    return path;
  };
  const cases: [string, Uint8Array, RegExp][] = [
    // The directory is at the end: cutting the file loses it.
    ['cut', good.subarray(0, good.length - 10), /past the end of the file/],
    ['magic', Buffer.from('II\x2b\x00 this is not really a TIFF'), /malformed BigTIFF header|past the end/],
    ['order', Buffer.from('XX\x2a\x00\x08\x00\x00\x00'), /not a TIFF file/],
    ['short', Buffer.from('II*'), /too short/],
    // 40000 x 40000 uint16 (3.2 GB) promised by a file of a few hundred bytes.
    [
      'huge',
      tiffBytes([{ width: W, height: H, pixels: ramp(W * H), override: { 256: [40000], 257: [40000], 278: [40000] } }]),
      /strip 0 has 182 bytes, too few for 3200000000/,
    ],
    [
      'huge-deflate',
      tiffBytes([{ width: W, height: H, pixels: ramp(W * H), compression: 8, override: { 256: [40000], 257: [40000], 278: [40000] } }]),
      /too few for 3200000000 bytes/,
    ],
    [
      'elements',
      tiffBytes([{ width: W, height: H, pixels: ramp(W * H), override: { 256: [70000], 257: [70000], 278: [70000] } }]),
      /more than 2\^31 - 1 elements/,
    ],
    [
      'offset',
      tiffBytes([{ width: W, height: H, pixels: ramp(W * H), override: { 273: [1e9] } }]),
      /strip 0 \(182 bytes at 1000000000\) is past the end of the file/,
    ],
    [
      'strips',
      tiffBytes([{ width: W, height: H, pixels: ramp(W * H), rowsPerStrip: 2, override: { 278: [1] } }]),
      /StripOffsets \(tag 273\) = 4 values does not match the 7 strips/,
    ],
  ];
  for (const [name, bytes, re] of cases) {
    await assert.rejects(openTiff(write(`${name}.tif`, bytes)), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'ERR_FILE', `${name}: ${err.message}`);
      assert.match(err.message, re, name);
      return true;
    });
  }
  // A chain of directories that points back at itself.
  const loop = good.slice();
  const v = new DataView(loop.buffer);
  const first = v.getUint32(4, true);
  const entries = v.getUint16(first, true);
  v.setUint32(first + 2 + entries * 12, first, true);
  await assert.rejects(openTiff(write('loop.tif', loop)), /loops back to offset/);
  // A tag claiming four billion values.
  const many = good.slice();
  const m = new DataView(many.buffer);
  m.setUint32(first + 2 + 4, 0xffffffff, true); // the count of the first entry (ImageWidth)
  await assert.rejects(openTiff(write('many.tif', many)), /claims 4294967295 values, more than the file holds/);
  // Corrupt compressed data: a clear error when the frame is read.
  const bad = tiffBytes([{ width: W, height: H, pixels: ramp(W * H), compression: 8 }]);
  bad.fill(0x55, 10, 40);
  const f = await openTiff(write('bad.tif', bad));
  await assert.rejects(f.read(0), /page 0, strip 0: Deflate data does not decode|decodes to/);
  await f.close();
  await assert.rejects(openTiff(join(dir, 'nope.tif')), /nope\.tif: no such file/);
});
