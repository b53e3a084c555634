// RingBuffer: Pyacq's semantics (counters, gaps and fill, window and IndexError, double and single
// buffering, join and copy, axis order, slicing) checked against plain arithmetic.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SluiceError } from '../../src/errors.js';
import { RingBuffer, RingIndexError } from '../../src/streams/ring-buffer.js';
import type { NdChunk } from '../../src/streams/transfer.js';

/** Samples [a, b) of a 2-channel stream whose sample i is [i, 1000 + i]. */
function ramp(a: number, b: number): Float64Array {
  const out = new Float64Array((b - a) * 2);
  for (let i = a; i < b; i++) {
    out[(i - a) * 2] = i;
    out[(i - a) * 2 + 1] = 1000 + i;
  }
  return out;
}

/** A chunk as nested plain arrays, following its strides. */
function toList(c: NdChunk): unknown {
  const strides = c.strides ?? c.shape.map((_, k) => c.shape.slice(k + 1).reduce((p, d) => p * d, 1));
  const walk = (axis: number, off: number): unknown => {
    if (axis === c.shape.length) return Number(c.data[off]);
    return Array.from({ length: c.shape[axis] as number }, (_, i) => walk(axis + 1, off + i * (strides[axis] as number)));
  };
  return walk(0, 0);
}

const expected = (a: number, b: number) => Array.from({ length: b - a }, (_, k) => [a + k, 1000 + a + k]);

for (const double of [false, true]) {
  for (const axisorder of [null, [1, 0]]) {
    test(`write and read across the wrap (double=${double}, axisorder=${JSON.stringify(axisorder)})`, () => {
      const ring = new RingBuffer({ shape: [10, 2], dtype: 'float64', double, axisorder });
      assert.equal(ring.index(), 0);
      assert.equal(ring.firstIndex(), -10);
      for (let i = 0; i < 37; i += 3) ring.write(ramp(i, i + 3), i + 3);
      assert.equal(ring.index(), 39);
      assert.equal(ring.firstIndex(), 29);
      for (const [a, b] of [
        [29, 39],
        [30, 35],
        [35, 39],
        [39, 39],
      ] as const) {
        assert.deepEqual(toList(ring.getData(a, b)), expected(a, b), `[${a}, ${b})`);
        assert.deepEqual(toList(ring.getData(a, b, { copy: true })), expected(a, b));
        const pieces = ring.getData(a, b, { join: false });
        assert.deepEqual(
          pieces.flatMap((p) => toList(p) as unknown[]),
          expected(a, b),
        );
      }
      // [29, 39) starts at position 9 of 10: it wraps unless double
      assert.equal(ring.getData(29, 39, { join: false }).length, double ? 1 : 2);
      if (axisorder) assert.ok(ring.getData(30, 35).strides, 'a permuted ring gives strided views');
    });
  }
}

test('double buffering: every window is a view of the ring, a single ring copies across the wrap', () => {
  const dbl = new RingBuffer({ shape: [8, 2], dtype: 'float64', double: true });
  const one = new RingBuffer({ shape: [8, 2], dtype: 'float64' });
  for (const r of [dbl, one]) {
    r.write(ramp(0, 7), 7);
    r.write(ramp(7, 13), 13);
  }
  const inDouble = dbl.getData(5, 13);
  assert.equal(inDouble.data.buffer, dbl.buffer, 'double: a view');
  const inSingle = one.getData(5, 13);
  assert.notEqual(inSingle.data.buffer, one.buffer, 'single across the wrap: a copy');
  assert.equal(one.getData(8, 13).data.buffer, one.buffer, 'single without wrap: a view');
  assert.notEqual(dbl.getData(8, 13, { copy: true }).data.buffer, dbl.buffer, 'copy: a copy');
  assert.deepEqual(toList(inDouble), expected(5, 13));
  assert.deepEqual(toList(inSingle), expected(5, 13));
});

