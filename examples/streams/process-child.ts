// The module processes.ts imports in its child process: it makes the OutputStream there (a class
// instance, so the parent gets it by proxy) and sends a ramp through it.
import { OutputStream, type StreamSpec } from 'sluice';

export async function createOutput(spec: Partial<StreamSpec>): Promise<OutputStream> {
  const out = new OutputStream();
  await out.configure(spec);
  return out;
}

/** `chunks` chunks of `length` samples; sample i holds i in every column. Closes the output at the end. */
export async function sendRamp(out: OutputStream, chunks: number, length: number): Promise<number> {
  const columns = out.params.shape[1] ?? 1;
  for (let k = 0; k < chunks; k++) {
    const data = new Float64Array(length * columns); // a sender may still hold the previous chunk
    for (let i = 0; i < length; i++) data.fill(k * length + i, i * columns, (i + 1) * columns);
    if (!out.send(data)) await out.drained();
  }
  const sent = out.index;
  await out.close();
  return sent;
}
