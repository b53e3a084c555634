// Child process of bench/sharedmem.ts: reads a sharedmem (processes) stream, a tcp stream, or
// bytes from a raw TCP socket, and prints "ready", then "done <bytes>" at the end.
import { connect } from 'node:net';
import { InputStream } from '../src/streams/input-stream.js';
import { FileRingReceiver } from '../src/streams/sharedmem-files.js';
import type { ConnectParams } from '../src/streams/transfer.js';

const [kind, arg, total] = process.argv.slice(2) as [string, string, string];
if (kind === 'file') {
  const rx = new FileRingReceiver(JSON.parse(arg) as ConnectParams, { policy: 'lossless', queueSize: 4 });
  await rx.connected();
  process.stdout.write('ready\n');
  let bytes = 0;
  for (let r = await rx.recv(); r !== null; r = await rx.recv()) bytes += r.chunk.data.byteLength;
  process.stdout.write(`done ${bytes}\n`);
  await rx.close();
} else if (kind === 'stream') {
  const inp = new InputStream({ queueSize: 8 });
  await inp.connect(JSON.parse(arg) as ConnectParams);
  process.stdout.write('ready\n');
  let bytes = 0;
  for await (const [, c] of inp) bytes += c.data.byteLength;
  process.stdout.write(`done ${bytes}\n`);
} else {
  const want = Number(total);
  let bytes = 0;
  const socket = connect(Number(arg), '127.0.0.1', () => process.stdout.write('ready\n'));
  socket.on('data', (b: Buffer) => {
    bytes += b.length;
    if (bytes >= want) {
      process.stdout.write(`done ${bytes}\n`);
      socket.end();
    }
  });
}
