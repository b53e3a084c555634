// Monitor throughput: NTNDArray frames from a Sluice server to a Sluice client over loopback,
// each side in its own process, against a raw Node.js TCP socket sending the same number of
// bytes per message in the same run. Medians of several runs; ratios to raw TCP.
//
//   node dist/bench/monitor.js [--runs 3] [--sizes 128x128,2048x1024] [--seconds 2] [--json FILE]
//
// Roles (internal): --role raw-server|raw-client|pva-server|pva-client
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { PvaClient } from '../src/pva/client/client.js';
import { PvaServer } from '../src/pva/server/server.js';
import { SharedPV } from '../src/pv/shared-pv.js';
import { ntndarray } from '../src/pvdata/nt/index.js';

const { values: opts } = parseArgs({
  options: {
    role: { type: 'string' },
    port: { type: 'string' },
    bytes: { type: 'string' },
    nx: { type: 'string' },
    ny: { type: 'string' },
    frames: { type: 'string' },
    runs: { type: 'string', default: '3' },
    sizes: { type: 'string', default: '128x128,2048x1024' },
    seconds: { type: 'string', default: '2' },
    queue: { type: 'string', default: '100' },
    json: { type: 'string' },
    mode: { type: 'string', default: 'deliver' },
  },
});

interface Result {
  frames: number;
  seconds: number;
  bytes: number;
  cpuUserMs: number;
  cpuSysMs: number;
  missed: number;
}

function report(r: Result): void {
  process.stdout.write(`RESULT ${JSON.stringify(r)}\n`);
}

function cpuMs(start: NodeJS.CpuUsage): { cpuUserMs: number; cpuSysMs: number } {
  const d = process.cpuUsage(start);
  return { cpuUserMs: d.user / 1000, cpuSysMs: d.system / 1000 };
}

// ---- raw TCP ----------------------------------------------------------------------------

async function rawServer(bytes: number): Promise<void> {
  const msg = Buffer.alloc(bytes + 8, 7);
  const srv = createServer({ noDelay: true }, (sock) => {
    const cpu = process.cpuUsage();
    const write = (): void => {
      while (sock.write(msg));
    };
    sock.on('drain', write);
    sock.on('error', () => {});
    sock.on('close', () => {
      report({ frames: 0, seconds: 0, bytes: 0, missed: 0, ...cpuMs(cpu) });
      srv.close();
    });
    write();
  });
  srv.listen(0, '127.0.0.1', () => {
    process.stdout.write(`PORT ${(srv.address() as { port: number }).port}\n`);
  });
}

/**
 * Raw TCP receivers for the same byte stream (fixed-size messages):
 * - `count`: reads into one reused buffer and only counts bytes: the ceiling of the socket;
 * - `deliver`: hands every message to the application in a buffer of its own, the least any
 *   real receiver must do (large messages are read straight into a new buffer each, small ones
 *   are views into fresh read slabs), i.e. what Sluice does minus the protocol.
 */
async function rawClient(port: number, bytes: number, frames: number, mode: string): Promise<void> {
  const per = bytes + 8;
  let got = 0;
  let t0 = 0n;
  let cpu = process.cpuUsage();
  const target = per * frames;
  const warm = per * Math.min(1000, frames / 10);
  let counting = false;
  const reused = Buffer.allocUnsafe(1 << 20);
  let slab = new Uint8Array(0);
  let used = 0;
  let msg: Uint8Array | null = null; // large message being filled
  let fill = 0;
  let partial = 0; // bytes of the current small message seen so far
  const sink: Uint8Array[] = [];
  const bufferFor = (): Uint8Array => {
    if (mode === 'count') return reused;
    if (per >= 65536) {
      if (!msg) {
        msg = new Uint8Array(Buffer.allocUnsafeSlow(per).buffer, 0, per);
        fill = 0;
      }
      return msg.subarray(fill);
    }
    if (slab.length - used < 65536) {
      slab = new Uint8Array(Buffer.allocUnsafeSlow(1 << 20).buffer);
      used = 0;
    }
    return slab.subarray(used);
  };
  const sock = connect({
    port,
    host: '127.0.0.1',
    noDelay: true,
    onread: {
      buffer: mode === 'count' ? reused : bufferFor,
      callback: (n: number, buf: Uint8Array) => {
        got += n;
        if (mode !== 'count') {
          if (msg && buf.buffer === msg.buffer) {
            fill += n;
            if (fill === per) {
              sink.push(msg); // handed to the application
              msg = null;
            }
          } else {
            // small messages: a view per complete message, as a framer would make
            for (let k = partial + n; k >= per; k -= per) {
              sink.push(buf.subarray(0, per));
            }
            partial = (partial + n) % per;
            used += n;
          }
          if (sink.length > 64) sink.length = 0; // the application is done with them
        }
        if (!counting && got >= warm) {
          counting = true;
          got = 0;
          t0 = process.hrtime.bigint();
          cpu = process.cpuUsage();
        }
        if (counting && got >= target) {
          const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
          report({ frames, seconds, bytes: got, missed: 0, ...cpuMs(cpu) });
          sock.destroy();
          return false;
        }
        return true;
      },
    },
  });
}

