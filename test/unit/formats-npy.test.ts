// The .npy and .npz readers against files written here byte by byte from NumPy's format
// description: every pixel type in both byte orders, the three header versions, 2-d, 3-d and 4-d
// shapes, Fortran order, zip archives stored and deflated, and files that lie about their size.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import type { PixelArray } from '../../src/formats/frame-file.js';
import { openNpy, openNpz, parsePyLiteral } from '../../src/formats/npy.js';
import { npyBytes, zipBytes } from '../helpers/image-files.js';

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-npy-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function file(dir: string, name: string, bytes: Uint8Array): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

/** Elements 0..n-1 of each type, with negative and large values where the type has them. */
const SAMPLES: Record<string, (n: number) => PixelArray> = {
  int8: (n) => Int8Array.from({ length: n }, (_, i) => ((i * 37) % 256) - 128),
  uint8: (n) => Uint8Array.from({ length: n }, (_, i) => (i * 37) % 256),
  int16: (n) => Int16Array.from({ length: n }, (_, i) => i * 997 - 30000),
  uint16: (n) => Uint16Array.from({ length: n }, (_, i) => (i * 4099) % 65536),
  int32: (n) => Int32Array.from({ length: n }, (_, i) => i * 123456789 - 2e9),
  uint32: (n) => Uint32Array.from({ length: n }, (_, i) => (i * 2654435761) % 2 ** 32),
  int64: (n) => BigInt64Array.from({ length: n }, (_, i) => BigInt(i) * 1234567890123n - 2n ** 62n),
  uint64: (n) => BigUint64Array.from({ length: n }, (_, i) => BigInt(i) * 98765432109876n + 2n ** 63n),
  float32: (n) => Float32Array.from({ length: n }, (_, i) => i / 3 - 7),
  float64: (n) => Float64Array.from({ length: n }, (_, i) => Math.PI * i - 1e300 * (i % 2)),
};

test('.npy: every pixel type, little- and big-endian, a stack of frames read one by one', async (t) => {
  const dir = tempDir(t);
  const [n, ny, nx] = [3, 4, 5];
  for (const [dtype, make] of Object.entries(SAMPLES)) {
    const data = make(n * ny * nx);
    for (const le of [true, false]) {
      const f = await openNpy(file(dir, `${dtype}-${le}.npy`, npyBytes(data, [n, ny, nx], { littleEndian: le })));
      assert.equal(f.format, 'npy');
      assert.deepEqual(f.layout, { dtype, dims: [nx, ny], colorMode: 0 }, dtype);
      assert.equal(f.frames, n);
      for (let k = n - 1; k >= 0; k--) {
        const got = await f.read(k);
        assert.equal(got.constructor, data.constructor);
        assert.deepEqual([...got], [...data.subarray(k * nx * ny, (k + 1) * nx * ny)], `${dtype} ${le ? 'LE' : 'BE'} frame ${k}`);
      }
      // Several frames in one read: the same pixels.
      const many = await f.readMany!(1, 2);
      assert.deepEqual(
        many.map((a) => [...a]),
        [1, 2].map((k) => [...data.subarray(k * nx * ny, (k + 1) * nx * ny)]),
      );
      await f.close();
    }
  }
});

test('.npy: header versions 1, 2 and 3, a 2-d array is one frame, Python 2 long sizes', async (t) => {
  const dir = tempDir(t);
  const data = SAMPLES['uint16']!(6 * 7) as Uint16Array;
  for (const version of [1, 2, 3] as const) {
    const f = await openNpy(file(dir, `v${version}.npy`, npyBytes(data, [6, 7], { version })));
    assert.equal(f.frames, 1);
    assert.deepEqual(f.layout.dims, [7, 6], 'dims fastest first: [nx, ny]');
    assert.deepEqual([...(await f.read(0))], [...data]);
    await f.close();
  }
  assert.deepEqual(parsePyLiteral("{'descr': '<u2', 'fortran_order': False, 'shape': (6L, 7L), }"), {
    descr: '<u2',
    fortran_order: false,
    shape: [6, 7],
  });
  assert.deepEqual(parsePyLiteral('{"a": (), "b": (1,), "c": None, "d": True}'), { a: [], b: [1], c: null, d: true });
  assert.throws(() => parsePyLiteral("{'a': 1"), /expected/);
});

