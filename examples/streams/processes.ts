// The seed's "streaming between processes": a child process (ProcessSpawner) creates and owns an
// OutputStream; this process holds only an RPC proxy to it and connects its InputStream through
// that proxy, exactly as to a local output. The chunks then travel child -> parent directly, over
// the transfer mode (tcp by default; sharedmem with --mode sharedmem: a ring file, (index, length)
// messages), not through RPC.
//
//   npm run build && node dist/examples/streams/processes.js [--mode tcp|sharedmem] [--chunks N]
import { parseArgs } from 'node:util';
import { InputStream, ProcessSpawner } from 'sluice';

const { values } = parseArgs({ options: { mode: { type: 'string', default: 'tcp' }, chunks: { type: 'string', default: '50' } } });
const chunks = Number(values.chunks);

const child = await ProcessSpawner.start({ name: 'producer' });
try {
  const producer = await child.import(new URL('./process-child.js', import.meta.url).href);
  // The OutputStream lives in the child; `out` is a proxy to it.
  const out = await producer.createOutput({
    transfermode: values.mode,
    dtype: 'float64',
    shape: [-1, 8],
    // sharedmem between processes: a ring file of 64 Ki samples (threads would need a SharedArrayBuffer)
    ...(values.mode === 'sharedmem' ? { bufferSize: 64 * 1024, sharedmemScope: 'processes' } : {}),
  });
  const inp = new InputStream();
  // Given the proxy, the input asks it for the output's params (they come by value) and connects to them.
  await inp.connect(out);
  console.log(`connected to the child's ${String(inp.params.transfermode)} output (pid ${child.child.pid})`);

  // Ask the child to send; do not wait for it here: we read while it sends.
  const sending = producer.sendRamp(out, chunks, 1000);
  let received = 0;
  let samples = 0;
  for await (const [index, chunk] of inp) {
    if (received === 0) console.log(`Received: (${index}, shape [${chunk.shape.join(', ')}], first value ${chunk.data[0]})`);
    received++;
    samples += chunk.shape[0] as number;
  }
  await sending;
  console.log(`stream ended: ${received} chunks, ${samples} samples, last index ${inp.index}`);
  await inp.close();
} finally {
  console.log(`child exited with code ${await child.stop()}`);
}
