// Streams without sockets: spec defaults and checks, filters, fixed-size chunking with indices
// and gaps, the chunk structure's reader against hostile values, and the inproc mode (no copy,
// policies, index semantics).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SluiceError } from '../../src/errors.js';
import { compress } from '../../src/pvdata/nt/codec/index.js';
import {
  Chunker,
  InputStream,
  NT_STREAM_CHUNK_ID,
  OutputStream,
  buildStreamChunk,
  filters,
  normalizeSpec,
  readStreamChunk,
  type NdChunk,
} from '../../src/streams/index.js';

function vals(a: ArrayLike<number | bigint>): (number | bigint)[] {
  return Array.from(a);
}

function code(c: string): (e: unknown) => boolean {
  return (e) => (e as SluiceError).code === c;
}

test('spec: Pyacq defaults, event defaults, unknown keys kept', () => {
  const s = normalizeSpec({ myKey: 7 });
  assert.equal(s.protocol, 'tcp');
  assert.equal(s.transfermode, 'plaindata');
  assert.equal(s.dtype, 'float32');
  assert.deepEqual(s.shape, [-1, 1]);
  assert.equal(s.sampleRate, 1);
  assert.equal(s['myKey'], 7);
  const e = normalizeSpec({ streamtype: 'event' });
  assert.equal(e.dtype, 'float64');
  assert.deepEqual(e.shape, [-1, 2]);
});

test('spec: bad fields are refused with the field named', () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ dtype: 'float16' }, /dtype 'float16'/],
    [{ shape: [0, 3] }, /shape\[0\]/],
    [{ shape: [-1, 0] }, /shape\[1\] must be > 0/],
    [{ shape: [] }, /non-empty/],
    [{ shape: [-1, 1.5] }, /integer/],
    [{ streamtype: 'image/video', shape: [-1, 4] }, /height, width/],
    [{ streamtype: 'event', dtype: 'int32' }, /float64/],
    [{ streamtype: 'audio' }, /streamtype/],
    [{ protocol: 'udp' }, /protocol/],
    [{ port: 70000 }, /port/],
    [{ axisorder: [0, 0] }, /axisorder/],
    [{ chunkSize: -1 }, /chunkSize/],
    [{ shape: [10, 2], chunkSize: 5 }, /contradicts/],
    [{ sampleRate: 0 }, /sampleRate/],
  ];
  for (const [p, re] of cases)
    assert.throws(
      () => normalizeSpec(p),
      (e: unknown) => code('ERR_INVALID_ARGUMENT')(e) && re.test((e as Error).message),
      JSON.stringify(p),
    );
});

test('filters: scale, offset, cast and reshape return new arrays and leave the input alone', () => {
  const data = new Int16Array([1, 2, 3, 4]);
  const c: NdChunk = { data, shape: [2, 2] };
  const [i, s] = filters.scale(3)(5, c);
  assert.equal(i, 5);
  assert.deepEqual(vals(s.data), [3, 6, 9, 12]);
  assert.ok(s.data instanceof Int16Array);
  assert.deepEqual(vals(filters.offset(-1)(5, c)[1].data), [0, 1, 2, 3]);
  const f = filters.cast('float64')(5, c)[1];
  assert.ok(f.data instanceof Float64Array);
  const big = filters.cast('int64')(5, c)[1];
  assert.deepEqual(vals(big.data), [1n, 2n, 3n, 4n]);
  const r = filters.reshape([2, 1])(5, c)[1];
  assert.deepEqual(r.shape, [2, 2, 1]);
  assert.equal(r.data, data);
  assert.deepEqual(vals(data), [1, 2, 3, 4]);
  assert.throws(() => filters.reshape([3])(5, c), code('ERR_INVALID_ARGUMENT'));
  assert.throws(() => filters.cast('complex' as never), code('ERR_INVALID_ARGUMENT'));
  assert.throws(() => filters.scale(NaN), code('ERR_INVALID_ARGUMENT'));
});

function frames(from: number, n: number): Float32Array {
  return Float32Array.from({ length: n }, (_, k) => from + k);
}

test('chunker: splits long chunks into views, joins short ones, indices end on multiples of the size', () => {
  const ch = new Chunker(4, NaN);
  const long = frames(0, 10);
  const out = ch.push(10, { data: long, shape: [10] });
  assert.deepEqual(
    out.map(([i]) => i),
    [4, 8],
  );
  assert.equal((out[0] as [number, NdChunk])[1].data.buffer, long.buffer, 'a split is a view');
  assert.equal(ch.pending, 2);
  const more = ch.push(13, { data: frames(10, 3), shape: [3] });
  assert.equal(more.length, 1);
  assert.equal((more[0] as [number, NdChunk])[0], 12);
  assert.deepEqual(vals((more[0] as [number, NdChunk])[1].data), [8, 9, 10, 11]);
  assert.equal(ch.pending, 1);
});