test('.npy: 4-d arrays are colour frames, the mode from the axis of 3; -cm decides 3-d arrays and ambiguous shapes', async (t) => {
  const dir = tempDir(t);
  const data = SAMPLES['uint8']!(2 * 4 * 5 * 3);
  const rgb1 = await openNpy(file(dir, 'rgb1.npy', npyBytes(data, [2, 4, 5, 3])));
  assert.deepEqual(rgb1.layout, { dtype: 'uint8', dims: [3, 5, 4], colorMode: 2 });
  assert.equal(rgb1.frames, 2);
  assert.deepEqual([...(await rgb1.read(1))], [...data.subarray(60)]);
  await rgb1.close();
  const rgb2 = await openNpy(file(dir, 'rgb2.npy', npyBytes(data, [2, 4, 3, 5])));
  assert.deepEqual(rgb2.layout.dims, [5, 3, 4]);
  assert.equal(rgb2.layout.colorMode, 3);
  const rgb3 = await openNpy(file(dir, 'rgb3.npy', npyBytes(data, [2, 3, 4, 5])));
  assert.deepEqual(rgb3.layout.dims, [5, 4, 3]);
  assert.equal(rgb3.layout.colorMode, 4);

  // A 3-d array is a stack unless -cm says it is one colour frame.
  const one = file(dir, 'one.npy', npyBytes(data.subarray(0, 60), [4, 5, 3]));
  assert.equal((await openNpy(one)).frames, 4);
  const colour = await openNpy(one, 2);
  assert.equal(colour.frames, 1);
  assert.deepEqual(colour.layout.dims, [3, 5, 4]);
  await assert.rejects(openNpy(one, 3), /does not fit colour mode 3/);

  const cube = file(dir, 'cube.npy', npyBytes(SAMPLES['uint8']!(2 * 27), [2, 3, 3, 3]));
  await assert.rejects(openNpy(cube), /could be colour mode 2 or 3 or 4: say which with -cm/);
  assert.equal((await openNpy(cube, 3)).layout.colorMode, 3);
  await assert.rejects(openNpy(rgb1.path, 0), /not mono/);
  await assert.rejects(openNpy(file(dir, 'nocolour.npy', npyBytes(SAMPLES['uint8']!(2 * 16), [2, 2, 2, 4]))), /needs an axis of 3/);
});

test('.npy: a Fortran-order frame is reordered to C order; a Fortran stack is refused', async (t) => {
  const dir = tempDir(t);
  // The 3x4 array a[r][c] = 10 r + c stored column by column.
  const colMajor = Float64Array.from({ length: 12 }, (_, i) => 10 * (i % 3) + Math.floor(i / 3));
  const f = await openNpy(file(dir, 'f.npy', npyBytes(colMajor, [3, 4], { fortran: true, littleEndian: false })));
  assert.deepEqual(f.layout.dims, [4, 3]);
  assert.deepEqual([...(await f.read(0))], [0, 1, 2, 3, 10, 11, 12, 13, 20, 21, 22, 23]);
  await f.close();
  await assert.rejects(
    openNpy(file(dir, 'fs.npy', npyBytes(SAMPLES['uint8']!(24), [2, 3, 4], { fortran: true }))),
    /Fortran order.*ascontiguousarray/,
  );
});