test('out-of-window reads throw RingIndexError (never clipped)', () => {
  const ring = new RingBuffer({ shape: [10, 2], dtype: 'float64' });
  ring.write(ramp(0, 10), 10);
  ring.write(ramp(10, 25).subarray(0, 20), 25);
  for (const [a, b] of [
    [14, 20],
    [20, 26],
    [18, 17],
    [0.5, 3],
  ] as const) {
    assert.throws(
      () => ring.getData(a, b),
      (e: unknown) => e instanceof RingIndexError && e instanceof SluiceError && e.code === 'ERR_INVALID_ARGUMENT',
    );
  }
  assert.throws(() => ring.getData(14, 20), /outside the readable window \[15, 25\)/);
});

test('windows before index 0 read the fill value: NaN for floats, 0 for integers, or the given fill', () => {
  const f = new RingBuffer({ shape: [6, 2], dtype: 'float32', double: true });
  f.write(new Float32Array([1, 2, 3, 4]), 2);
  const w = f.getData(-4, 2);
  assert.deepEqual(
    Array.from(w.data as ArrayLike<unknown>)
      .slice(0, 8)
      .map(Number.isNaN),
    new Array(8).fill(true),
  );
  assert.deepEqual(Array.from(w.data as ArrayLike<unknown>).slice(8), [1, 2, 3, 4]);
  const i = new RingBuffer({ shape: [4], dtype: 'int16' });
  assert.deepEqual(Array.from(i.getData(-4, 0).data as ArrayLike<unknown>), [0, 0, 0, 0]);
  const g = new RingBuffer({ shape: [4], dtype: 'int64', fill: -1 });
  assert.deepEqual(Array.from(g.getData(-2, 0).data as ArrayLike<unknown>), [-1n, -1n]);
});

test('an index that jumps leaves a gap filled with the fill value', () => {
  for (const axisorder of [null, [1, 0]]) {
    for (const double of [false, true]) {
      const ring = new RingBuffer({ shape: [10, 2], dtype: 'float64', fill: -7, double, axisorder });
      ring.write(ramp(0, 4), 4);
      ring.write(ramp(7, 9), 9); // gap [4, 7)
      assert.deepEqual(toList(ring.getData(2, 9)), [
        [2, 1002],
        [3, 1003],
        [-7, -7],
        [-7, -7],
        [-7, -7],
        [7, 1007],
        [8, 1008],
      ]);
      ring.write(ramp(40, 42), 42); // a gap longer than the ring: all fill but the chunk
      assert.deepEqual(toList(ring.getData(32, 42)), [...new Array(8).fill([-7, -7]), [40, 1040], [41, 1041]]);
    }
  }
});