test('chunker: a gap fills the pending chunk, skips whole chunks, and starts the next with fill values', () => {
  const ch = new Chunker(4, -1);
  assert.equal(ch.push(2, { data: frames(0, 2), shape: [2] }).length, 0);
  // Samples 2..13 are a gap; the new data is samples 13 and 14.
  const out = ch.push(15, { data: frames(13, 2), shape: [2] });
  assert.deepEqual(
    out.map(([i, c]) => [i, vals(c.data)]),
    [[4, [0, 1, -1, -1]]],
  );
  const next = ch.push(16, { data: frames(15, 1), shape: [1] });
  assert.deepEqual(
    next.map(([i, c]) => [i, vals(c.data)]),
    [[16, [-1, 13, 14, 15]]],
  );
});

test('chunk structure: a chunk reads back; hostile fields are refused with a clear error', () => {
  const spec = normalizeSpec({ dtype: 'uint16', shape: [-1, 3] });
  const data = Uint16Array.from({ length: 12 }, (_, i) => i);
  const good = buildStreamChunk(4, { data, shape: [4, 3] }, spec);
  const back = readStreamChunk(NT_STREAM_CHUNK_ID, good, spec, 'test');
  assert.equal(back.index, 4);
  assert.equal(back.chunk.data, data);
  const lies: [Record<string, unknown>, string, RegExp][] = [
    [{ dtype: 'float32' }, 'ERR_DECODE', /dtype float32 is not the stream's uint16/],
    [{ dtype: 'complex128' }, 'ERR_DECODE', /not a stream dtype/],
    [{ shape: Int32Array.from([5, 3]), index: 5n }, 'ERR_DECODE', /needs 15 elements, value has 12/],
    [{ shape: Int32Array.from([4, 2]) }, 'ERR_DECODE', /does not fit/],
    [{ shape: Int32Array.from([4]) }, 'ERR_DECODE', /dimensions/],
    [{ shape: Int32Array.from([2147483647, 3]), index: 2147483647 }, 'ERR_DECODE', /limit/],
    [{ index: 2n }, 'ERR_DECODE', /index 2/],
    [{ value: { field: 'doubleValue', value: new Float64Array(12) } }, 'ERR_DECODE', /doubleValue/],
    [{ value: null }, 'ERR_DECODE', /no value/],
  ];
  for (const [patch, c, re] of lies) {
    assert.throws(
      () => readStreamChunk(NT_STREAM_CHUNK_ID, { ...good, ...patch }, spec, 'test'),
      (e: unknown) => code(c)(e) && re.test((e as Error).message),
      JSON.stringify(patch, (_, v: unknown) => (typeof v === 'bigint' ? String(v) : v)),
    );
  }
  assert.throws(() => readStreamChunk('epics:nt/NTScalar:1.0', good, spec, 'test'), /NTStreamChunk/);
});

test('chunk structure: compressed chunks decode; lying sizes and codecs are refused before allocating', () => {
  const spec = normalizeSpec({ dtype: 'float32', shape: [-1, 2], compression: 'lz4' });
  const data = Float32Array.from({ length: 2000 }, (_, i) => i % 7);
  const good = buildStreamChunk(1000, { data, shape: [1000, 2] }, spec);
  assert.ok((good['compressedSize'] as number) < data.byteLength);
  assert.deepEqual(readStreamChunk(NT_STREAM_CHUNK_ID, good, spec, 't').chunk.data, data);
  const payload = compress('lz4', data);
  const lies: [Record<string, unknown>, RegExp][] = [
    [{ uncompressedSize: 4 }, /uncompressedSize 4/],
    [{ compressedSize: 1 }, /compressedSize 1/],
    [{ codec: { name: 'rot13', parameters: null } }, /rot13/],
    [{ shape: Int32Array.from([100_000_000, 2]), uncompressedSize: 800_000_000, index: 100_000_000 }, /cannot hold|lying/],
    [{ value: { field: 'ubyteValue', value: payload.slice(0, 20) }, compressedSize: 20 }, /lz4|truncated|lying/],
  ];
  for (const [patch, re] of lies) {
    assert.throws(
      () => readStreamChunk(NT_STREAM_CHUNK_ID, { ...good, ...patch }, spec, 't'),
      (e: unknown) => code('ERR_CODEC')(e) && re.test((e as Error).message),
      JSON.stringify(Object.keys(patch)),
    );
  }
});

async function inprocPair(
  opts: ConstructorParameters<typeof InputStream>[0] = {},
  spec: Record<string, unknown> = {},
): Promise<[OutputStream, InputStream]> {
  const out = new OutputStream();
  await out.configure({ protocol: 'inproc', dtype: 'float32', shape: [-1, 2], ...spec });
  const inp = new InputStream(opts);
  await inp.connect(out);
  return [out, inp];
}

test('inproc: the receiver gets the very same array; default index, gaps, and refused indices', async () => {
  const [out, inp] = await inprocPair();
  const a = new Float32Array(6);
  out.send(a);
  const [i1, c1] = await inp.recv();
  assert.equal(i1, 3);
  assert.equal(c1.data, a);
  assert.deepEqual(c1.shape, [3, 2]);
  out.send(a, 100); // a gap
  assert.equal((await inp.recv())[0], 100);
  assert.throws(() => out.send(a, 101), /less than the previous index 100/);
  assert.throws(() => out.send(a, 50), code('ERR_INVALID_ARGUMENT'));
  assert.throws(() => out.send(new Float32Array(5)), /whole number of frames/);
  assert.throws(() => out.send(new Float64Array(6)), /float64, the stream carries float32/);
  out.resetIndex();
  out.send(a);
  assert.equal((await inp.recv())[0], 3);
  await out.close();
  await assert.rejects(inp.recv(), code('ERR_CHANNEL_CLOSED'));
});

test('inproc: a lossless reader that stops reading makes send() false and the writer waits for drained()', async () => {
  const [out, inp] = await inprocPair({ queueSize: 2 });
  const a = new Float32Array(2);
  assert.equal(out.send(a), true);
  assert.equal(out.send(a), false);
  let drained = false;
  const d = out.drained().then(() => (drained = true));
  await Promise.resolve();
  assert.equal(drained, false);
  await inp.recv();
  await d;
  assert.equal(out.stats().dropped, 0);
  await inp.close();
  assert.equal(out.stats().readers, 0);
  await out.close();
});

test('inproc: a drop-oldest reader never holds the writer back; drops are counted and memory is bounded', async () => {
  const [out, inp] = await inprocPair({ policy: 'drop-oldest', queueSize: 3 });
  for (let k = 0; k < 100; k++) assert.equal(out.send(new Float32Array(2)), true);
  assert.equal(out.stats().dropped, 97);
  assert.equal(inp.stats().dropped, 97);
  const got: number[] = [];
  await out.close();
  for await (const [i] of inp) got.push(i);
  assert.deepEqual(got, [98, 99, 100]);
});

test('inproc: pre-filters, chunking and post-filters run in order, with right indices', async () => {
  const [out, inp] = await inprocPair({ spec: { shape: [-1, 2] } }, { dtype: 'float64', chunkSize: 4 });
  out.addPreFilter(filters.cast('float64'));
  out.addPreFilter(filters.scale(2));
  inp.addPostFilter(filters.offset(1));
  inp.addPostFilter((index, c) => [index * 10, c]);
  out.send(Float32Array.from([0, 0, 1, 1, 2, 2]));
  out.send(Float32Array.from([3, 3, 4, 4, 5, 5, 6, 6, 7, 7]));
  const [i1, c1] = await inp.recv();
  assert.equal(i1, 40);
  assert.deepEqual(vals(c1.data), [1, 1, 3, 3, 5, 5, 7, 7]);
  const [i2, c2] = await inp.recv();
  assert.equal(i2, 80);
  assert.deepEqual(c2.shape, [4, 2]);
  assert.deepEqual(vals(c2.data), [9, 9, 11, 11, 13, 13, 15, 15]);
  await out.close();
  await inp.close();
});

test('connect: the input checks protocol, dtype and shape (-1 a wildcard) and accepts params or a proxy', async () => {
  const out = new OutputStream();
  await out.configure({ protocol: 'inproc', dtype: 'uint8', streamtype: 'image/video', shape: [-1, 4, 5] });
  await assert.rejects(new InputStream({ spec: { dtype: 'uint16' } }).connect(out), /dtype is 'uint8', this input needs 'uint16'/);
  await assert.rejects(new InputStream({ spec: { shape: [-1, 4, 6] } }).connect(out), /shape \[-1, 4, 5\] does not fit/);
  await assert.rejects(new InputStream({ spec: { protocol: 'tcp' } }).connect(out), /protocol is 'inproc'/);
  const viaProxy = new InputStream({ spec: { shape: [-1, -1, 5], units: 'counts' } });
  await viaProxy.connect({ params: Promise.resolve(out.params) });
  assert.equal(viaProxy.params['units'], 'counts');
  const viaParams = new InputStream();
  await viaParams.connect(structuredClone(out.params));
  out.send(new Uint8Array(40));
  assert.deepEqual((await viaProxy.recv())[1].shape, [2, 4, 5]);
  assert.equal((await viaParams.recv())[0], 2);
  const params = out.params;
  await out.close();
  await assert.rejects(new InputStream().connect(params), code('ERR_CHANNEL_NOT_FOUND'));
  await assert.rejects(new InputStream().connect({} as never), /no dtype and shape/);
});

test('events: (time, value) records as float64 rows of two', async () => {
  const [out, inp] = await inprocPair({}, { streamtype: 'event', dtype: 'float64', shape: [-1, 2] });
  out.send(Float64Array.from([0.5, 1, 0.75, 2]), 2);
  const [i, c] = await inp.recv();
  assert.equal(i, 2);
  assert.deepEqual(c.shape, [2, 2]);
  await out.close();
});
