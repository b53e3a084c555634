// sharedmem between threads: a SharedArrayBuffer ring read in place by readers in this thread
// and in real worker threads; drop-oldest counting, lossless back-pressure, reader slots, and a
// lossless reader thread that dies without closing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { SluiceError } from '../../src/errors.js';
import { sharedmemMode } from '../../src/streams/sharedmem.js';
import { SharedRingReceiver, SharedRingSender } from '../../src/streams/sharedmem-threads.js';
import { transferMode } from '../../src/streams/transfer.js';
import { indexedChunk, testSpec } from '../helpers/stream-spec.js';

const workerUrl = new URL('../helpers/sharedmem-worker.js', import.meta.url);

interface WorkerDone {
  type: 'done';
  samples: number;
  chunks: number;
  bad: number;
  zeroCopy: boolean;
  dropped: number;
  overwritten: number;
}

function startWorker(data: unknown): { worker: Worker; ready: Promise<void>; done: Promise<WorkerDone> } {
  const worker = new Worker(workerUrl, { workerData: data });
  const ready = new Promise<void>((resolve, reject) => {
    worker.on('message', (m: { type: string }) => m.type === 'ready' && resolve());
    worker.once('error', reject);
  });
  const done = new Promise<WorkerDone>((resolve, reject) => {
    worker.on('message', (m: WorkerDone) => m.type === 'done' && resolve(m));
    worker.once('error', reject);
  });
  return { worker, ready, done };
}

test('the mode is registered; the threads scope is the default and travels in the params', async () => {
  assert.equal(transferMode('sharedmem'), sharedmemMode);
  const tx = await sharedmemMode.createSender(testSpec());
  assert.equal(tx.params['sharedmemScope'], 'threads');
  assert.ok(tx.params['sharedmemBuffer'] instanceof SharedArrayBuffer);
  const cloned = structuredClone(tx.params)['sharedmemBuffer'] as SharedArrayBuffer;
  new Uint8Array(cloned)[100] = 42; // a clone shares the memory
  assert.equal(new Uint8Array(tx.params['sharedmemBuffer'] as SharedArrayBuffer)[100], 42);
  await tx.close();
  await assert.rejects(sharedmemMode.createSender(testSpec({ bufferSize: 0 })), /needs bufferSize/);
  await assert.rejects(sharedmemMode.createSender(testSpec({ sharedmemScope: 'hosts' })), /sharedmemScope "hosts"/);
});

test('readers in this thread get views of the ring, chunk by chunk, and null after close', async () => {
  const tx = new SharedRingSender(testSpec({ bufferSize: 50 }));
  const a = new SharedRingReceiver(tx.params, { policy: 'drop-oldest' });
  const b = new SharedRingReceiver(tx.params, { policy: 'lossless' });
  assert.equal(tx.stats().readers, 2);
  const pending = a.recv();
  assert.equal(tx.send(10, indexedChunk(10, 10)), true);
  const first = await pending;
  assert.equal(first?.index, 10);
  assert.equal(first?.chunk.data.buffer, tx.params['sharedmemBuffer'], 'a view, no copy');
  assert.deepEqual(first?.chunk.shape, [10, 4]);
  tx.send(25, indexedChunk(25, 5)); // a gap [10, 20)
  tx.send(30, indexedChunk(30, 5));
  await tx.close();
  for (const [rx, expected] of [
    [a, [25, 30]],
    [b, [10, 25, 30]],
  ] as const) {
    const got: number[] = [];
    for (let r = await rx.recv(); r !== null; r = await rx.recv()) {
      got.push(r.index);
      const d = r.chunk.data as Float64Array;
      assert.equal(d[0], r.index - (r.chunk.shape[0] as number));
    }
    assert.deepEqual(got, expected);
    assert.equal(rx.stats().dropped, 0);
  }
  await a.close();
  await b.close();
});

test('a single ring hands a chunk that wraps in two views', async () => {
  const tx = new SharedRingSender(testSpec({ bufferSize: 8, double: false }));
  const rx = new SharedRingReceiver(tx.params, { policy: 'lossless' });
  tx.send(6, indexedChunk(6, 6));
  assert.equal((await rx.recv())?.index, 6);
  tx.send(10, indexedChunk(10, 4)); // positions 6, 7, then 0, 1
  const p1 = await rx.recv();
  const p2 = await rx.recv();
  assert.deepEqual([p1?.index, p1?.chunk.shape[0], p2?.index, p2?.chunk.shape[0]], [8, 2, 10, 2]);
  assert.deepEqual(Array.from(p2?.chunk.data as Float64Array), [8, 8, 8, 8, 9, 9, 9, 9]);
  await tx.close();
  await rx.close();
});