test('rejected: a chunk larger than the ring, a dtype mismatch, an index advancing less than the chunk', () => {
  const ring = new RingBuffer({ shape: [4, 2], dtype: 'float64' });
  assert.throws(() => ring.write(ramp(0, 5)), /chunk of 5 samples is larger than the ring of 4/);
  assert.throws(() => ring.write(new Float32Array(4)), /chunk dtype float32 does not match the ring's float64/);
  ring.write(ramp(0, 2), 2);
  assert.throws(() => ring.write(ramp(2, 4), 3), /advances by 1, less than the chunk's 2 samples/);
  assert.throws(() => ring.write({ data: new Float64Array(6), shape: [2, 3] }), /does not end with the frame shape \[2\]/);
  assert.throws(() => ring.write({ data: new Float64Array(3), shape: [2, 2] }), /has 3 elements, shape \[2,2\] needs 4/);
  assert.throws(() => ring.write({ data: new Float64Array(4), shape: [2, 2], strides: [4, 1] }), /reach element 5/);
  assert.equal(ring.index(), 2, 'nothing was written');
  assert.throws(() => new RingBuffer({ shape: [0], dtype: 'uint8' }), /ring size/);
  assert.throws(() => new RingBuffer({ shape: [4, 2], dtype: 'uint8', axisorder: [0, 0] }), /not a permutation/);
});

test('a step that throws rolls both counters back', () => {
  const ring = new RingBuffer({ shape: [8, 2], dtype: 'float64' });
  ring.write(ramp(0, 3), 3);
  let reads = 0;
  const data = ramp(3, 5);
  // data is read once for the checks; the copy reads it again and fails
  const hostile = {
    shape: [2, 2],
    get data() {
      if (++reads > 2) throw new Error('source went away');
      return data;
    },
  } as unknown as NdChunk;
  assert.throws(() => ring.write(hostile, 5), /source went away/);
  assert.equal(ring.index(), 3);
  assert.equal(ring.writeIndex(), 3);
  ring.write(ramp(3, 5), 5);
  assert.deepEqual(toList(ring.getData(0, 5)), expected(0, 5));
});

test('strided chunks are written in place (a transposed source)', () => {
  const ring = new RingBuffer({ shape: [6, 2], dtype: 'int32', double: true });
  // memory [[0,1,2],[10,11,12]] read as (3 samples, 2 channels) with strides [1, 3]
  ring.write({ data: new Int32Array([0, 1, 2, 10, 11, 12]), shape: [3, 2], strides: [1, 3] }, 3);
  assert.deepEqual(toList(ring.getData(0, 3)), [
    [0, 10],
    [1, 11],
    [2, 12],
  ]);
});

test('axisorder [1, 0] keeps each channel contiguous in memory', () => {
  const ring = new RingBuffer({ shape: [4, 3], dtype: 'float64', axisorder: [1, 0] });
  ring.write(new Float64Array([0, 10, 20, 1, 11, 21]), 2);
  const mem = new Float64Array(ring.buffer, ring.dataOffset, 12);
  assert.deepEqual(Array.from(mem.slice(0, 2)), [0, 1], 'channel 0 first');
  assert.deepEqual(Array.from(mem.slice(4, 6)), [10, 11], 'then channel 1');
  const v = ring.getData(0, 2);
  assert.deepEqual(v.strides, [1, 4]);
  assert.deepEqual(toList(v), [
    [0, 10, 20],
    [1, 11, 21],
  ]);
  assert.deepEqual(toList(ring.at(1)), [1, 11, 21]);
});

test('slices: negative bounds relative to the read index, steps are strided views', () => {
  const ring = new RingBuffer({ shape: [10, 2], dtype: 'float64', double: true });
  ring.write(ramp(0, 8), 8);
  ring.write(ramp(8, 16), 16);
  assert.deepEqual(toList(ring.slice(-3)), expected(13, 16));
  assert.deepEqual(toList(ring.slice(-5, -2)), expected(11, 14));
  assert.deepEqual(toList(ring.slice(7, 12)), expected(7, 12));
  assert.deepEqual(toList(ring.slice()), expected(6, 16));
  const stepped = ring.slice(6, 16, 3);
  assert.equal(stepped.data.buffer, ring.buffer, 'a view');
  assert.deepEqual(
    toList(stepped),
    [6, 9, 12, 15].map((i) => [i, 1000 + i]),
  );
  assert.deepEqual(
    toList(ring.slice(6, 16, 3, { copy: true })),
    [6, 9, 12, 15].map((i) => [i, 1000 + i]),
  );
  assert.deepEqual(toList(ring.at(-1)), [15, 1015]);
  assert.throws(() => ring.slice(-11), RingIndexError);
  assert.throws(() => ring.slice(0, 4, 0), /step must be a positive integer/);
});

test('frames of any trailing shape, and a shared ring seen through a second instance', () => {
  const ring = new RingBuffer({ shape: [5, 2, 3], dtype: 'uint16', shared: true });
  const chunk = new Uint16Array(2 * 6).map((_, i) => i);
  ring.write({ data: chunk, shape: [2, 2, 3] }, 2);
  assert.ok(ring.buffer instanceof SharedArrayBuffer);
  const other = new RingBuffer({ shape: [5, 2, 3], dtype: 'uint16', buffer: ring.buffer });
  assert.equal(other.index(), 2);
  const got = other.getData(0, 2);
  assert.deepEqual(got.shape, [2, 2, 3]);
  assert.deepEqual(Array.from(got.data as ArrayLike<unknown>), Array.from(chunk));
  assert.deepEqual(toList(other.at(1)), [
    [6, 7, 8],
    [9, 10, 11],
  ]);
  assert.throws(() => new RingBuffer({ shape: [50, 2, 3], dtype: 'uint16', buffer: ring.buffer }), /smaller than the/);
});
