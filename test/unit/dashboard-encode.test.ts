// The dashboard's encoders without sockets: image binning of every layout, the binary message
// layout, PVWS vtypes, and the changed leaves of structures.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { binningFor, decimate, packImage, unpackImage } from '../../src/dashboard/image.js';
import { changedLeaves, classify, PvwsEncoder } from '../../src/dashboard/pvws-update.js';
import { ntenum, ntndarray, ntscalar, ntscalarArray } from '../../src/pvdata/nt/index.js';
import { ColorMode } from '../../src/pvdata/nt/ntndarray.js';
import { t } from '../../src/pvdata/types.js';
import type { PVTypedArray } from '../../src/pvdata/values.js';

const frame = (data: PVTypedArray, dims: number[], colorMode: number = ColorMode.Mono) =>
  ntndarray.build({ data, dims, uniqueId: 5, colorMode });

test('binningFor: the smallest integer factor that fits', () => {
  assert.equal(binningFor(2048, 2048, 1024), 2);
  assert.equal(binningFor(1024, 100, 1024), 1);
  assert.equal(binningFor(3000, 10, 1024), 3);
  assert.equal(binningFor(2049, 10, 1024), 3);
});

test('mean binning: partial edge bins average what they have; integers round', () => {
  // 3x3 uint8, values 0..8, bin 2: bins {0,1,3,4} {2,5} {6,7} {8}.
  const img = decimate(
    frame(
      Uint8Array.from({ length: 9 }, (_, i) => i),
      [3, 3],
    ),
    2,
    'mean',
  );
  assert.deepEqual([img.width, img.height, img.binning], [2, 2, 2]);
  assert.deepEqual(Array.from(img.pixels as ArrayLike<number>), [2, 4, 7, 8]);
  const s = decimate(
    frame(
      Uint8Array.from({ length: 9 }, (_, i) => i),
      [3, 3],
    ),
    2,
    'stride',
  );
  assert.deepEqual(Array.from(s.pixels as ArrayLike<number>), [0, 2, 6, 8]);
});

test('colour layouts RGB1, RGB2, RGB3 all come out pixel-interleaved', () => {
  // 2x2 image, pixel (x, y) has R = 10*y + x, G = R + 100, B = R + 200.
  const rgb = (x: number, y: number, c: number) => 10 * y + x + 100 * c;
  const expected: number[] = [];
  for (let y = 0; y < 2; y++) for (let x = 0; x < 2; x++) for (let c = 0; c < 3; c++) expected.push(rgb(x, y, c));
  const layouts: [number, number[], (x: number, y: number, c: number) => number][] = [
    [ColorMode.RGB1, [3, 2, 2], (x, y, c) => c + 3 * x + 6 * y],
    [ColorMode.RGB2, [2, 3, 2], (x, y, c) => x + 2 * c + 6 * y],
    [ColorMode.RGB3, [2, 2, 3], (x, y, c) => x + 2 * y + 4 * c],
  ];
  for (const [mode, dims, index] of layouts) {
    const data = new Uint16Array(12);
    for (let y = 0; y < 2; y++) for (let x = 0; x < 2; x++) for (let c = 0; c < 3; c++) data[index(x, y, c)] = rgb(x, y, c);
    const img = decimate(frame(data, dims, mode), 1024, 'mean');
    assert.deepEqual([img.width, img.height, img.channels], [2, 2, 3]);
    assert.deepEqual(Array.from(img.pixels as ArrayLike<number>), expected, `colour mode ${mode}`);
    const binned = decimate(frame(data, dims, mode), 1, 'mean');
    // One bin of the four pixels: the mean of each component, rounded.
    assert.deepEqual(Array.from(binned.pixels as ArrayLike<number>), [6, 106, 206], `colour mode ${mode} binned`);
  }
});

test('64-bit integer frames are sent as float64; every other dtype keeps its own', () => {
  assert.equal(decimate(frame(BigInt64Array.of(1n, 2n, 3n, 4n), [2, 2]), 1, 'mean').dtype, 'float64');
  assert.deepEqual(Array.from(decimate(frame(BigUint64Array.of(1n, 2n, 3n, 5n), [2, 2]), 1, 'mean').pixels as ArrayLike<number>), [2.75]);
  const types: [PVTypedArray, string][] = [
    [new Int8Array(4), 'int8'],
    [new Uint8Array(4), 'uint8'],
    [new Int16Array(4), 'int16'],
    [new Uint16Array(4), 'uint16'],
    [new Int32Array(4), 'int32'],
    [new Uint32Array(4), 'uint32'],
    [new Float32Array(4), 'float32'],
    [new Float64Array(4), 'float64'],
  ];
  for (const [data, dtype] of types) assert.equal(decimate(frame(data, [2, 2]), 1, 'mean').dtype, dtype);
});

