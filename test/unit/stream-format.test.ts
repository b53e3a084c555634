// The pipeline stream format: round trips (whole, one byte at a time, either byte order, a type
// change mid-stream, notes), the exact bytes of a small stream (docs/stream-format.md gives them),
// and wrong or hostile streams, each stopped with an error naming the cause.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DecodeError } from '../../src/errors.js';
import { RecordKind, StreamEncoder } from '../../src/pipeline/stream-format.js';
import { BitSet } from '../../src/pvdata/bitset.js';
import { ntndarray, ntscalar } from '../../src/pvdata/nt/index.js';
import { t } from '../../src/pvdata/types.js';
import { completeStructure } from '../../src/pvdata/values.js';
import { decodeAll } from '../helpers/pipeline.js';

const intT = t.struct([['value', t.int]]);

function concat(chunks: Uint8Array[][]): Buffer {
  return Buffer.concat(chunks.flat());
}

function sampleStream(littleEndian: boolean): Buffer {
  const e = new StreamEncoder({ littleEndian });
  const scalarT = ntscalar.type('double');
  const frameT = ntndarray.type();
  const frame = ntndarray.build({ data: Uint16Array.from({ length: 64 }, (_, i) => i * 3), dims: [8, 8], uniqueId: 5 });
  return concat([
    e.header(),
    e.note({ source: 'sim:image' }),
    e.value(scalarT, completeStructure(scalarT, { value: 1.5 })),
    e.value(scalarT, completeStructure(scalarT, { value: 2.5 }), { changed: BitSet.of(1), overrun: BitSet.of(1) }),
    e.value(frameT, completeStructure(frameT, frame)),
    e.end(),
  ]);
}

test('stream format: values, marks, a type change and a note come back, whole or one byte at a time, either byte order', () => {
  for (const le of [true, false]) {
    const bytes = sampleStream(le);
    const whole = decodeAll(bytes);
    assert.deepEqual(decodeAll(bytes, 1), whole);
    assert.deepEqual(decodeAll(bytes, 7), whole);
    assert.deepEqual(
      whole.map((i) => i.kind),
      ['note', 'type', 'value', 'value', 'type', 'value', 'end'],
    );
    const values = whole.filter((i) => i.kind === 'value');
    assert.equal(values[0]?.value['value'], 1.5);
    assert.deepEqual([...(values[0]?.changed ?? [])], [0], 'no marks: wholly changed');
    assert.deepEqual([...(values[1]?.changed ?? [])], [1]);
    assert.deepEqual([...(values[1]?.overrun ?? [])], [1]);
    const frame = values[2]?.value['value'] as { field: string; value: Uint16Array };
    assert.equal(frame.field, 'ushortValue');
    assert.deepEqual([...frame.value.subarray(0, 4)], [0, 3, 6, 9]);
    assert.deepEqual(whole[0], { kind: 'note', note: { source: 'sim:image' } });
    assert.deepEqual(whole.at(-1), { kind: 'end', count: 3n });
  }
});

test('stream format: the exact bytes of a one-value stream (the golden vector of docs/stream-format.md)', () => {
  const e = new StreamEncoder({ littleEndian: true });
  const bytes = concat([e.header(), e.value(intT, { value: 7 }), e.end()]);
  const expected = [
    '89 53 4c 53 01 00 00 00', // magic, version 1, flags 0 (little-endian), reserved
    '54 00 00 00 0a 00 00 00', // type record, 10 bytes:
    '80 00 01 05 76 61 6c 75 65 22', //   structure, id "", 1 field, "value", int
    '56 00 00 00 07 00 00 00', // value record, 7 bytes:
    '01 01 00 07 00 00 00', //   changed {0}, overrun {}, value 7
    '45 00 00 00 08 00 00 00', // end record, 8 bytes:
    '01 00 00 00 00 00 00 00', //   1 value
  ]
    .join(' ')
    .replace(/ /g, '');
  assert.equal(bytes.toString('hex'), expected);
  assert.deepEqual(
    decodeAll(bytes).map((i) => i.kind),
    ['type', 'value', 'end'],
  );
});

