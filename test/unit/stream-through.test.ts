// Value records streamed through (the decoder's `through` option, StreamOutput.begin/bytes), as
// head, filter --every, partition and cat of files use them: each record decided at its header,
// its bytes handed on as they arrive, from chunks of any size; the output decodes to the values
// kept, with their type records and notes, and an end record that counts them.
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { StreamOutput } from '../../src/pipeline/stdio.js';
import { StreamDecoder, Verdict, type StreamItem } from '../../src/pipeline/stream-decoder.js';
import { StreamEncoder } from '../../src/pipeline/stream-format.js';
import { BitSet } from '../../src/pvdata/bitset.js';
import { ntndarray, ntscalar } from '../../src/pvdata/nt/index.js';
import { completeStructure } from '../../src/pvdata/values.js';
import { decodeAll } from '../helpers/pipeline.js';

const scalarT = ntscalar.type('double');
const frameT = ntndarray.type();

/** A note, 2 scalars, 3 frames (the type changes in the middle), another note, 1 scalar. */
function sample(littleEndian = true): Buffer {
  const e = new StreamEncoder({ littleEndian });
  const frame = (id: number): ReturnType<typeof completeStructure> =>
    completeStructure(frameT, ntndarray.build({ data: Uint16Array.from({ length: 300 }, (_, i) => i * id), dims: [20, 15], uniqueId: id }));
  return Buffer.concat(
    [
      e.header(),
      e.note({ source: 'a' }),
      e.value(scalarT, completeStructure(scalarT, { value: 0.5 })),
      e.value(scalarT, completeStructure(scalarT, { value: 1.5 }), { changed: BitSet.of(1), overrun: BitSet.of(1) }),
      e.value(frameT, frame(2)),
      e.value(frameT, frame(3)),
      e.value(frameT, frame(4)),
      e.note({ source: 'b' }),
      e.value(scalarT, completeStructure(scalarT, { value: 5.5 })),
      e.end(),
    ].flat(),
  );
}

/** The values (with marks) and notes of a stream, in order. */
const content = (items: StreamItem[]): unknown[] =>
  items.flatMap((i): unknown[] => (i.kind === 'value' ? [[i.value, [...i.changed], [...i.overrun]]] : i.kind === 'note' ? [i.note] : []));

/**
 * `bytes` read in chunks of `step` (each chunk in memory of its own), value k decided by
 * `verdict(k)`, into a StreamOutput flushed after each chunk. Returns what it wrote and how often.
 */
async function through(
  bytes: Buffer,
  step: number,
  verdict: (k: number) => Verdict,
  littleEndian = true,
): Promise<{ bytes: Buffer; writes: number; decoder: StreamDecoder }> {
  const sink = new PassThrough();
  const writes: Buffer[] = [];
  sink.on('data', (c: Buffer) => writes.push(c));
  const out = new StreamOutput(sink, { littleEndian });
  let k = 0;
  const decide = (): Verdict => verdict(k++);
  const decoder = new StreamDecoder(
    (item) => {
      // Notes, and values of the other byte order (decoded), as streamThrough() handles them.
      if (item.kind === 'note') out.note(item.note);
      if (item.kind !== 'value') return;
      const v = decide();
      if (v === Verdict.PASS || v === Verdict.LAST) out.write(item.type, item.value, { changed: item.changed, overrun: item.overrun });
    },
    {
      through: {
        littleEndian,
        decide(type, typeRecord) {
          const v = decide();
          if (v === Verdict.PASS || v === Verdict.LAST) out.begin(type, typeRecord);
          return v;
        },
        write: (b) => out.bytes(b),
      },
    },
  );
  for (let at = 0; at < bytes.length && !decoder.stopped; at += step) {
    decoder.push(Buffer.from(bytes.subarray(at, at + step)));
    out.flush();
  }
  decoder.finish();
  await out.end();
  return { bytes: Buffer.concat(writes), writes: writes.length, decoder };
}

test('through: every value passed comes out byte for byte, from chunks of any size', async () => {
  const bytes = sample();
  for (const step of [1, 3, 7, 64, 1000, bytes.length]) {
    const got = await through(bytes, step, () => Verdict.PASS);
    assert.deepEqual(got.bytes, bytes, `chunks of ${step}`);
  }
});

