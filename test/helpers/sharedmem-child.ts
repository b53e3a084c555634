// A separate process reading a sharedmem (processes) stream, for tests and the bench: argv[2] is
// the params as JSON, argv[3] the policy. Prints "ready" once subscribed, then one JSON line of
// counts when the stream ends. Frames start with their absolute sample index (the test pattern),
// checked unless argv[4] is "nocheck" (the bench).
import { FileRingReceiver } from '../../src/streams/sharedmem-files.js';
import type { ConnectParams, ReaderPolicy } from '../../src/streams/transfer.js';

// `node --test dist/test/` loads every file of the folder: without arguments there is nothing to do.
if (process.argv[2] !== undefined) await main();

async function main(): Promise<void> {
  const params = JSON.parse(process.argv[2] as string) as ConnectParams;
  const policy = process.argv[3] as ReaderPolicy;
  const check = process.argv[4] !== 'nocheck';
  const rx = new FileRingReceiver(params, { policy, queueSize: 4 });
  await rx.connected();
  process.stdout.write('ready\n');
  const frame = params.shape.slice(1).reduce((p, d) => p * d, 1);
  let samples = 0;
  let chunks = 0;
  let bad = 0;
  let bytes = 0;
  for (;;) {
    const r = await rx.recv();
    if (r === null) break;
    const n = r.chunk.shape[0] as number;
    if (check) {
      const data = r.chunk.data as Float64Array;
      for (let k = 0; k < n; k++) if (data[k * frame] !== r.index - n + k) bad++;
    }
    samples += n;
    bytes += r.chunk.data.byteLength;
    chunks++;
  }
  process.stdout.write(JSON.stringify({ samples, chunks, bad, bytes, dropped: rx.stats().dropped }) + '\n');
  await rx.close();
}
