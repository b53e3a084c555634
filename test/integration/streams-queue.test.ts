// InputStream.emptyQueue(), `queued` and poll() (Pyacq's empty_queue and poll) in every transfer
// mode: what came and was not received is thrown away and counted, later chunks arrive as usual,
// a lossless writer held back by the queue goes on, the end of the stream is not lost, and poll()
// waits for a chunk (or the end) without taking it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SluiceError } from '../../src/errors.js';
import { InputStream, OutputStream } from '../../src/streams/index.js';

const MODES: [string, Record<string, unknown>][] = [
  ['inproc', { protocol: 'inproc' }],
  ['tcp', { protocol: 'tcp' }],
  ['sharedmem (threads)', { transfermode: 'sharedmem', bufferSize: 1000 }],
  ['sharedmem (processes)', { transfermode: 'sharedmem', sharedmemScope: 'processes', bufferSize: 1000 }],
];

/** Wait for a condition that an event elsewhere (a socket, another thread) makes true. */
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((resolve) => setTimeout(resolve, 1));
}

/** n frames of two channels ending at `end`, each frame holding its absolute index. */
function frames(end: number, n: number): Float64Array {
  const a = new Float64Array(2 * n);
  for (let k = 0; k < n; k++) a.fill(end - n + k, 2 * k, 2 * k + 2);
  return a;
}

async function pair(spec: Record<string, unknown>, queueSize = 8): Promise<[OutputStream, InputStream]> {
  const out = new OutputStream();
  await out.configure({ ...spec, dtype: 'float64', shape: [-1, 2] });
  const inp = new InputStream({ queueSize });
  await inp.connect(out);
  return [out, inp];
}

for (const [name, spec] of MODES) {
  test(`${name}: emptyQueue() drops what came, counts it, and the next chunk arrives`, async () => {
    const [out, inp] = await pair(spec);
    try {
      assert.equal(inp.queued, 0);
      assert.equal(inp.emptyQueue(), 0);
      for (let end = 10; end <= 30; end += 10) assert.equal(out.send(frames(end, 10)), true);
      await until(() => inp.queued === 3);
      assert.equal(inp.emptyQueue(), 3);
      assert.equal(inp.queued, 0);
      assert.deepEqual(inp.stats().discarded, 3);
      out.send(frames(40, 10));
      const [index, chunk] = await inp.recv();
      assert.equal(index, 40);
      assert.equal(chunk.data[0], 30, 'the chunk sent after emptyQueue(), not an old one');
      assert.equal(inp.stats().discarded, 3);
    } finally {
      await Promise.all([out.close(), inp.close()]);
    }
  });

  test(`${name}: emptyQueue() lets a held-back lossless writer go on; the end of the stream is kept`, async () => {
    const [out, inp] = await pair(spec, 2);
    let end = 0;
    // The reader only ever empties its queue: a lossless writer can send all this only if that frees it.
    for (let c = 0; c < 200; c++) {
      if (out.send(frames((end += 10), 10))) continue;
      let drained = false;
      const d = out.drained().then(() => (drained = true));
      while (!drained) {
        await until(() => drained || inp.queued > 0);
        inp.emptyQueue();
      }
      await d;
    }
    assert.ok(inp.stats().discarded > 0);
    // Read through what is still on the way, so that the next chunk is the only one.
    out.send(frames((end += 10), 10));
    while ((await inp.recv())[0] < end);
    out.send(frames((end += 10), 10));
    const closing = out.close();
    await until(() => inp.queued > 0);
    assert.equal(inp.emptyQueue(), 1);
    await assert.rejects(inp.recv(), (e: unknown) => (e as SluiceError).code === 'ERR_CHANNEL_CLOSED');
    await closing;
    const discarded = inp.stats().discarded;
    await inp.close();
    assert.equal(inp.stats().discarded, discarded, 'stats stay readable after close()');
  });
}

for (const [name, spec] of MODES) {
  test(`${name}: poll(timeout) waits for a chunk without taking it; it also sees the end`, async () => {
    const [out, inp] = await pair(spec);
    try {
      assert.equal(await inp.poll(0), false);
      assert.equal(await inp.poll(20), false, 'nothing came: false after the timeout');
      const polled = inp.poll();
      out.send(frames(10, 10));
      assert.equal(await polled, true);
      assert.equal(inp.queued, 1);
      assert.equal(await inp.poll(0), true);
      const [index, chunk] = await inp.recv();
      assert.deepEqual([index, chunk.data[0]], [10, 0]);
      out.send(frames(20, 10));
      assert.equal(await inp.poll(), true);
      assert.equal(inp.emptyQueue(), 1, 'a chunk poll() waited for is queued like the others');
      assert.equal(inp.queued, 0);
      out.send(frames(30, 10));
      assert.equal((await inp.recv())[0], 30);
      const closing = out.close();
      assert.equal(await inp.poll(), true, 'the end of the stream: recv() returns at once');
      await assert.rejects(inp.recv(), (e: unknown) => (e as SluiceError).code === 'ERR_CHANNEL_CLOSED');
      await closing;
    } finally {
      await Promise.all([out.close(), inp.close()]);
    }
  });
}

test('emptyQueue() and poll() before connect() are refused', async () => {
  assert.throws(() => new InputStream().emptyQueue(), /connect\(\) first/);
  await assert.rejects(new InputStream().poll(0), /connect\(\) first/);
});