test('four worker threads read every sample, in place, with a lossless writer', async () => {
  const tx = new SharedRingSender(testSpec({ bufferSize: 500 }));
  const workers = [0, 1, 2, 3].map((i) => startWorker({ params: tx.params, policy: i === 3 ? 'drop-oldest' : 'lossless' }));
  await Promise.all(workers.map((w) => w.ready));
  let end = 0;
  let waited = 0;
  for (let c = 0; c < 400; c++) {
    end += 50;
    if (!tx.send(end, indexedChunk(end, 50))) {
      waited++;
      await tx.drained();
    }
  }
  await tx.close();
  const results = await Promise.all(workers.map((w) => w.done));
  for (const [i, r] of results.entries()) {
    assert.equal(r.bad, 0, `worker ${i} saw wrong samples`);
    assert.ok(r.zeroCopy, `worker ${i} got views of the ring`);
    if (i < 3) {
      assert.equal(r.samples, 20_000, `lossless worker ${i} got every sample`);
      assert.equal(r.dropped, 0);
      assert.equal(r.overwritten, 0);
    } else assert.equal(r.samples + r.dropped, 20_000, 'drop-oldest: what it did not get is counted');
  }
  assert.ok(waited > 0, 'the writer was held back by its readers at least once');
  await Promise.all(workers.map((w) => w.worker.terminate()));
});

test('a slow drop-oldest reader loses the oldest samples, counted; the writer never waits or grows', async () => {
  const tx = new SharedRingSender(testSpec({ bufferSize: 100 }));
  const rx = new SharedRingReceiver(tx.params, { policy: 'drop-oldest' });
  for (let end = 10; end <= 1000; end += 10) assert.equal(tx.send(end, indexedChunk(end, 10)), true);
  const got: number[] = [];
  const tail = tx.close();
  for (let r = await rx.recv(); r !== null; r = await rx.recv()) got.push(r.index);
  await tail;
  assert.deepEqual(got, [910, 920, 930, 940, 950, 960, 970, 980, 990, 1000], 'it goes on from the window start');
  assert.equal(rx.stats().dropped, 900);
  await rx.close();
  assert.equal(tx.stats().dropped, 900, 'a closed reader leaves its drops in the count');
  assert.equal(tx.stats().readers, 0);
});

test('a lossless reader holds the writer back: send() false, drained() once it read', async () => {
  const tx = new SharedRingSender(testSpec({ bufferSize: 100 }));
  const rx = new SharedRingReceiver(tx.params, { policy: 'lossless' });
  let end = 0;
  const results: boolean[] = [];
  for (let c = 0; c < 10; c++) results.push(tx.send((end += 10), indexedChunk(end, 10)));
  assert.deepEqual(results, [true, true, true, true, true, true, true, true, true, false], 'the tenth chunk fills the ring');
  // sending on anyway queues the chunk instead of overwriting
  assert.equal(tx.send((end += 10), indexedChunk(end, 10)), false);
  let drained = false;
  const d = tx.drained().then(() => (drained = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(drained, false);
  const seen: number[] = [];
  for (let c = 0; c < 11; c++) seen.push((await rx.recv())?.index ?? -1);
  await d;
  assert.deepEqual(seen, [10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110]);
  assert.equal(rx.stats().dropped, 0);
  await tx.close();
  await rx.close();
});

test('reader slots are bounded; a closing reader frees its slot', async () => {
  const tx = new SharedRingSender(testSpec({ sharedmemSlots: 1 }));
  const first = new SharedRingReceiver(tx.params, { policy: 'lossless' });
  assert.throws(
    () => new SharedRingReceiver(tx.params, { policy: 'lossless' }),
    (e: unknown) => e instanceof SluiceError && e.code === 'ERR_LIMIT' && /all 1 reader slots/.test(e.message),
  );
  const uncounted = new SharedRingReceiver(tx.params, { policy: 'drop-oldest' }); // works, without a slot
  await first.close();
  const again = new SharedRingReceiver(tx.params, { policy: 'lossless' });
  assert.equal(tx.stats().readers, 1);
  await Promise.all([again.close(), uncounted.close(), tx.close()]);
});

test('a lossless reader thread that dies without closing is evicted after the timeout', async () => {
  const tx = new SharedRingSender(testSpec({ bufferSize: 100, sharedmemLosslessTimeoutMs: 200 }));
  const stuck = startWorker({ params: tx.params, policy: 'lossless', hold: true });
  await stuck.ready;
  await stuck.worker.terminate();
  let end = 0;
  while (tx.send((end += 10), indexedChunk(end, 10)));
  const t0 = performance.now();
  await tx.drained();
  const waited = performance.now() - t0;
  assert.ok(waited >= 150, `the writer waited for the timeout (${waited.toFixed(0)} ms)`);
  assert.ok(tx.send((end += 10), indexedChunk(end, 10)), 'and then writes on');
  assert.equal(tx.stats().readers, 1, 'the dead reader keeps its slot (evicted, not freed)');
  await tx.close();
});

test('an evicted reader that wakes up goes on as drop-oldest and knows it', async () => {
  const tx = new SharedRingSender(testSpec({ bufferSize: 100, sharedmemLosslessTimeoutMs: 100 }));
  const rx = new SharedRingReceiver(tx.params, { policy: 'lossless' });
  let end = 0;
  for (let c = 0; c < 30; c++) if (!tx.send((end += 10), indexedChunk(end, 10))) await tx.drained();
  const r = await rx.recv();
  assert.ok(rx.stats().evicted);
  assert.equal(rx.stats().dropped, (r?.index ?? 0) - 10);
  await tx.close();
  await rx.close();
});
