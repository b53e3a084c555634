// Worker thread of bench/sharedmem.ts: reads chunks from the sluice sharedmem ring or from the
// bench's bare SharedArrayBuffer ring, touching one value per chunk (readers use views in place).
import { parentPort, workerData } from 'node:worker_threads';
import { SharedRingReceiver } from '../src/streams/sharedmem-threads.js';
import type { ConnectParams } from '../src/streams/transfer.js';

type Job =
  { kind: 'sluice'; params: ConnectParams } | { kind: 'bare'; sab: SharedArrayBuffer; slots: number; chunkBytes: number; reader: number };
const job = workerData as Job;
const port = parentPort as NonNullable<typeof parentPort>;
type WaitAsync = (a: Int32Array, i: number, v: number) => { async: boolean; value: Promise<string> | string };
const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;

let touched = 0;
if (job.kind === 'sluice') {
  const rx = new SharedRingReceiver(job.params, { policy: 'lossless' });
  port.postMessage('ready');
  for (let r = await rx.recv(); r !== null; r = await rx.recv()) touched += Number(r.chunk.data[0]);
  await rx.close();
} else {
  // The bare protocol: word 0 = chunks published (-1 once done), word 1 + reader = chunks it read.
  const words = new Int32Array(job.sab, 0, 16);
  const data = new Uint8Array(job.sab, 64);
  port.postMessage('ready');
  const keep = setInterval(() => undefined, 1 << 30);
  let mine = 0;
  for (;;) {
    const published = Atomics.load(words, 0);
    if (published === -1 && mine === Atomics.load(words, 15)) break;
    if (published !== -1 && published === mine) {
      const w = waitAsync(words, 0, published);
      if (w.async) await w.value;
      continue;
    }
    const view = data.subarray((mine % job.slots) * job.chunkBytes, ((mine % job.slots) + 1) * job.chunkBytes);
    touched += view[0] as number;
    mine++;
    Atomics.store(words, 1 + job.reader, mine);
    Atomics.notify(words, 1 + job.reader);
  }
  clearInterval(keep);
}
port.postMessage({ done: true, touched });
