// Values passed on undecoded (the decoder's `undecoded` option and StreamOutput.pass), as head,
// tee, partition and merge do: the same bytes come out, from chunks of any size; records held from
// one chunk are written as one view; a type change, a second input of another type and an input in
// the other byte order still give a stream that decodes to the same values.
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { readBatches, readStream, StreamOutput } from '../../src/pipeline/stdio.js';
import { StreamDecoder, type RecordItem, type StreamItem, type ValueItem } from '../../src/pipeline/stream-decoder.js';
import { StreamEncoder } from '../../src/pipeline/stream-format.js';
import { BitSet } from '../../src/pvdata/bitset.js';
import { ntndarray, ntscalar } from '../../src/pvdata/nt/index.js';
import { completeStructure } from '../../src/pvdata/values.js';
import { decodeAll } from '../helpers/pipeline.js';

const scalarT = ntscalar.type('double');
const frameT = ntndarray.type();

function sample(littleEndian: boolean, first = 1): Buffer {
  const e = new StreamEncoder({ littleEndian });
  const frame = (id: number): ReturnType<typeof completeStructure> =>
    completeStructure(frameT, ntndarray.build({ data: Uint16Array.from({ length: 64 }, (_, i) => i + id), dims: [8, 8], uniqueId: id }));
  return Buffer.concat(
    [
      e.header(),
      e.note({ source: 'sim:image' }),
      e.value(scalarT, completeStructure(scalarT, { value: first + 0.5 })),
      e.value(scalarT, completeStructure(scalarT, { value: first + 1.5 }), { changed: BitSet.of(1), overrun: BitSet.of(1) }),
      e.value(frameT, frame(first)),
      e.value(frameT, frame(first + 1)),
      e.end(),
    ].flat(),
  );
}

/** What a Writable is given, write by write. */
function sink(): { out: PassThrough; writes: Buffer[]; bytes: () => Buffer } {
  const out = new PassThrough();
  const writes: Buffer[] = [];
  out.on('data', (c: Buffer) => writes.push(c));
  return { out, writes, bytes: () => Buffer.concat(writes) };
}

const values = (items: StreamItem[]): unknown[] =>
  items.filter((i) => i.kind === 'value').map((i) => i.kind === 'value' && [i.value, [...i.changed], [...i.overrun]]);

/** The stream read in chunks of `step` bytes, every value passed on undecoded. */
async function passAll(inputs: Buffer[], step: number, littleEndian = true): Promise<{ bytes: Buffer; writes: number }> {
  const s = sink();
  const out = new StreamOutput(s.out, { littleEndian });
  for (const bytes of inputs) {
    // Each chunk in memory of its own, as reads give them.
    const chunks = Array.from({ length: Math.ceil(bytes.length / step) }, (_, k) => Buffer.from(bytes.subarray(k * step, (k + 1) * step)));
    const input = PassThrough.from(chunks);
    for await (const batch of readBatches(input, { undecoded: { littleEndian } })) {
      for (const item of batch) {
        if (item.kind === 'note') out.note(item.note);
        if (item.kind === 'value' || item.kind === 'record') out.pass(item);
      }
      out.flush();
    }
  }
  await out.end();
  return { bytes: s.bytes(), writes: s.writes.length };
}

test('passthrough: values in the stream order come as records and go out byte for byte, from chunks of any size', async () => {
  for (const le of [true, false]) {
    const bytes = sample(le);
    for (const step of [1, 3, 64, bytes.length]) {
      const { bytes: got } = await passAll([bytes], step, le);
      assert.deepEqual(got, bytes, `byte order ${le ? 'LE' : 'BE'}, chunks of ${step}`);
    }
    const items: StreamItem[] = [];
    for await (const item of readStream(PassThrough.from([bytes]), { undecoded: { littleEndian: le } })) items.push(item);
    assert.deepEqual(
      items.map((i) => i.kind),
      ['note', 'type', 'record', 'record', 'type', 'record', 'record', 'end'],
    );
  }
});

test('passthrough: the records of one chunk are written as one view, not a write each', async () => {
  const bytes = sample(true);
  const { writes } = await passAll([bytes], bytes.length);
  // The stream header, the note, the records of the chunk (type records are copies: they split it), the end.
  assert.ok(writes <= 8, `${writes} writes`);
  const many = await passAll([bytes], 1);
  assert.ok(many.writes > 100, 'one-byte chunks cannot be joined');
});

test('passthrough: an input in the other byte order is decoded and written in the output order, with the same values', async () => {
  const be = sample(false);
  const { bytes } = await passAll([be], 5, true);
  assert.equal(bytes[5], 0, 'a little-endian stream');
  assert.deepEqual(values(decodeAll(bytes)), values(decodeAll(be)));
});

test('passthrough: two inputs after each other keep their type records and the end record counts every value', async () => {
  const a = sample(true, 1);
  const b = sample(true, 10);
  const { bytes } = await passAll([a, b], 17);
  const items = decodeAll(bytes);
  assert.deepEqual(values(items), [...values(decodeAll(a)), ...values(decodeAll(b))]);
  assert.deepEqual(
    items.filter((i) => i.kind === 'type').map((i) => i.kind === 'type' && i.type.id),
    ['epics:nt/NTScalar:1.0', 'epics:nt/NTNDArray:1.0', 'epics:nt/NTScalar:1.0', 'epics:nt/NTNDArray:1.0'],
  );
  const end = items.at(-1);
  assert.equal(end?.kind === 'end' && end.count, 8n);
});

test('passthrough: decoded values and passed records mix in one output, a type record before each change of type', async () => {
  const bytes = sample(true);
  const s = sink();
  const out = new StreamOutput(s.out);
  const items = [...decodeAll(bytes)];
  const frames = items.filter((i) => i.kind === 'value' && i.type.id === 'epics:nt/NTNDArray:1.0');
  const first = frames[0];
  assert.ok(first?.kind === 'value');
  out.write(first.type, first.value);
  const records: StreamItem[] = [];
  const d = new StreamDecoder((i) => records.push(i), { undecoded: { littleEndian: true } });
  d.push(bytes);
  // The records' types are other type objects than the decoded value's: their type record goes first.
  for (const r of records) if (r.kind === 'record') out.pass(r);
  await out.end();
  const kinds = decodeAll(s.bytes()).map((i) => i.kind);
  assert.deepEqual(kinds, ['type', 'value', 'type', 'value', 'value', 'type', 'value', 'value', 'end']);
});

test('passthrough: values of one type from two inputs, interleaved, need one type record (merge decodes each input alone)', async () => {
  const e = new StreamEncoder();
  const bytes = Buffer.concat(
    [e.header(), ...[1, 2, 3].map((v) => e.value(scalarT, completeStructure(scalarT, { value: v }))), e.end()].flat(),
  );
  const fromA: StreamItem[] = [];
  const fromB: StreamItem[] = [];
  new StreamDecoder((i) => fromA.push(i), { undecoded: { littleEndian: true } }).push(bytes);
  new StreamDecoder((i) => fromB.push(i)).push(bytes); // decoded: a value, not a record
  const s = sink();
  const out = new StreamOutput(s.out);
  const a = fromA.filter((i) => i.kind === 'record');
  const b = fromB.filter((i) => i.kind === 'value');
  for (let k = 0; k < 3; k++) {
    out.pass(a[k] as RecordItem);
    out.pass(b[k] as ValueItem);
  }
  await out.end();
  const kinds = decodeAll(s.bytes()).map((i) => i.kind);
  assert.deepEqual(kinds, ['type', 'value', 'value', 'value', 'value', 'value', 'value', 'end']);
});