test('through: dropped values leave no bytes; type records go before the first value kept of each type', async () => {
  const bytes = sample();
  const all = decodeAll(bytes).filter((i) => i.kind === 'value');
  for (const step of [1, 5, 333, bytes.length]) {
    const { bytes: got } = await through(bytes, step, (k) => (k % 2 === 0 ? Verdict.PASS : Verdict.DROP));
    const items = decodeAll(got);
    // Values 0, 2 and 4 (a scalar, two frames); the last scalar (5) is dropped.
    assert.deepEqual(content(items), [{ source: 'a' }, ...content([all[0], all[2], all[4]] as StreamItem[]), { source: 'b' }]);
    assert.deepEqual(
      items.filter((i) => i.kind === 'type').map((i) => i.kind === 'type' && i.type.id),
      ['epics:nt/NTScalar:1.0', 'epics:nt/NTNDArray:1.0'],
    );
    const end = items.at(-1);
    assert.equal(end?.kind === 'end' && end.count, 3n, 'the end record counts the values written');
  }
  // Only the frames: the scalar type record is never written.
  const frames = decodeAll((await through(bytes, 11, (k) => (k >= 2 && k <= 4 ? Verdict.PASS : Verdict.DROP))).bytes);
  assert.deepEqual(
    frames.filter((i) => i.kind === 'type').map((i) => i.kind === 'type' && i.type.id),
    ['epics:nt/NTNDArray:1.0'],
  );
});

test('through: LAST ends the stream right after that value, STOP before it; the rest of the input is not read', async () => {
  const bytes = sample();
  for (const step of [1, 9, bytes.length]) {
    const last = await through(bytes, step, (k) => (k < 3 ? Verdict.PASS : Verdict.LAST));
    const values = decodeAll(last.bytes).filter((i) => i.kind === 'value');
    assert.equal(values.length, 4, `chunks of ${step}`);
    assert.ok(last.decoder.stopped);
    assert.doesNotThrow(() => last.decoder.push(Buffer.from('whatever follows')), 'input after a stop is ignored');
    const stop = await through(bytes, step, (k) => (k < 2 ? Verdict.PASS : Verdict.STOP));
    assert.equal(decodeAll(stop.bytes).filter((i) => i.kind === 'value').length, 2);
  }
});

test('through: a chunk of passed records is written as one view; the decoder keeps none of it', async () => {
  const e = new StreamEncoder();
  const many = Buffer.concat(
    [e.header(), ...Array.from({ length: 20 }, (_, v) => e.value(scalarT, completeStructure(scalarT, { value: v }))), e.end()].flat(),
  );
  const { writes } = await through(many, many.length, () => Verdict.PASS);
  // The stream header, the type record (a copy), the 20 value records (one view), the end record.
  assert.equal(writes, 4);
  const bytes = sample();
  const d = new StreamDecoder(() => {}, { through: { littleEndian: true, decide: () => Verdict.PASS, write: () => {} } });
  d.push(bytes.subarray(0, 100));
  const noteRecord = Buffer.concat(new StreamEncoder().note({ source: 'a' })).length;
  assert.equal(d.retainedBytes, 100 - 8 - noteRecord, 'only the type record not yet complete, its header included');
  const split = sample().indexOf(Buffer.from([0x56, 0, 0, 0])); // the first value record's header
  const d2 = new StreamDecoder(() => {}, { through: { littleEndian: true, decide: () => Verdict.PASS, write: () => {} } });
  d2.push(bytes.subarray(0, split + 3));
  assert.equal(d2.retainedBytes, 3, 'a record header split between chunks');
  d2.push(bytes.subarray(split + 3, split + 40));
  assert.equal(d2.retainedBytes, 0, 'payload bytes are handed on as they come');
});

test('through: an input in the other byte order is decoded and re-encoded, with the same values and verdicts', async () => {
  const be = sample(false);
  const { bytes } = await through(be, 13, (k) => (k === 1 ? Verdict.DROP : Verdict.PASS));
  assert.equal(bytes[5], 0, 'a little-endian stream');
  const want = decodeAll(be).filter((i) => !(i.kind === 'value' && i.index === 1n));
  assert.deepEqual(content(decodeAll(bytes)), content(want));
});

test('through: a truncated record or a hostile header still stops with a DecodeError naming the cause', async () => {
  const bytes = sample();
  await assert.rejects(
    through(bytes.subarray(0, bytes.length - 40), 64, () => Verdict.PASS),
    /truncated in the middle of a record/,
  );
  const bad = Buffer.from(bytes);
  const at = bad.indexOf(Buffer.from([0x56, 0, 0, 0]));
  bad[at] = 0x51; // 'Q': an upper-case kind nobody knows
  await assert.rejects(
    through(bad, 50, () => Verdict.PASS),
    new RegExp(`unknown record kind 0x51 at byte ${at}`),
  );
  const lying = Buffer.from(bytes);
  lying.writeUInt32LE(0x7fffffff, at + 4);
  await assert.rejects(
    through(lying, 50, () => Verdict.PASS),
    /exceeds the limit/,
  );
});
