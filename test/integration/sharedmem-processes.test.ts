// sharedmem between processes: a ring file in /dev/shm read by a spawned node process, with
// (index, length) over a pvAccess PV; drops counted, lossless back-pressure, the file removed
// on close, and clear errors for missing or wrong files and lying control values.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { SluiceError } from '../../src/errors.js';
import { SharedPV } from '../../src/pv/shared-pv.js';
import { t } from '../../src/pvdata/types.js';
import { InputStream, OutputStream } from '../../src/streams/index.js';
import { sharedmemMode } from '../../src/streams/sharedmem.js';
import { FileRingReceiver, FileRingSender, ringDirectory } from '../../src/streams/sharedmem-files.js';
import { startServer } from '../helpers/net.js';
import { indexedChunk, testSpec } from '../helpers/stream-spec.js';

const childJs = new URL('../helpers/sharedmem-child.js', import.meta.url).pathname;

function spawnReader(params: unknown, policy: string): { ready: Promise<void>; result: Promise<Record<string, number>> } {
  const child = spawn(process.execPath, [childJs, JSON.stringify(params), policy], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout });
  let onReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  const result = new Promise<Record<string, number>>((resolve, reject) => {
    lines.on('line', (line) => (line === 'ready' ? onReady() : resolve(JSON.parse(line) as Record<string, number>)));
    child.once('exit', (code) => reject(new Error(`reader exited with ${code} before its result`)));
  });
  return { ready, result };
}

test('a reader in another process gets every sample through the ring file; the file goes on close', async () => {
  const tx = await sharedmemMode.createSender(testSpec({ bufferSize: 1000, sharedmemScope: 'processes' }));
  assert.equal(tx.params['sharedmemScope'], 'processes');
  const path = tx.params['sharedmemPath'] as string;
  assert.ok(path.startsWith(ringDirectory()));
  assert.ok(existsSync(path));
  const reader = spawnReader(tx.params, 'lossless');
  await reader.ready;
  let end = 0;
  for (let c = 0; c < 200; c++) {
    end += 50;
    if (!tx.send(end, indexedChunk(end, 50))) await tx.drained();
  }
  assert.equal(tx.stats().readers, 1);
  await tx.close();
  const r = await reader.result;
  assert.deepEqual({ samples: r['samples'], bad: r['bad'], dropped: r['dropped'] }, { samples: 10_000, bad: 0, dropped: 0 });
  assert.equal(existsSync(path), false, 'the ring file is removed on close');
});

test('a drop-oldest reader that does not read loses the oldest samples, counted; the writer never waits', async () => {
  const tx = await FileRingSender.create(testSpec({ bufferSize: 100, sharedmemScope: 'processes' }));
  const rx = new FileRingReceiver(tx.params, { policy: 'drop-oldest', queueSize: 4 });
  await rx.connected();
  for (let end = 10; end <= 1000; end += 10) assert.equal(tx.send(end, indexedChunk(end, 10)), true);
  let samples = 0;
  for (let last = 0; last < 1000;) {
    const r = await rx.recv();
    assert.ok(r !== null);
    const n = r.chunk.shape[0] as number;
    samples += n;
    last = r.index;
    assert.equal((r.chunk.data as Float64Array)[0], r.index - n);
  }
  const closing = tx.close(); // waits for the reader to take the end
  assert.equal(await rx.recv(), null, 'the end is marked');
  await closing;
  assert.ok(rx.stats().dropped > 0);
  assert.equal(samples + rx.stats().dropped, 1000, 'every sample was read or counted');
  await rx.close();
});

test('a lossless reader holds the writer back through the pipelined monitor', async () => {
  const tx = await FileRingSender.create(testSpec({ bufferSize: 1000, sharedmemScope: 'processes' }));
  const rx = new FileRingReceiver(tx.params, { policy: 'lossless', queueSize: 2 });
  await rx.connected();
  let end = 0;
  let sent = 0;
  while (tx.send((end += 10), indexedChunk(end, 10))) if (++sent > 100) break;
  assert.ok(sent < 10, `send() said stop after ${sent} chunks`);
  let drained = false;
  const d = tx.drained().then(() => (drained = true));
  const got: number[] = [];
  while (!drained) {
    const r = await rx.recv();
    got.push(r?.index ?? -1);
    await new Promise((resolve) => setImmediate(resolve));
  }
  await d;
  assert.deepEqual(
    got,
    got.map((_, i) => 10 * (i + 1)),
    'in order, nothing lost',
  );
  assert.equal(rx.stats().dropped, 0);
  await rx.close(); // a lossless reader that leaves does not hold up the writer's close
  await tx.close();
});

