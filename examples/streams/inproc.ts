// The seed's first example, in one process: an output and an input connected locally, a reader
// loop that prints what it receives, and the input's ring buffer read back by absolute index.
// The inproc mode hands the sender's arrays to the reader (no copy, no socket).
//
//   npm run build && node dist/examples/streams/inproc.js
import { InputStream, OutputStream } from 'sluice';

const out = new OutputStream();
await out.configure({ protocol: 'inproc', transfermode: 'plaindata', dtype: 'int32', shape: [-1, 2] });

const inp = new InputStream();
await inp.connect(out);
// Keep the last 8 samples of the stream, whatever the chunking, for getData() below.
inp.setBuffer({ size: 8 });

// The receiving loop, as the seed's background thread (here an async task of the same thread).
const received = (async () => {
  for await (const [index, chunk] of inp) {
    const rows: number[][] = [];
    for (let i = 0; i < (chunk.shape[0] as number); i++) rows.push([chunk.data[2 * i], chunk.data[2 * i + 1]] as number[]);
    console.log(`Received: (${index}, ${JSON.stringify(rows)})`);
  }
})();

out.send(new Int32Array([1, 2, 3, 4, 5, 6])); // three samples of two values: index 3
out.send(new Int32Array([7, 8]), 6); // one sample ending at 6: samples 3 and 4 are a gap (filled)
await out.close();
await received;

const last = inp.getData(inp.firstIndex(), inp.bufferIndex(), { copy: true });
console.log(`buffer window [${inp.firstIndex()}, ${inp.bufferIndex()}): ${JSON.stringify(Array.from(last.data as Int32Array))}`);
