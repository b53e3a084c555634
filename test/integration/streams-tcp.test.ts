// The tcp transfer mode over real sockets on 127.0.0.1: chunks and indices, compression, the
// lossless and drop-oldest policies with bounded writer memory, a reader that dies, and hostile
// chunk structures posted by a plain SharedPV.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import type { SluiceError } from '../../src/errors.js';
import { SharedPV } from '../../src/pv/shared-pv.js';
import { compress } from '../../src/pvdata/nt/codec/index.js';
import { ntscalar } from '../../src/pvdata/nt/ntscalar.js';
import {
  InputStream,
  OutputStream,
  buildStreamChunk,
  normalizeSpec,
  streamChunkT,
  type InputStreamOptions,
  type StreamSpec,
} from '../../src/streams/index.js';
import { clientFor, startServer } from '../helpers/net.js';

function code(c: string): (e: unknown) => boolean {
  return (e) => (e as SluiceError).code === c;
}

async function pair(t: TestContext, spec: Partial<StreamSpec>, opts: InputStreamOptions = {}): Promise<[OutputStream, InputStream]> {
  const out = new OutputStream();
  await out.configure({ protocol: 'tcp', interface: '127.0.0.1', port: 0, ...spec });
  const inp = new InputStream(opts);
  t.after(async () => {
    await inp.close();
    await out.close();
  });
  await inp.connect(out);
  return [out, inp];
}

/** A macrotask turn: lets sockets and timers run, so "still pending" below means more than a microtask. */
function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

test('tcp: chunks arrive with their index, shape and values; gaps and ends are kept', async (t) => {
  const [out, inp] = await pair(t, { dtype: 'int16', shape: [-1, 3], name: 'tst:stream' });
  assert.equal(out.params['pvName'], 'tst:stream');
  assert.ok((out.params.port as number) > 0);
  const a = Int16Array.from({ length: 12 }, (_, i) => i - 6);
  out.send(a);
  out.send(a, 1000);
  out.send({ data: a, shape: [4, 3] });
  const [i1, c1] = await inp.recv();
  assert.equal(i1, 4);
  assert.deepEqual(c1.shape, [4, 3]);
  assert.deepEqual(Array.from(c1.data as Int16Array), Array.from(a));
  assert.equal((await inp.recv())[0], 1000);
  assert.equal((await inp.recv())[0], 1004);
  assert.equal(out.stats().sent, 3);
  const ended = (async () => {
    const rest: number[] = [];
    for await (const [i] of inp) rest.push(i);
    return rest;
  })();
  out.send(a);
  await out.close();
  assert.deepEqual(await ended, [1008]);
});

test('tcp: image frames re-chunked to a fixed size travel as views of the sent array, gaps included', async (t) => {
  const [out, inp] = await pair(t, { streamtype: 'image/video', dtype: 'uint16', shape: [-1, 4, 3], chunkSize: 2, fill: 9 });
  const frames = Uint16Array.from({ length: 5 * 12 }, (_, i) => i);
  out.send(frames); // samples 0..4: chunks [0, 2) and [2, 4) are views, sample 4 waits
  out.send(frames.subarray(0, 12), 8); // sample 7 after a gap: [4, 6) is sent filled, [6, 8) starts with fill
  const got: [number, number[]][] = [];
  for (let k = 0; k < 4; k++) {
    const [index, c] = await inp.recv();
    assert.deepEqual(c.shape, [2, 4, 3]);
    got.push([index, Array.from(c.data as Uint16Array)]);
  }
  const fill = new Array<number>(12).fill(9);
  assert.deepEqual(got, [
    [2, Array.from(frames.subarray(0, 24))],
    [4, Array.from(frames.subarray(24, 48))],
    [6, [...Array.from(frames.subarray(48, 60)), ...fill]],
    [8, [...fill, ...Array.from(frames.subarray(0, 12))]],
  ]);
});

test('tcp: lz4 compression on the wire, the same values out', async (t) => {
  const [out, inp] = await pair(t, { dtype: 'float32', shape: [-1, 4], compression: 'lz4', name: 'tst:lz4' });
  const a = Float32Array.from({ length: 40_000 }, (_, i) => Math.floor(i / 100));
  out.send(a);
  const [index, c] = await inp.recv();
  assert.equal(index, 10_000);
  assert.deepEqual(c.data, a);
  // What a plain pvAccess client sees: the compressed bytes and their sizes.
  const client = clientFor(out.params.port as number);
  t.after(() => client.close());
  const got = (await client.get('tst:lz4')).value;
  assert.equal(got['codec'].name, 'lz4');
  assert.ok(Number(got['compressedSize']) < Number(got['uncompressedSize']) / 10);
  assert.equal(Number(got['uncompressedSize']), a.byteLength);
});

/**
 * Send until the writer is held back: send() false and drained() still pending after the
 * sockets had their turns (a false from a queue the socket was about to empty does not count).
 */
async function sendUntilBlocked(
  out: OutputStream,
  frame: Uint8Array,
): Promise<{ sent: number; drained: Promise<void>; done: () => boolean }> {
  let sent = 0;
  for (;;) {
    assert.ok(sent < 200, 'the writer was never held back');
    sent++;
    if (out.send(frame)) {
      await turn();
      continue;
    }
    let resolved = false;
    const drained = out.drained().then(() => void (resolved = true));
    for (let k = 0; k < 5 && !resolved; k++) await turn();
    if (!resolved) return { sent, drained, done: () => resolved };
  }
}