test('missing, truncated or foreign ring files are refused with the file named', async () => {
  const tx = await FileRingSender.create(testSpec({ bufferSize: 100, sharedmemScope: 'processes' }));
  const dir = mkdtempSync(join(tmpdir(), 'sluice-shm-'));
  try {
    const opts = { policy: 'drop-oldest', queueSize: 4 } as const;
    const missing = join(dir, 'gone');
    assert.throws(
      () => new FileRingReceiver({ ...tx.params, sharedmemPath: missing }, opts),
      (e: unknown) => e instanceof SluiceError && e.code === 'ERR_FILE' && e.message.includes(missing) && /ENOENT/.test(e.message),
    );
    const short = join(dir, 'short');
    writeFileSync(short, new Uint8Array(100));
    // testSpec's ring is double: 2 x 100 samples of 4 float64 after the 64-byte header
    assert.throws(() => new FileRingReceiver({ ...tx.params, sharedmemPath: short }, opts), /has 100 bytes, the stream's ring needs 6464/);
    const foreign = join(dir, 'foreign');
    writeFileSync(foreign, new Uint8Array(6464));
    assert.throws(() => new FileRingReceiver({ ...tx.params, sharedmemPath: foreign }, opts), /bad magic/);
    assert.throws(() => new FileRingReceiver({ ...tx.params, bufferSize: 50 }, opts), /the stream's ring needs 3264/);
    assert.throws(() => new FileRingReceiver({ ...tx.params, double: false }, opts), /the stream's ring needs 3264/);
    assert.throws(
      () => new FileRingReceiver({ ...tx.params, axisorder: [1, 0] }, opts),
      /laid out with double true and axisorder \[\], the params say double true and axisorder \[1,0\]/,
    );
    assert.throws(
      () => new FileRingReceiver({ ...tx.params, sharedmemControl: undefined }, opts),
      /need sharedmemPath and sharedmemControl/,
    );
  } finally {
    rmSync(dir, { recursive: true });
    await tx.close();
  }
});

const controlType = t.struct({ index: t.long, length: t.long });

for (const [what, values, message] of [
  ['a length larger than the ring', [{ index: 500n, length: 101n }], /length 101\) is not a chunk of a ring of 100 samples/],
  ['a negative length', [{ index: 5n, length: -1n }], /is not a chunk/],
  ['an index beyond what was written', [{ index: 1_000_000n, length: 10n }], /announced samples up to 1000000, the ring holds up to 20/],
  [
    'an index that goes back',
    [
      { index: 20n, length: 10n },
      { index: 15n, length: 5n },
    ],
    /index 15 goes back before 20/,
  ],
] as const) {
  test(`a lying control PV is refused: ${what}`, async () => {
    const tx = await FileRingSender.create(testSpec({ bufferSize: 100, sharedmemScope: 'processes' }));
    tx.send(20, indexedChunk(20, 20));
    const { server, port } = await startServer();
    const pv = SharedPV.readonly().open(controlType, { index: 0n, length: 0n });
    server.addPV('liar:latest', pv);
    const rx = new FileRingReceiver(
      { ...tx.params, sharedmemControl: { host: '127.0.0.1', port, name: 'liar' } },
      { policy: 'drop-oldest', queueSize: 8 },
    );
    try {
      await rx.connected();
      for (const v of values) pv.post(v);
      const recvs = async () => {
        for (;;) if ((await rx.recv()) === null) return;
      };
      await assert.rejects(recvs(), (e: unknown) => e instanceof SluiceError && e.code === 'ERR_PROTOCOL' && message.test(e.message));
    } finally {
      await rx.close();
      await server.close();
      await tx.close();
    }
  });
}

test('when the output closes, an input reading through the ring file ends at once, as in other modes', async () => {
  const out = new OutputStream();
  // A reader that stays subscribed after the end would hold close() for this long.
  await out.configure({
    transfermode: 'sharedmem',
    sharedmemScope: 'processes',
    bufferSize: 1000,
    dtype: 'float64',
    shape: [-1, 4],
    sharedmemCloseTimeoutMs: 30_000,
  });
  const inp = new InputStream();
  await inp.connect(out);
  const reading = (async () => {
    let samples = 0;
    for await (const [, chunk] of inp) samples += chunk.shape[0] as number;
    return samples;
  })();
  for (let end = 50; end <= 500; end += 50) if (!out.send(indexedChunk(end, 50).data, end)) await out.drained();
  const t0 = performance.now();
  await out.close();
  const closeMs = performance.now() - t0;
  assert.equal(await reading, 500);
  assert.ok(closeMs < 10_000, `close() took ${closeMs.toFixed(0)} ms: the reader did not leave when the stream ended`);
  await assert.rejects(inp.recv(), (e: unknown) => e instanceof SluiceError && e.code === 'ERR_CHANNEL_CLOSED');
  await inp.close();
});

test('a drop-oldest input that had not read yet still gets the samples the end of the stream squashed', async () => {
  const out = new OutputStream();
  await out.configure({ transfermode: 'sharedmem', sharedmemScope: 'processes', bufferSize: 1000, dtype: 'float64', shape: [-1, 4] });
  const inp = new InputStream({ policy: 'drop-oldest', queueSize: 2 });
  await inp.connect(out);
  for (let end = 40; end <= 400; end += 40) assert.equal(out.send(indexedChunk(end, 40).data, end), true);
  const closing = out.close(); // waits (sharedmemCloseTimeoutMs at most) for the reader to take the end
  let samples = 0;
  let last = 0;
  for await (const [index, chunk] of inp) {
    const n = chunk.shape[0] as number;
    assert.equal(chunk.data[0], index - n, 'frames hold their index');
    samples += n;
    last = index;
  }
  assert.deepEqual({ samples, last, dropped: inp.stats().dropped }, { samples: 400, last: 400, dropped: 0 });
  await closing;
  await inp.close();
});

/** The same samples with the channels outermost in memory (strides [1, n]). */
function columnMajor(chunk: { data: Float64Array; shape: number[] }): { data: Float64Array; shape: number[]; strides: number[] } {
  const [n, w] = chunk.shape as [number, number];
  const data = new Float64Array(n * w);
  for (let k = 0; k < n; k++) for (let c = 0; c < w; c++) data[c * n + k] = chunk.data[k * w + c] as number;
  return { data, shape: chunk.shape, strides: [1, n] };
}

for (const [double, axisorder] of [
  [false, [1, 0]],
  [true, null],
  [true, [1, 0]],
] as const) {
  test(`the ring file honours double ${double} and axisorder ${JSON.stringify(axisorder)}: a reader in another process gets every sample`, async () => {
    const tx = await sharedmemMode.createSender(testSpec({ bufferSize: 100, sharedmemScope: 'processes', double, axisorder }));
    const path = tx.params['sharedmemPath'] as string;
    assert.equal(statSync(path).size, 64 + (double ? 200 : 100) * 4 * 8, 'a double ring holds every sample twice');
    const reader = spawnReader(tx.params, 'lossless');
    await reader.ready;
    // 9-sample chunks wrap around the 100-sample ring again and again (lossless needs it to hold
    // 2 x queueSize + 2 of them); one strided chunk too.
    let end = 0;
    for (let c = 0; c < 150; c++) {
      end += 9;
      const chunk = indexedChunk(end, 9);
      const send = c === 7 ? columnMajor(chunk) : chunk;
      if (!tx.send(end, send)) await tx.drained();
    }
    await tx.close();
    const r = await reader.result;
    assert.deepEqual({ samples: r['samples'], bad: r['bad'], dropped: r['dropped'] }, { samples: 1350, bad: 0, dropped: 0 });
    assert.equal(r['strided'], axisorder === null ? 0 : r['chunks'], 'with an axisorder, chunks come in its memory order, with strides');
  });
}

test('a reader of a double ring file gets a window that wraps as one read, in place in its buffer', async () => {
  const tx = await FileRingSender.create(testSpec({ bufferSize: 100, sharedmemScope: 'processes', double: true, axisorder: [1, 0] }));
  const rx = new FileRingReceiver(tx.params, { policy: 'lossless', queueSize: 4 });
  await rx.connected();
  tx.send(90, indexedChunk(90, 90));
  tx.send(150, indexedChunk(150, 60)); // samples 90..149: positions 90..99 then 0..49 (and 190..199, 100..149)
  const a = await rx.recv();
  const b = await rx.recv();
  assert.ok(a && b);
  assert.deepEqual([b.index, b.chunk.shape, b.chunk.strides], [150, [60, 4], [1, 60]]);
  const data = b.chunk.data as Float64Array;
  for (let k = 0; k < 60; k++) for (let c = 0; c < 4; c++) assert.equal(data[k + 60 * c], 90 + k);
  await rx.close();
  await tx.close();
});
