// Stream throughput for 1 MiB chunks: inproc (no copy: effective GB/s of data handed over), and
// tcp (an NTStreamChunk pvAccess monitor, lossless) against a raw Node.js TCP socket writing the
// same bytes in the same run. Writer and reader share this process in both tcp cases, so the
// ratio compares the protocols, not the scheduling. Medians of several runs. sharedmem across
// processes against this tcp mode (reader in a child process): bench/sharedmem.ts, part (c).
//
//   node dist/bench/streams.js [--runs 5] [--mib 1] [--seconds 1.5] [--queue 8]
import { once } from 'node:events';
import { createServer, connect, type Socket } from 'node:net';
import { parseArgs } from 'node:util';
import { InputStream, OutputStream, type StreamSpec } from '../src/streams/index.js';

const { values: opts } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    mib: { type: 'string', default: '1' },
    seconds: { type: 'string', default: '1.5' },
    queue: { type: 'string', default: '8' },
  },
});
const RUNS = Number(opts.runs);
const BYTES = Math.round(Number(opts.mib) * 1024 * 1024);
const SECONDS = Number(opts.seconds);
/** The tcp reader's queue (and pipeline window), in chunks. */
const QUEUE = Number(opts.queue);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

/** One run: the bytes it moved and how long that took. */
type Run = () => Promise<{ bytes: number; seconds: number }>;

/**
 * Send 1 MiB chunks for SECONDS through one stream of `spec` (`batch` sends between clock reads)
 * and check that every byte arrived.
 */
async function streamRun(
  label: string,
  spec: Partial<StreamSpec>,
  queueSize: number,
  batch: number,
): Promise<{ bytes: number; seconds: number }> {
  const out = new OutputStream();
  await out.configure({ ...spec, dtype: 'uint8', shape: [-1, BYTES] });
  const inp = new InputStream({ queueSize });
  await inp.connect(out);
  const chunk = new Uint8Array(BYTES).fill(7);
  let received = 0;
  const reader = (async () => {
    for await (const [, c] of inp) received += c.data.byteLength;
  })();
  const t0 = performance.now();
  const end = t0 + SECONDS * 1000;
  let n = 0;
  while (performance.now() < end) {
    for (let k = 0; k < batch; k++, n++) if (!out.send(chunk)) await out.drained();
  }
  await out.close();
  await reader;
  const seconds = (performance.now() - t0) / 1000;
  if (received !== n * BYTES) throw new Error(`${label}: received ${received} of ${n * BYTES} bytes`);
  return { bytes: received, seconds };
}

// inproc moves no bytes: 64 sends between clock reads keep the clock out of the figure.
const inprocRun = (): Promise<{ bytes: number; seconds: number }> => streamRun('inproc', { protocol: 'inproc' }, 8, 64);
const tcpRun = (): Promise<{ bytes: number; seconds: number }> =>
  streamRun('tcp', { protocol: 'tcp', interface: '127.0.0.1', port: 0 }, QUEUE, 1);

async function rawRun(): Promise<{ bytes: number; seconds: number }> {
  const chunk = Buffer.alloc(BYTES, 7);
  let received = 0;
  let expected = -1;
  let finished: () => void = () => {};
  const done = new Promise<void>((resolve) => (finished = resolve));
  const srv = createServer({ noDelay: true }, (sock) => {
    sock.on('data', (d: Buffer) => {
      received += d.length;
      if (received === expected) finished();
    });
  });
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const port = (srv.address() as { port: number }).port;
  const sock: Socket = connect({ port, host: '127.0.0.1', noDelay: true });
  await once(sock, 'connect');
  const t0 = performance.now();
  const end = t0 + SECONDS * 1000;
  let n = 0;
  while (performance.now() < end) {
    n++;
    if (!sock.write(chunk)) await once(sock, 'drain');
  }
  expected = n * BYTES;
  if (received !== expected) await done;
  const seconds = (performance.now() - t0) / 1000;
  sock.destroy();
  srv.close();
  return { bytes: received, seconds };
}

async function measure(name: string, run: Run): Promise<number[]> {
  const rates: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const { bytes, seconds } = await run();
    rates.push(bytes / seconds);
  }
  const m = median(rates);
  process.stdout.write(
    `${name.padEnd(8)} median ${(m / 1e6).toFixed(0).padStart(8)} MB/s  runs ${rates.map((x) => (x / 1e6).toFixed(0)).join(' ')}\n`,
  );
  return rates;
}

process.stdout.write(`streams: ${BYTES} byte chunks, ${RUNS} runs of ${SECONDS} s\n`);
await inprocRun(); // warm-up
const inproc = median(await measure('inproc', inprocRun));
// Raw and tcp alternate so that both see the same machine load.
const raw: number[] = [];
const tcp: number[] = [];
await tcpRun();
await rawRun();
for (let r = 0; r < RUNS; r++) {
  raw.push(...(await measureOnce(rawRun)));
  tcp.push(...(await measureOnce(tcpRun)));
}
async function measureOnce(run: Run): Promise<number[]> {
  const { bytes, seconds } = await run();
  return [bytes / seconds];
}
const rawM = median(raw);
const tcpM = median(tcp);
process.stdout.write(
  `raw-tcp  median ${(rawM / 1e6).toFixed(0).padStart(8)} MB/s  runs ${raw.map((x) => (x / 1e6).toFixed(0)).join(' ')}\n`,
);
process.stdout.write(
  `tcp      median ${(tcpM / 1e6).toFixed(0).padStart(8)} MB/s  runs ${tcp.map((x) => (x / 1e6).toFixed(0)).join(' ')}\n`,
);
process.stdout.write(`inproc ${(inproc / 1e9).toFixed(1)} GB/s effective; tcp/raw ${((tcpM / rawM) * 100).toFixed(0)}%\n`);
