// A separate process reading a sharedmem (processes) stream, for tests and the bench: argv[2] is
// the params as JSON, argv[3] the policy. Prints "ready" once subscribed, then one JSON line of
// counts when the stream ends. Frames hold their absolute sample index (the test pattern,
// frames of shape [w]), checked unless argv[4] is "nocheck" (the bench).
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
  let strided = 0;
  for (;;) {
    const r = await rx.recv();
    if (r === null) break;
    const n = r.chunk.shape[0] as number;
    if (r.chunk.strides) strided++;
    if (check) {
      // Every element of a frame holds the frame's index; a ring with an axisorder gives strides.
      const data = r.chunk.data as Float64Array;
      const [s0, s1] = r.chunk.strides ?? [frame, 1];
      for (let k = 0; k < n; k++)
        for (let c = 0; c < frame; c++) if (data[k * (s0 as number) + c * (s1 as number)] !== r.index - n + k) bad++;
    }
    samples += n;
    bytes += r.chunk.data.byteLength;
    chunks++;
  }
  process.stdout.write(JSON.stringify({ samples, chunks, bad, bytes, strided, dropped: rx.stats().dropped }) + '\n');
  await rx.close();
}