test('.npy: lying and hostile files are refused before anything large is allocated', async (t) => {
  const dir = tempDir(t);
  const data = SAMPLES['uint16']!(2 * 8 * 8);
  const cases: [string, Uint8Array, RegExp][] = [
    [
      'truncated',
      npyBytes(data, [2, 8, 8], { extra: -1 }),
      /truncated: the header declares shape \(2, 8, 8\) of <u2, 256 bytes of data, the file has 255/,
    ],
    ['longer', npyBytes(data, [2, 8, 8], { extra: 2 }), /size mismatch: .* the file has 258/],
    // A shape of 2^40 x 2^20 frames: the product is checked, never allocated.
    ['huge', npyBytes(data, [2 ** 20, 2 ** 20, 2 ** 20]), /too large|the file has 256/],
    ['huge2', npyBytes(data, [100000, 100000, 100000]), /the header declares shape .* the file has 256/],
    ['bool', npyBytes(new Uint8Array(4), [2, 2], { descr: '|b1' }), /dtype '\|b1' is not supported/],
    ['half', npyBytes(new Uint16Array(4), [2, 2], { descr: '<f2' }), /dtype '<f2' is not supported/],
    ['complex', npyBytes(new Float64Array(4), [1, 2], { descr: '<c16' }), /dtype '<c16' is not supported/],
    ['1d', npyBytes(data, [128]), /shape \[128\] has 1 dimensions/],
    ['5d', npyBytes(data, [2, 2, 2, 2, 8]), /has 5 dimensions/],
    ['empty', npyBytes(new Uint16Array(0), [0, 8, 8]), /has no frames/],
    ['magic', new TextEncoder().encode('PK\x03\x04 not numpy at all'), /not a \.npy file/],
    ['short', new Uint8Array([0x93, 0x4e]), /too short/],
  ];
  for (const [name, bytes, re] of cases) {
    await assert.rejects(openNpy(file(dir, `${name}.npy`, bytes)), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'ERR_FILE', `${name}: ${err.message}`);
      assert.match(err.message, re, name);
      assert.ok(err.message.startsWith(join(dir, `${name}.npy`)), 'the message names the file');
      return true;
    });
  }
  // A header length beyond the file, and a structured dtype.
  const dict = new TextEncoder().encode("{'descr': [('a', '<u2')], 'fortran_order': False, 'shape': (2,), }\n");
  const structured = new Uint8Array([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, dict.length, 0, ...dict, 0, 0, 0, 0]);
  await assert.rejects(openNpy(file(dir, 's.npy', structured)), /structured dtypes are not supported/);
  const longHeader = new Uint8Array([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 2, 0, 0xff, 0xff, 0x0f, 0x00]);
  await assert.rejects(openNpy(file(dir, 'lh.npy', longHeader)), /implausibly long|truncated/);
  await assert.rejects(openNpy(join(dir, 'missing.npy')), /missing\.npy: no such file/);
  await assert.rejects(openNpy(dir), /is a directory/);
});

test('.npz: stored and deflated members, in archive order; corrupt archives are refused', async (t) => {
  const dir = tempDir(t);
  const a = SAMPLES['int16']!(3 * 4 * 5);
  const b = Int16Array.from(SAMPLES['int16']!(2 * 4 * 5) as Int16Array, (x) => -x);
  for (const deflate of [false, true]) {
    const path = file(
      dir,
      `z${deflate}.npz`,
      zipBytes([
        { name: 'frames.npy', data: npyBytes(a, [3, 4, 5]), deflate },
        { name: 'more.npy', data: npyBytes(b, [2, 4, 5], { littleEndian: false }), deflate },
      ]),
    );
    const parts = await openNpz(path);
    assert.deepEqual(
      parts.map((p) => [p.format, p.detail, p.frames]),
      [
        ['npz', 'frames', 3],
        ['npz', 'more', 2],
      ],
    );
    assert.deepEqual([...(await parts[0]!.read(2))], [...a.subarray(40)]);
    assert.deepEqual([...(await parts[1]!.read(0))], [...b.subarray(0, 20)]);
    for (const p of parts) await p.close();
  }
  const good = zipBytes([{ name: 'x.npy', data: npyBytes(a, [3, 4, 5]), deflate: true }]);
  const corrupt = good.slice();
  corrupt[60] = (corrupt[60] as number) ^ 0xff; // inside the deflated data
  await assert.rejects(openNpz(file(dir, 'corrupt.npz', corrupt)), /does not inflate|CRC mismatch|inflates to/);
  await assert.rejects(openNpz(file(dir, 'cut.npz', good.subarray(0, good.length - 30))), /not a zip archive|corrupt/);
  await assert.rejects(openNpz(file(dir, 'empty.npz', zipBytes([{ name: 'readme.txt', data: new Uint8Array(3) }]))), /no \.npy members/);
  // A central directory that claims a 3 GB member: refused without inflating anything.
  const liar = zipBytes([{ name: 'x.npy', data: npyBytes(a, [3, 4, 5]), deflate: true }]);
  const v = new DataView(liar.buffer);
  const cd = v.getUint32(liar.length - 6, true);
  v.setUint32(cd + 24, 3e9, true);
  await assert.rejects(openNpz(file(dir, 'liar.npz', liar)), /too large to inflate/);
});