// ---- Sluice --------------------------------------------------------------------------------

async function pvaServer(nx: number, ny: number): Promise<void> {
  const server = new PvaServer({ host: '127.0.0.1', port: 0, udpPort: false });
  const pv = new SharedPV();
  const data = new Uint8Array(nx * ny).fill(3);
  const type = ntndarray.type();
  pv.open(type, ntndarray.build({ data, dims: [nx, ny], uniqueId: 0 }));
  server.addPV('BENCH:image', pv);
  const port = await server.listen();
  process.stdout.write(`PORT ${port}\n`);
  // Wait for the subscriber, then post as fast as it can take without loss.
  while (pv.subscriberCount === 0) await new Promise((r) => setTimeout(r, 5));
  const cpu = process.cpuUsage();
  const ts = { secondsPastEpoch: 0n, nanoseconds: 0, userTag: 0 };
  let id = 1;
  const base = ntndarray.build({ data, dims: [nx, ny], uniqueId: 0, dataTimeStamp: ts, colorMode: 0 });
  while (pv.subscriberCount > 0) {
    // A new frame object per post, sharing the pixel buffer (as a detector driver would reuse a pool).
    if (!pv.post({ ...base, uniqueId: id++ })) await pv.drained();
  }
  report({ frames: id - 1, seconds: 0, bytes: 0, missed: 0, ...cpuMs(cpu) });
  await server.close();
}