test('tcp lossless: a reader that stops reading holds the writer back; it waits and loses nothing', async (t) => {
  const [out, inp] = await pair(t, { dtype: 'uint8', shape: [-1, 1024] }, { queueSize: 2 });
  const frame = new Uint8Array(1024 * 64);
  const { sent, drained, done } = await sendUntilBlocked(out, frame);
  assert.ok(sent <= 8, `${sent} chunks went out before the writer was held back`);
  const indices: number[] = [];
  while (!done() || indices.length < sent) indices.push((await inp.recv())[0]);
  await drained;
  assert.deepEqual(
    indices,
    indices.map((_, k) => (k + 1) * 64),
  );
  assert.equal(out.stats().dropped, 0);
  assert.equal(inp.stats().dropped, 0);
});

test('tcp drop-oldest: the writer never waits, every lost chunk is counted, server memory stays bounded', async (t) => {
  const [out, inp] = await pair(t, { dtype: 'uint8', shape: [-1, 1024] }, { queueSize: 2, policy: 'drop-oldest' });
  const frame = new Uint8Array(1024 * 64);
  const sender = out.sender as unknown as { queuedBytes: number };
  let maxQueued = 0;
  const n = 200;
  for (let k = 0; k < n; k++) {
    assert.equal(out.send(frame), true);
    maxQueued = Math.max(maxQueued, sender.queuedBytes);
  }
  assert.ok(maxQueued <= 2 * (frame.byteLength + 4096), `server queue held ${maxQueued} bytes`);
  const reading = (async () => {
    const got: number[] = [];
    for await (const [i] of inp) got.push(i);
    return got;
  })();
  const stats = () => out.stats();
  const dropped = stats().dropped;
  await out.close();
  const got = await reading;
  assert.equal(got[got.length - 1], n * 64, 'the newest chunk is never the one dropped');
  assert.ok(dropped > 0);
  assert.equal(
    got.length + dropped + inp.stats().dropped,
    n,
    `read ${got.length}, server dropped ${dropped}, reader ${inp.stats().dropped}`,
  );
});

test('tcp: a lossless reader that dies frees the writer and its queue', async (t) => {
  const [out, inp] = await pair(t, { dtype: 'uint8', shape: [-1, 1024] }, { queueSize: 2 });
  const frame = new Uint8Array(1024 * 64);
  const { drained } = await sendUntilBlocked(out, frame);
  const sender = out.sender as unknown as { queuedBytes: number };
  assert.ok(sender.queuedBytes > 0);
  await inp.close(); // the reader's socket closes
  await drained;
  assert.equal(out.stats().readers, 0);
  assert.equal(sender.queuedBytes, 0);
  for (let k = 0; k < 50; k++) assert.equal(out.send(frame), true);
  assert.equal(sender.queuedBytes, 0);
});

test('tcp: hostile chunk structures from a plain SharedPV give clear errors, and the stream goes on', async (t) => {
  const { server, port } = await startServer();
  t.after(() => server.close());
  const spec = normalizeSpec({ dtype: 'float32', shape: [-1, 2] });
  const pv = new SharedPV();
  pv.open(streamChunkT, buildStreamChunk(1, { data: new Float32Array(2), shape: [1, 2] }, spec));
  server.addPV('hostile:stream', pv);
  const other = SharedPV.readonly().open(ntscalar.type('double'), { value: 1 });
  server.addPV('hostile:scalar', other);
  const params = { ...spec, address: `127.0.0.1:${port}`, pvName: 'hostile:stream' };
  const inp = new InputStream({ queueSize: 16 });
  t.after(() => inp.close());
  await inp.connect(params);
  assert.equal((await inp.recv())[0], 1);
  const good = buildStreamChunk(3, { data: new Float32Array(4), shape: [2, 2] }, spec);
  const z = compress('lz4', new Float32Array(4));
  const hostile: [Record<string, unknown>, string, RegExp][] = [
    [{ dtype: 'float64' }, 'ERR_DECODE', /dtype float64 is not the stream's float32/],
    [{ shape: Int32Array.from([2, 3]) }, 'ERR_DECODE', /does not fit/],
    [{ shape: Int32Array.from([200_000, 2]), index: 200_000 }, 'ERR_DECODE', /needs 400000 elements, value has 4/],
    [
      {
        value: { field: 'ubyteValue', value: z },
        codec: { name: 'lz4', parameters: null },
        compressedSize: z.length,
        uncompressedSize: 1 << 29,
      },
      'ERR_CODEC',
      /uncompressedSize/,
    ],
    [
      {
        value: { field: 'ubyteValue', value: z },
        codec: { name: 'lz4', parameters: null },
        compressedSize: z.length,
        shape: Int32Array.from([100_000_000, 2]),
        index: 100_000_000,
        uncompressedSize: 800_000_000,
      },
      'ERR_CODEC',
      /cannot hold|lying/,
    ],
    [{ value: { field: 'ubyteValue', value: z }, codec: { name: 'snappy', parameters: null } }, 'ERR_CODEC', /snappy/],
  ];
  for (const [patch, c, re] of hostile) {
    pv.post({ ...good, ...patch });
    await assert.rejects(inp.recv(), (e: unknown) => code(c)(e) && re.test((e as Error).message), JSON.stringify(Object.keys(patch)));
  }
  pv.post(good);
  assert.equal((await inp.recv())[0], 3, 'the stream is usable after hostile chunks');
  const wrongType = new InputStream();
  t.after(() => wrongType.close());
  await wrongType.connect({ ...params, pvName: 'hostile:scalar' });
  await assert.rejects(wrongType.recv(), /not sluice:nt\/NTStreamChunk:1.0/);
});