test('image messages: header length, then pixels at a multiple of 8, little-endian', () => {
  for (const pv of ['a', 'ab', 'abc', 'abcd', 'abcdefgh', 'x'.repeat(37)]) {
    const img = decimate(frame(Float64Array.of(1.5, -2, 3, 4), [2, 2]), 1024, 'mean');
    const msg = packImage(pv, img, 'mean', 3);
    const len = msg.readUInt32LE(0);
    const start = Math.ceil((4 + len) / 8) * 8;
    assert.equal(msg.length, start + 32);
    assert.equal(msg.readDoubleLE(start), 1.5);
    const { header, pixels } = unpackImage(msg);
    assert.deepEqual([header.pv, header.dropped, header.uniqueId, header.width], [pv, 3, 5, 2]);
    assert.equal(pixels.length, 32);
  }
});

test('PVWS vtypes by value type', () => {
  assert.deepEqual(classify(ntscalar.type('double')), { kind: 'scalar', vtype: 'VDouble' });
  assert.deepEqual(classify(ntscalar.type('ubyte')), { kind: 'scalar', vtype: 'VUByte' });
  assert.deepEqual(classify(ntscalar.type('string')), { kind: 'string', vtype: 'VString' });
  assert.deepEqual(classify(ntscalar.type('boolean')), { kind: 'boolean', vtype: 'VBoolean' });
  assert.deepEqual(classify(ntenum.type()), { kind: 'enum', vtype: 'VEnum' });
  assert.deepEqual(classify(ntscalarArray.type('float')), { kind: 'array', vtype: 'VFloatArray' });
  assert.deepEqual(classify(ntscalarArray.type('string')), { kind: 'stringArray', vtype: 'VStringArray' });
  assert.deepEqual(classify(t.struct({ command: t.string })), { kind: 'structure', vtype: 'VStructure' });
  assert.deepEqual(classify(t.struct({ value: t.struct({ a: t.int }) })), { kind: 'structure', vtype: 'VStructure' });
});

test('changedLeaves: only what differs, nested the same way; arrays whole', () => {
  assert.equal(changedLeaves({ a: 1, b: { c: [1, 2] } }, { a: 1, b: { c: [1, 2] } }), undefined);
  assert.deepEqual(changedLeaves({ a: 1, b: { c: 2, d: 3 } }, { a: 1, b: { c: 2, d: 4 } }), { b: { d: 4 } });
  assert.deepEqual(changedLeaves({ l: [1, 2] }, { l: [1, 3] }), { l: [1, 3] });
  assert.deepEqual(changedLeaves({ a: 1 }, { a: 1, n: 'new' }), { n: 'new' });
  assert.deepEqual(changedLeaves(undefined, { a: 1 }), { a: 1 });
});

test('encoder: booleans as 0/1 with text, 64-bit integers as numbers, the time stamp as seconds and nanos', () => {
  const enc = new PvwsEncoder('b');
  const b = ntscalar.create('boolean', true, { timeStamp: { secondsPastEpoch: 1700000000n, nanoseconds: 5, userTag: 0 } });
  const m = enc.encode(b.type, b.value, true);
  assert.deepEqual([m?.['value'], m?.['text'], m?.['seconds'], m?.['nanos']], [1, 'true', 1700000000, 5]);
  const l = ntscalar.create('long', 1234567890123n);
  assert.equal(new PvwsEncoder('l').encode(l.type, l.value, true)?.['value'], 1234567890123);
  const s = t.struct({ n: t.long, x: t.double });
  const se = new PvwsEncoder('s');
  assert.deepEqual(se.encode(s, { n: 2n ** 60n, x: Infinity }, true)?.['value'], { n: '1152921504606846976', x: 'Infinity' });
  assert.equal(se.encode(s, { n: 2n ** 60n, x: Infinity }, true), null, 'nothing changed: nothing to send');
});
