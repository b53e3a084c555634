// Decode work bounds per message (ByteReader.limitWork): fields of type descriptions, counted as
// expanded when a cached type is reused, nesting through cached types, and elements of arrays that
// become objects or strings. Inputs are also fed as 1-byte chunks, as they may arrive.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SluiceError } from '../../src/errors.js';
import { decodeType, encodeType, TypeCache } from '../../src/pvdata/type-codec.js';
import { t, type FieldDesc, type StructureDesc } from '../../src/pvdata/types.js';
import { decodeTyped, encodeTyped } from '../../src/pvdata/value-codec.js';
import type { PVValue } from '../../src/pvdata/values.js';
import { ByteReader, ByteWriter, type DecodeLimits } from '../../src/pvdata/wire.js';

const bytesOf = (body: (w: ByteWriter) => void): Uint8Array => {
  const w = new ByteWriter(true);
  body(w);
  return new Uint8Array(Buffer.concat(w.take()));
};
const oneByteChunks = (b: Uint8Array): Uint8Array[] => Array.from(b, (_, i) => b.subarray(i, i + 1));

function reader(b: Uint8Array, limits: DecodeLimits, chunked: boolean): ByteReader {
  return new ByteReader(chunked ? oneByteChunks(b) : b, true).limitWork(limits);
}

const wide = (n: number): StructureDesc => t.struct(Array.from({ length: n }, (_, i) => [`f${i}`, t.int] as const));
const limitError = (re: RegExp) => (e: unknown) => e instanceof SluiceError && e.code === 'ERR_LIMIT' && re.test(e.message);

test('type descriptions: at most maxTypeFields fields per message', () => {
  const limits = { maxTypeFields: 100, maxElements: Infinity };
  for (const chunked of [false, true]) {
    // A structure of 99 members is 100 fields; one more member is one too many.
    const ok = decodeType(
      reader(
        bytesOf((w) => encodeType(w, wide(99))),
        limits,
        chunked,
      ),
      new TypeCache(),
    );
    assert.equal((ok as StructureDesc).fields.length, 99);
    assert.throws(
      () =>
        decodeType(
          reader(
            bytesOf((w) => encodeType(w, wide(100))),
            limits,
            chunked,
          ),
          new TypeCache(),
        ),
      limitError(/type descriptions of more than 100 fields in one message/),
    );
  }
  // Without limits (local data), any size decodes.
  assert.equal(
    (decodeType(new ByteReader(bytesOf((w) => encodeType(w, wide(5000)))), new TypeCache()) as StructureDesc).fields.length,
    5000,
  );
});

test('a cached type reused by id counts all its fields, and its depth where it is used', () => {
  const limits = { maxTypeFields: 100, maxElements: Infinity };
  const cache = new TypeCache();
  // 0xFD id 1: a structure of 40 fields (39 members), well within the limit.
  const define = bytesOf((w) => {
    w.u8(0xfd);
    w.i16(1);
    encodeType(w, wide(39));
  });
  decodeType(reader(define, limits, false), cache);
  // structure { a: <id 1>, b: <id 1> } is 81 fields: accepted; three uses are 121: refused.
  const uses = (k: number): Uint8Array =>
    bytesOf((w) => {
      w.u8(0x80);
      w.string('');
      w.size(k);
      for (let i = 0; i < k; i++) {
        w.string(`m${i}`);
        w.u8(0xfe);
        w.i16(1);
      }
    });
  assert.equal((decodeType(reader(uses(2), limits, false), cache) as StructureDesc).fields.length, 2);
  assert.throws(() => decodeType(reader(uses(3), limits, true), cache), limitError(/more than 100 fields/));

  // Nesting: a cached type 60 levels high may not be used 5 levels down (65 > 64).
  let deep: FieldDesc = t.struct({ leaf: t.int });
  for (let i = 0; i < 59; i++) deep = t.struct({ a: deep });
  const deepCache = new TypeCache();
  decodeType(
    new ByteReader(
      bytesOf((w) => {
        w.u8(0xfd);
        w.i16(2);
        encodeType(w, deep);
      }),
    ),
    deepCache,
  );
  const nestedUse = (levels: number): Uint8Array =>
    bytesOf((w) => {
      for (let i = 0; i < levels; i++) {
        w.u8(0x80);
        w.string('');
        w.size(1);
        w.string('x');
      }
      w.u8(0xfe);
      w.i16(2);
    });
  decodeType(new ByteReader(nestedUse(4)), deepCache);
  assert.throws(
    () => decodeType(new ByteReader(nestedUse(5)), deepCache),
    limitError(/type nesting deeper than 64 \(through cached type 2\)/),
  );
});

test('elements that become objects or strings: at most maxElements per message', () => {
  const limits = { maxTypeFields: Infinity, maxElements: 1000 };
  const cases: [FieldDesc, (n: number) => PVValue, RegExp][] = [
    [t.array('string'), (n) => Array.from({ length: n }, () => 'x'), /string\[\]/],
    [t.array('boolean'), (n) => Array.from({ length: n }, () => true), /boolean\[\]/],
    [t.structArray(t.struct({})), (n) => Array.from({ length: n }, () => ({})), /structureArray/],
    [t.anyArray, (n) => Array.from({ length: n }, () => null), /anyArray/],
  ];
  for (const [type, make, re] of cases) {
    for (const chunked of [false, true]) {
      const ok = decodeTyped(
        reader(
          bytesOf((w) => encodeTyped(w, type, make(1000))),
          limits,
          chunked,
        ),
        new TypeCache(),
      );
      assert.equal((ok.value as unknown[]).length, 1000);
      assert.throws(
        () =>
          decodeTyped(
            reader(
              bytesOf((w) => encodeTyped(w, type, make(1001))),
              limits,
              chunked,
            ),
            new TypeCache(),
          ),
        limitError(re),
      );
    }
  }
  // A structure element counts as its fields: 250 elements of a 4-field structure are 1000.
  const el = t.struct({ a: t.struct({ b: t.int }), c: t.int });
  const arr = (n: number): Uint8Array =>
    bytesOf((w) =>
      encodeTyped(
        w,
        t.structArray(el),
        Array.from({ length: n }, () => ({ a: { b: 1 }, c: 2 })),
      ),
    );
  decodeTyped(reader(arr(250), limits, false), new TypeCache());
  assert.throws(() => decodeTyped(reader(arr(251), limits, false), new TypeCache()), limitError(/more than 1000 structures/));
});

test('large structures decode the same with the loop decoder as with the compiled one', () => {
  for (const n of [64, 65, 300]) {
    const type = wide(n);
    const value = Object.fromEntries(Array.from({ length: n }, (_, i) => [`f${i}`, i * 3]));
    const back = decodeTyped(new ByteReader(bytesOf((w) => encodeTyped(w, type, value))), new TypeCache());
    assert.deepEqual(back.value, value);
  }
  assert.deepEqual(
    decodeTyped(new ByteReader(bytesOf((w) => encodeTyped(w, t.struct({ e: t.struct({}) }), { e: {} }))), new TypeCache()).value,
    { e: {} },
  );
});
