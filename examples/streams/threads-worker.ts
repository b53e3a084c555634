// The receiving thread of threads.ts: connects an InputStream to the params it was given and
// prints the first chunk and a summary (chunks, samples, whether every sample was where expected).
import { parentPort, workerData } from 'node:worker_threads';
import { InputStream, type ConnectParams } from 'sluice';

const { params, mode } = workerData as { params: ConnectParams; mode: string };
const inp = new InputStream();
await inp.connect(params);
parentPort?.postMessage('connected');

let chunks = 0;
let samples = 0;
let misplaced = 0;
for await (const [index, chunk] of inp) {
  const n = chunk.shape[0] as number;
  if (chunks === 0) console.log(`${mode} worker: Received: (${index}, shape [${chunk.shape.join(', ')}])`);
  for (let i = 0; i < n; i++) if (chunk.data[4 * i] !== index - n + i) misplaced++;
  chunks++;
  samples += n;
}
console.log(`${mode} worker: stream ended after ${chunks} chunks, ${samples} samples, ${misplaced} misplaced`);