function expectError(bytes: Uint8Array, pattern: RegExp, step = bytes.length): void {
  assert.throws(
    () => decodeAll(bytes, step),
    (e: unknown) => e instanceof DecodeError && e.code === 'ERR_DECODE' && pattern.test(e.message),
  );
}

function withRecord(kind: number, payload: number[], length = payload.length, flags = 0): Buffer {
  const e = new StreamEncoder({ littleEndian: true });
  const head = Buffer.alloc(8);
  head[0] = kind;
  head[1] = flags;
  head.writeUInt32LE(length, 4);
  return Buffer.concat([...e.header(), ...e.value(intT, { value: 1 }), head, Buffer.from(payload)]);
}

test('stream format: a wrong stream stops with one clear error', () => {
  expectError(Buffer.from('{"value":1}\n'), /not a Sluice stream .*looks like text/);
  expectError(Buffer.alloc(0), /empty input/);
  const good = sampleStream(true);
  const v2 = Buffer.from(good);
  v2[4] = 2;
  expectError(v2, /version 2; this reader knows version 1/);
  const flags = Buffer.from(good);
  flags[5] = 0x80;
  expectError(flags, /unknown stream header flags/);
  expectError(withRecord(0x51, []), /unknown record kind 0x51/);
  expectError(withRecord(RecordKind.VALUE, [1, 1, 0, 1, 0, 0, 0], 7, 1), /record flags 1/);
});

test('stream format: hostile sizes and contents are refused before anything is allocated for them', () => {
  // A record claiming 4 GiB: refused from its header alone.
  expectError(withRecord(RecordKind.VALUE, [], 0xffff_fff0), /record of 4294967280 bytes .* exceeds the limit/);
  // A value record with bytes left over, or too short for its value.
  expectError(withRecord(RecordKind.VALUE, [1, 1, 0, 1, 0, 0, 0, 9]), /bad value record .*1 bytes left over/);
  expectError(withRecord(RecordKind.VALUE, [1, 1, 0, 1]), /bad value record/);
  // A type record that is not a structure; an end record that miscounts.
  expectError(withRecord(RecordKind.TYPE, [0x22]), /bad type record .*a scalar, not a structure/);
  expectError(withRecord(RecordKind.END, [9, 0, 0, 0, 0, 0, 0, 0]), /counts 9 values, the stream held 1/);
  expectError(withRecord(RecordKind.NOTE, [...Buffer.from('[1]')]), /bad note record .*not a JSON object/);
  // A value before any type.
  const e = new StreamEncoder({ littleEndian: true });
  const head = Buffer.from([RecordKind.VALUE, 0, 0, 0, 7, 0, 0, 0, 1, 1, 0, 1, 0, 0, 0]);
  expectError(Buffer.concat([...e.header(), head]), /a value before any type record/);
  // A lower-case record this reader does not know is skipped.
  const skipped = decodeAll(Buffer.concat([withRecord(0x78, [1, 2, 3]), Buffer.from('4500000008000000' + '0100000000000000', 'hex')]));
  assert.deepEqual(
    skipped.map((i) => i.kind),
    ['type', 'value', 'end'],
  );
});

test('stream format: every truncation of a stream is an error, never a silent end; nothing may follow the end', () => {
  const bytes = sampleStream(true);
  for (let n = 0; n < bytes.length; n++) {
    assert.throws(() => decodeAll(bytes.subarray(0, n)), /truncated|empty input/, `cut at ${n}`);
  }
  expectError(Buffer.concat([bytes, Buffer.from([0])]), /data after the end record/);
  expectError(Buffer.concat([bytes, Buffer.from([0])]), /data after the end record/, 1);
});

test('stream format: the encoder refuses a value that does not fit its type and stays usable; nothing after end()', () => {
  const e = new StreamEncoder({ littleEndian: true });
  const head = e.header();
  assert.throws(() => e.value(intT, { value: 'seven' as unknown as number }));
  const rest = [e.value(intT, { value: 7 }), e.end()];
  assert.deepEqual(
    decodeAll(concat([head, ...rest])).map((i) => (i.kind === 'value' ? i.value['value'] : i.kind)),
    ['type', 7, 'end'],
  );
  assert.throws(() => e.value(intT, { value: 8 }), /the stream has ended/);
});
