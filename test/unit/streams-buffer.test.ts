// InputStream.setBuffer / getData: a ring of the last samples fed by recv() (gaps filled, a chunk
// longer than the ring keeps its tail, a restarted stream restarts the ring), the sharedmem
// receiver's own ring reused when it fits, and clear errors without a buffer or outside the window.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SluiceError } from '../../src/errors.js';
import { InputStream, OutputStream, RingIndexError, filters } from '../../src/streams/index.js';
import { indexedChunk } from '../helpers/stream-spec.js';

function code(c: string): (e: unknown) => boolean {
  return (e) => (e as SluiceError).code === c;
}

async function pair(spec: Record<string, unknown> = {}): Promise<{ out: OutputStream; inp: InputStream }> {
  const out = new OutputStream();
  await out.configure({ protocol: 'inproc', dtype: 'float64', shape: [-1, 4], ...spec });
  const inp = new InputStream();
  await inp.connect(out);
  return { out, inp };
}

/** First column of each frame of samples [start, stop). */
function firstColumn(inp: InputStream, start: number, stop: number): number[] {
  const c = inp.getData(start, stop, { copy: true });
  return Array.from({ length: c.shape[0] as number }, (_, i) => c.data[4 * i] as number);
}

test('without a buffer, getData and the index helpers name setBuffer(); setBuffer needs a connection', async () => {
  assert.throws(() => new InputStream().setBuffer({ size: 4 }), /not connected/);
  const { out, inp } = await pair();
  assert.equal(inp.buffer, null);
  assert.throws(
    () => inp.getData(0, 1),
    (e: unknown) => code('ERR_INVALID_ARGUMENT')(e) && /setBuffer\(\)/.test(String(e)),
  );
  assert.throws(() => inp.bufferIndex(), /bufferIndex\(\) needs a buffer/);
  assert.throws(() => inp.firstIndex(), /firstIndex\(\) needs a buffer/);
  assert.throws(() => inp.setBuffer(), /size must be a positive integer/); // bufferSize defaults to 0
  await out.close();
});

test('every recv() appends; gaps read as the fill; reads outside the window are RingIndexError', async () => {
  const { out, inp } = await pair();
  const ring = inp.setBuffer({ size: 10, fill: -1 });
  assert.equal(ring.double, true);
  out.send(indexedChunk(3, 3));
  out.send(indexedChunk(8, 2), 8); // samples 3..5 are a gap
  await inp.recv();
  await inp.recv();
  assert.equal(inp.bufferIndex(), 8);
  assert.equal(inp.firstIndex(), -2);
  assert.deepEqual(firstColumn(inp, 0, 8), [0, 1, 2, -1, -1, -1, 6, 7]);
  assert.deepEqual(firstColumn(inp, -2, 0), [-1, -1]); // before index 0: never written, fill
  assert.throws(() => inp.getData(-3, 2), RingIndexError);
  assert.throws(
    () => inp.getData(5, 9),
    (e: unknown) => e instanceof RingIndexError && /outside the readable window \[-2, 8\)/.test(String(e)),
  );
  // A window across the wrap point is still one view of the double ring (no copy).
  out.send(indexedChunk(14, 6));
  await inp.recv();
  const view = inp.getData(6, 14);
  assert.equal(view.data.buffer, ring.buffer);
  assert.deepEqual(firstColumn(inp, 6, 14), [6, 7, 8, 9, 10, 11, 12, 13]);
  await out.close();
});

test('a single ring: join false gives the two pieces of a wrapped window, join true one copy', async () => {
  const { out, inp } = await pair();
  inp.setBuffer({ size: 5, double: false });
  out.send(indexedChunk(4, 4));
  out.send(indexedChunk(7, 3));
  await inp.recv();
  await inp.recv();
  const pieces = inp.getData(3, 7, { join: false });
  assert.deepEqual(
    pieces.map((p) => p.shape[0]),
    [2, 2],
  );
  const joined = inp.getData(3, 7);
  assert.deepEqual(
    Array.from({ length: 4 }, (_, i) => joined.data[4 * i]),
    [3, 4, 5, 6],
  );
  await out.close();
});

test('a chunk longer than the buffer keeps its last samples; post-filters do not change what is buffered', async () => {
  const { out, inp } = await pair();
  inp.setBuffer({ size: 4 });
  inp.addPostFilter(filters.scale(10));
  out.send(indexedChunk(10, 10));
  const [index, chunk] = await inp.recv();
  assert.equal(index, 10);
  assert.equal(chunk.data[4 * 9], 90); // what recv() returns is filtered
  assert.deepEqual(firstColumn(inp, 6, 10), [6, 7, 8, 9]); // the buffer holds the samples as received
  await out.close();
});

test('a stream that restarts from 0 restarts the buffer; resetIndex() too', async () => {
  const { out, inp } = await pair();
  inp.setBuffer({ size: 8 });
  out.send(indexedChunk(6, 6));
  await inp.recv();
  out.resetIndex();
  out.send(indexedChunk(2, 2));
  await inp.recv();
  assert.equal(inp.bufferIndex(), 2);
  assert.deepEqual(firstColumn(inp, 0, 2), [0, 1]);
  assert.deepEqual(firstColumn(inp, -6, 0), Array(6).fill(NaN)); // the first run's samples are gone, not shown as earlier ones
  inp.resetIndex();
  assert.equal(inp.bufferIndex(), 0);
  assert.deepEqual(firstColumn(inp, -8, 0), Array(8).fill(NaN));
  await out.close();
});

test('sharedmem: the receiver ring is the buffer when it fits (no second copy), else a local one', async () => {
  const { out, inp } = await pair({ transfermode: 'sharedmem', bufferSize: 64, double: true });
  const shared = inp.setBuffer({ size: 32 });
  assert.equal(shared.buffer, out.params['sharedmemBuffer']);
  out.send(indexedChunk(5, 5));
  assert.deepEqual(firstColumn(inp, 0, 5), [0, 1, 2, 3, 4]); // the writer filled it: no recv() needed
  await inp.recv();
  assert.equal(inp.bufferIndex(), 5);

  const other = new InputStream();
  await other.connect(out);
  const local = other.setBuffer({ size: 32, double: false }); // the shared ring is double: not reused
  assert.notEqual(local.buffer, out.params['sharedmemBuffer']);
  assert.throws(() => other.getData(0, 1), RingIndexError); // nothing received yet
  out.send(indexedChunk(9, 4));
  await other.recv();
  assert.deepEqual(firstColumn(other, 5, 9), [5, 6, 7, 8]);
  assert.equal(other.firstIndex(), 9 - 32);
  assert.notEqual(other.setBuffer({ size: 128 }).buffer, out.params['sharedmemBuffer']); // larger than the shared ring
  await out.close();
});
