// A worker thread reading a sharedmem (threads) stream, for tests: it checks that frame k of each
// chunk starts with its absolute sample index (the test writers' pattern) and reports counts.
// workerData: { params, policy, hold }; with hold it takes a slot and never reads (a stuck thread).
import { parentPort, workerData } from 'node:worker_threads';
import { SharedRingReceiver } from '../../src/streams/sharedmem-threads.js';
import type { ConnectParams, ReaderPolicy } from '../../src/streams/transfer.js';

// `node --test dist/test/` loads every file of the folder: outside a worker there is nothing to do.
if (parentPort !== null) await main();

async function main(): Promise<void> {
  const { params, policy, hold } = workerData as { params: ConnectParams; policy: ReaderPolicy; hold?: boolean };
  const port = parentPort as NonNullable<typeof parentPort>;
  const rx = new SharedRingReceiver(params, { policy });
  port.postMessage({ type: 'ready' });
  if (!hold) {
    const frame = params.shape.slice(1).reduce((p, d) => p * d, 1);
    let samples = 0;
    let chunks = 0;
    let bad = 0;
    let zeroCopy = true;
    let overwritten = 0;
    for (;;) {
      const r = await rx.recv();
      if (r === null) break;
      const n = r.chunk.shape[0] as number;
      const data = r.chunk.data as Float64Array;
      if (data.buffer !== params['sharedmemBuffer']) zeroCopy = false;
      let wrong = 0;
      for (let k = 0; k < n; k++) if (data[k * frame] !== r.index - n + k) wrong++;
      // a view the writer overwrote while we read it is a drop (drop-oldest readers), not an error
      if (rx.intact(r.index, n)) bad += wrong;
      else overwritten += n;
      samples += n;
      chunks++;
    }
    port.postMessage({ type: 'done', samples, chunks, bad, zeroCopy, dropped: rx.stats().dropped, overwritten });
    await rx.close();
  }
}