async function pvaClient(port: number, frames: number, queue: number): Promise<void> {
  const client = new PvaClient({
    env: { EPICS_PVA_AUTO_ADDR_LIST: 'NO', EPICS_PVA_ADDR_LIST: '', EPICS_PVA_NAME_SERVERS: `127.0.0.1:${port}` },
  });
  const sub = client.monitor('BENCH:image', { pipeline: true, queueSize: queue });
  const warm = Math.min(1000, Math.floor(frames / 10));
  let n = 0;
  let last = -1;
  let missed = 0;
  let t0 = 0n;
  let bytes = 0;
  let cpu = process.cpuUsage();
  for await (const u of sub) {
    const id = u.value['uniqueId'] as number;
    if (last >= 0 && id !== last + 1 && n >= warm) missed += id - last - 1;
    last = id;
    n++;
    if (n === warm) {
      t0 = process.hrtime.bigint();
      cpu = process.cpuUsage();
      bytes = sub.stats.bytes;
    }
    if (n === warm + frames) break;
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  report({ frames, seconds, bytes: sub.stats.bytes - bytes, missed, ...cpuMs(cpu) });
  client.close();
}

// ---- orchestration -------------------------------------------------------------------------

const self = fileURLToPath(import.meta.url);

async function runPair(serverArgs: string[], clientArgs: (port: number) => string[]): Promise<{ client: Result; server: Result }> {
  const srv = spawn(process.execPath, [self, ...serverArgs], { stdio: ['ignore', 'pipe', 'inherit'] });
  const srvExit = once(srv, 'exit');
  let buf = '';
  let serverResult: Result | null = null;
  const portP = new Promise<number>((resolve) => {
    srv.stdout.on('data', (c: Buffer) => {
      buf += c.toString();
      const m = /PORT (\d+)/.exec(buf);
      if (m) resolve(Number(m[1]));
      const r = /RESULT (.*)\n/.exec(buf);
      if (r) serverResult = JSON.parse(r[1] as string) as Result;
    });
  });
  const port = await portP;
  const cli = spawn(process.execPath, [self, ...clientArgs(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const cliExit = once(cli, 'exit');
  let out = '';
  cli.stdout.on('data', (c: Buffer) => (out += c.toString()));
  await cliExit;
  await srvExit;
  const m = /RESULT (.*)\n/.exec(out);
  if (!m || !serverResult) throw new Error(`benchmark process gave no result: ${out}`);
  return { client: JSON.parse(m[1] as string) as Result, server: serverResult };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

async function main(): Promise<void> {
  const role = opts.role;
  if (role === 'raw-server') return rawServer(Number(opts.bytes));
  if (role === 'raw-client') return rawClient(Number(opts.port), Number(opts.bytes), Number(opts.frames), opts.mode as string);
  if (role === 'pva-server') return pvaServer(Number(opts.nx), Number(opts.ny));
  if (role === 'pva-client') return pvaClient(Number(opts.port), Number(opts.frames), Number(opts.queue));

  const runs = Number(opts.runs);
  const rows: Record<string, unknown>[] = [];
  console.log(`# monitor benchmark: ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), Node ${process.version}, ${runs} runs, median`);
  for (const size of (opts.sizes as string).split(',')) {
    const [nx, ny] = size.split('x').map(Number) as [number, number];
    const bytes = nx * ny;
    // Aim each run at about --seconds at the expected rate (3.4 GB/s or 150k msg/s raw).
    const frames = Math.max(200, Math.round(Number(opts.seconds) * Math.min(150_000, 3.4e9 / bytes)));
    const raw: Result[] = [];
    const ceil: Result[] = [];
    const pva: { client: Result; server: Result }[] = [];
    const rawPair = (mode: string) =>
      runPair(['--role', 'raw-server', '--bytes', String(bytes)], (p) => [
        '--role',
        'raw-client',
        '--port',
        String(p),
        '--bytes',
        String(bytes),
        '--frames',
        String(frames),
        '--mode',
        mode,
      ]);
    for (let i = 0; i < runs; i++) {
      raw.push((await rawPair('deliver')).client);
      ceil.push((await rawPair('count')).client);
      pva.push(
        await runPair(['--role', 'pva-server', '--nx', String(nx), '--ny', String(ny)], (p) => [
          '--role',
          'pva-client',
          '--port',
          String(p),
          '--frames',
          String(frames),
          '--queue',
          String(opts.queue),
        ]),
      );
    }
    const rawRate = median(raw.map((r) => r.frames / r.seconds));
    const rawMBs = median(raw.map((r) => r.bytes / r.seconds / 1e6));
    const ceilRate = median(ceil.map((r) => r.frames / r.seconds));
    const rate = median(pva.map((r) => r.client.frames / r.client.seconds));
    const mbs = median(pva.map((r) => r.client.bytes / r.client.seconds / 1e6));
    const cliCpu = median(pva.map((r) => ((r.client.cpuUserMs + r.client.cpuSysMs) * 1000) / r.client.frames));
    const srvCpu = median(pva.map((r) => ((r.server.cpuUserMs + r.server.cpuSysMs) * 1000) / Math.max(1, r.server.frames)));
    const missed = pva.reduce((a, r) => a + r.client.missed, 0);
    const row = {
      size,
      bytes,
      frames,
      rawRate,
      rawMBs,
      ceilRate,
      rate,
      mbs,
      ratio: rate / rawRate,
      ceilRatio: rate / ceilRate,
      clientCpuUsPerFrame: cliCpu,
      serverCpuUsPerFrame: srvCpu,
      missed,
    };
    rows.push(row);
    console.log(
      `${size} ubyte (${bytes} B): raw TCP ${rawRate.toFixed(0)} msg/s ${rawMBs.toFixed(0)} MB/s ` +
        `(count-only ceiling ${ceilRate.toFixed(0)} msg/s) | ` +
        `sluice ${rate.toFixed(0)} frames/s ${mbs.toFixed(0)} MB/s = ${((100 * rate) / rawRate).toFixed(0)}% of raw ` +
        `(${((100 * rate) / ceilRate).toFixed(0)}% of ceiling) | ` +
        `CPU/frame client ${cliCpu.toFixed(1)} us, server ${srvCpu.toFixed(1)} us | missed ${missed}`,
    );
  }
  if (opts.json) writeFileSync(opts.json, JSON.stringify({ node: process.version, cpus: cpus().length, rows }, null, 2));
}

await main();
