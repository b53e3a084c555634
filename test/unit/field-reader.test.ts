// fieldReader: one field of an encoded value, read without decoding the whole value (merge
// --sort reads its key so from records it passes on undecoded).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SluiceError } from '../../src/errors.js';
import { TypeCache } from '../../src/pvdata/type-codec.js';
import { t } from '../../src/pvdata/types.js';
import { encodeValue } from '../../src/pvdata/value-codec.js';
import { fieldReader } from '../../src/pvdata/value-decode.js';
import { ByteReader, ByteWriter } from '../../src/pvdata/wire.js';

const inner = t.struct({ tag: t.int, when: t.struct({ seconds: t.long, nano: t.int }) });
const type = t.struct({
  pixels: t.array('ushort'),
  names: t.array('string'),
  fixed: t.array('int', 'fixed', 3),
  choice: t.union({ a: t.double, b: t.array('ubyte') }),
  anything: t.any,
  rows: t.structArray(t.struct({ x: t.int })),
  meta: inner,
  uniqueId: t.int,
});
const value = {
  pixels: new Uint16Array([1, 2, 3, 4, 5]),
  names: ['one', 'two'],
  fixed: new Int32Array([7, 8, 9]),
  choice: { field: 'b', value: new Uint8Array(300).fill(6) },
  anything: { type: t.string, value: 'any' },
  rows: [{ x: 1 }, { x: 2 }],
  meta: { tag: 42, when: { seconds: 1700000000n, nano: 5 } },
  uniqueId: 123456,
};

function encoded(le: boolean): Uint8Array {
  const w = new ByteWriter(le);
  encodeValue(w, type, value);
  return Buffer.concat(w.take());
}

/** The bytes as chunks of one byte each: every field straddles chunks. */
const bytewise = (b: Uint8Array): Uint8Array[] => Array.from(b, (x) => Uint8Array.of(x));

test('fieldReader reads a field past arrays, unions, any and structure arrays, in both byte orders and from 1-byte chunks', () => {
  for (const le of [true, false]) {
    const bytes = encoded(le);
    for (const chunks of [[bytes], bytewise(bytes)]) {
      const read = (path: string): unknown => {
        const reader = fieldReader(type, path);
        assert.ok(reader, path);
        return reader(new ByteReader(chunks, le), new TypeCache());
      };
      assert.equal(read('uniqueId'), 123456);
      assert.equal(read('meta.tag'), 42);
      assert.equal(read('meta.when.seconds'), 1700000000n);
      assert.equal(read('meta.when.nano'), 5);
      assert.deepEqual(read('names'), ['one', 'two']);
      assert.deepEqual([...(read('fixed') as Int32Array)], [7, 8, 9]);
    }
  }
});

test('fieldReader: null for a path that names no field; a lying array size is a clear error', () => {
  assert.equal(fieldReader(type, 'nosuch'), null);
  assert.equal(fieldReader(type, 'meta.nosuch'), null);
  assert.equal(fieldReader(type, 'uniqueId.x'), null, 'not a structure');
  assert.equal(fieldReader(type, 'choice.a'), null, 'unions are not walked');
  const w = new ByteWriter(true);
  w.u8(254);
  w.i32(0x7fffffff); // pixels: 2^31 ushorts, in a few bytes
  const reader = fieldReader(type, 'uniqueId');
  assert.ok(reader);
  assert.throws(
    () => reader(new ByteReader(Buffer.concat(w.take()), true), new TypeCache()),
    (e: unknown) => e instanceof SluiceError && e.code === 'ERR_DECODE' && /ushort/.test(e.message),
  );
});
