// sharedmem throughput, each against its baseline in the same run (medians of several runs):
//  (a) threads: the sluice sharedmem ring to 4 lossless worker-thread readers vs a bare
//      SharedArrayBuffer ring with a minimal Atomics protocol (same chunk size, same readers);
//  (b) processes: the ring file + pvAccess control to a child process vs a raw Node TCP socket
//      moving the same 1 MiB chunks;
//  (c) processes: the same sharedmem stream vs the tcp stream mode (an OutputStream read by an
//      InputStream in the child), the two ways Sluice streams between processes on one host.
// Usage: node dist/bench/sharedmem.js [runs=5] [chunks=400]
import { spawn } from 'node:child_process';
import { createServer, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { Worker } from 'node:worker_threads';
import { OutputStream } from '../src/streams/output-stream.js';
import { FileRingSender } from '../src/streams/sharedmem-files.js';
import { SharedRingSender } from '../src/streams/sharedmem-threads.js';
import type { StreamSpec } from '../src/streams/transfer.js';

const RUNS = Number(process.argv[2] ?? 5);
const CHUNKS = Number(process.argv[3] ?? 400);
const CHUNK = 1 << 20;
const READERS = 4;
const RING_CHUNKS = 8;
const workerUrl = new URL('./sharedmem-worker.js', import.meta.url);
const readerJs = new URL('./sharedmem-reader.js', import.meta.url).pathname;
type WaitAsync = (a: Int32Array, i: number, v: number) => { async: boolean; value: Promise<string> | string };
const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;

function spec(overrides: Record<string, unknown>): StreamSpec {
  return {
    protocol: 'inproc',
    interface: '127.0.0.1',
    port: 0,
    transfermode: 'sharedmem',
    streamtype: 'analogsignal',
    dtype: 'uint8',
    shape: [-1, CHUNK],
    axisorder: null,
    bufferSize: RING_CHUNKS,
    double: false,
    fill: null,
    sampleRate: 1,
    units: '',
    chunkSize: 0,
    compression: '',
    ...overrides,
  };
}

const chunk = new Uint8Array(CHUNK).map((_, i) => i & 0xff);

function startWorkers(data: (i: number) => unknown): Promise<{ done: Promise<unknown>[]; workers: Worker[] }> {
  const workers = Array.from({ length: READERS }, (_, i) => new Worker(workerUrl, { workerData: data(i) }));
  const ready = workers.map((w) => new Promise<void>((r) => w.once('message', () => r())));
  const done = workers.map((w) => new Promise((r) => w.on('message', (m: { done?: boolean }) => m.done && r(m))));
  return Promise.all(ready).then(() => ({ done, workers }));
}

async function sluiceThreads(): Promise<number> {
  const tx = new SharedRingSender(spec({}));
  const { done, workers } = await startWorkers(() => ({ kind: 'sluice', params: tx.params }));
  const t0 = performance.now();
  for (let i = 1; i <= CHUNKS; i++) if (!tx.send(i, { data: chunk, shape: [1, CHUNK] })) await tx.drained();
  await tx.close();
  await Promise.all(done);
  const s = (performance.now() - t0) / 1000;
  await Promise.all(workers.map((w) => w.terminate()));
  return (CHUNKS * CHUNK) / s;
}

async function bareThreads(): Promise<number> {
  const sab = new SharedArrayBuffer(64 + RING_CHUNKS * CHUNK);
  const words = new Int32Array(sab, 0, 16);
  const data = new Uint8Array(sab, 64);
  const { done, workers } = await startWorkers((reader) => ({ kind: 'bare', sab, slots: RING_CHUNKS, chunkBytes: CHUNK, reader }));
  const t0 = performance.now();
  for (let i = 0; i < CHUNKS; i++) {
    // wait until the slowest reader has left slot i % RING_CHUNKS
    for (;;) {
      let slowest = 1;
      for (let r = 1; r < 1 + READERS; r++) if (Atomics.load(words, r) < Atomics.load(words, slowest)) slowest = r;
      const read = Atomics.load(words, slowest);
      if (i - read < RING_CHUNKS) break;
      const w = waitAsync(words, slowest, read);
      if (w.async) await w.value;
    }
    data.set(chunk, (i % RING_CHUNKS) * CHUNK);
    Atomics.store(words, 0, i + 1);
    Atomics.notify(words, 0);
  }
  Atomics.store(words, 15, CHUNKS);
  Atomics.store(words, 0, -1);
  Atomics.notify(words, 0);
  await Promise.all(done);
  const s = (performance.now() - t0) / 1000;
  await Promise.all(workers.map((w) => w.terminate()));
  return (CHUNKS * CHUNK) / s;
}

function child(args: string[]): { ready: Promise<void>; done: Promise<void> } {
  const c = spawn(process.execPath, [readerJs, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: c.stdout });
  let onReady = (): void => undefined;
  const ready = new Promise<void>((r) => (onReady = r));
  const done = new Promise<void>((resolve, reject) => {
    lines.on('line', (l) => (l === 'ready' ? onReady() : l.startsWith('done') && resolve()));
    c.once('exit', (code) => code !== 0 && reject(new Error(`reader exited with ${code}`)));
  });
  return { ready, done };
}

async function sluiceProcesses(): Promise<number> {
  const tx = await FileRingSender.create(spec({ bufferSize: 32, sharedmemScope: 'processes' }));
  const c = child(['file', JSON.stringify(tx.params), '0']);
  await c.ready;
  const t0 = performance.now();
  for (let i = 1; i <= CHUNKS; i++) if (!tx.send(i, { data: chunk, shape: [1, CHUNK] })) await tx.drained();
  const closing = tx.close();
  await c.done;
  const s = (performance.now() - t0) / 1000;
  await closing;
  return (CHUNKS * CHUNK) / s;
}

async function tcpStreamProcesses(): Promise<number> {
  const out = new OutputStream();
  await out.configure({ protocol: 'tcp', interface: '127.0.0.1', port: 0, dtype: 'uint8', shape: [-1, CHUNK] });
  const c = child(['stream', JSON.stringify(out.params), '0']);
  await c.ready;
  const t0 = performance.now();
  for (let i = 0; i < CHUNKS; i++) if (!out.send(chunk)) await out.drained();
  const closing = out.close(); // the reader gets what was queued, then its stream ends
  await c.done;
  const s = (performance.now() - t0) / 1000;
  await closing;
  return (CHUNKS * CHUNK) / s;
}

async function rawTcp(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const accepted = new Promise<Socket>((r) => server.once('connection', r));
  const c = child(['tcp', String(port), String(CHUNKS * CHUNK)]);
  const socket = await accepted;
  await c.ready;
  const t0 = performance.now();
  for (let i = 0; i < CHUNKS; i++) if (!socket.write(chunk)) await new Promise((r) => socket.once('drain', r));
  await c.done;
  const s = (performance.now() - t0) / 1000;
  socket.destroy();
  server.close();
  return (CHUNKS * CHUNK) / s;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
};
const gbs = (x: number): string => `${(x / 1e9).toFixed(2)} GB/s`;

async function compare(title: string, ours: () => Promise<number>, base: () => Promise<number>, baseName: string): Promise<void> {
  const a: number[] = [];
  const b: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    b.push(await base());
    a.push(await ours());
  }
  const ma = median(a);
  const mb = median(b);
  console.log(
    `${title}: sluice ${gbs(ma)}, ${baseName} ${gbs(mb)}, ratio ${(ma / mb).toFixed(2)} (medians of ${RUNS} runs of ${CHUNKS} x 1 MiB)`,
  );
}

await compare(`(a) sharedmem to ${READERS} worker threads`, sluiceThreads, bareThreads, 'bare SharedArrayBuffer ring');
await compare('(b) sharedmem across processes', sluiceProcesses, rawTcp, 'raw Node TCP');
await compare('(c) sharedmem across processes', sluiceProcesses, tcpStreamProcesses, 'tcp stream mode');
