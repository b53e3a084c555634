// The seed's threads example with worker threads: the main thread sends, a worker receives and
// prints. Two transfer modes: sharedmem (a ring in a SharedArrayBuffer the worker reads in place:
// its params carry the buffer to the worker) and tcp (chunks over a pvAccess monitor).
//
//   npm run build && node dist/examples/streams/threads.js [--mode sharedmem|tcp|both] [--chunks N]
import { Worker } from 'node:worker_threads';
import { parseArgs } from 'node:util';
import { OutputStream } from 'sluice';

const { values } = parseArgs({ options: { mode: { type: 'string', default: 'both' }, chunks: { type: 'string', default: '100' } } });
const modes = values.mode === 'both' ? ['sharedmem', 'tcp'] : [values.mode as string];
const chunks = Number(values.chunks);
const SAMPLES = 1024; // per chunk, of 4 float32 channels

for (const mode of modes) {
  const out = new OutputStream();
  // sharedmem needs a ring size (bufferSize); the worker reads views of that ring.
  await out.configure({ transfermode: mode, dtype: 'float32', shape: [-1, 4], bufferSize: 16 * SAMPLES, double: true });
  const worker = new Worker(new URL('./threads-worker.js', import.meta.url), { workerData: { params: out.params, mode } });
  const done = new Promise<void>((resolve, reject) => {
    worker.once('error', reject);
    worker.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`worker exited with code ${code}`))));
  });
  // The worker says when its input is connected: a reader sees only what is sent after that.
  await new Promise((resolve) => worker.once('message', resolve));

  const t0 = performance.now();
  const bytes = SAMPLES * 4 * Float32Array.BYTES_PER_ELEMENT;
  for (let k = 0; k < chunks; k++) {
    // a new array per chunk: a sender may still hold the previous one (tcp encodes it later)
    const data = new Float32Array(SAMPLES * 4);
    // sample i of the stream holds i in its first channel, so the worker can check what it got
    for (let i = 0; i < SAMPLES; i++) data[4 * i] = k * SAMPLES + i;
    // false: a (lossless) reader is behind; wait for room before sending more
    if (!out.send(data)) await out.drained();
  }
  await out.close(); // the worker's stream ends once it has read everything
  await done;
  const s = (performance.now() - t0) / 1000;
  const mb = (chunks * bytes) / 1e6;
  console.log(`${mode}: sent ${chunks} chunks (${mb.toFixed(1)} MB) in ${s.toFixed(3)} s, ${(mb / s).toFixed(0)} MB/s`);
}
