// The channel server's relay rate, writer -> `sluice server` -> reader, next to other relays of the
// same messages in the same run, each relay in a child process and both ends in this one:
//   - channel: a ChannelClient writer and a `wait` (lossless) reader through `sluice server`;
//   - tcp: a raw Node TCP relay (the floor: bytes piped from one socket to the other);
//   - mirror: `sluice mirror` relaying a PV of this process to a pipelined monitor;
//   - nats: nats-server (max_payload 8 MiB), a publisher and a subscriber (skipped if not installed).
// Then 1 writer -> 4 readers with mixed policies (wait, ring, skip, ring with fill rate 10), the
// rate each reader gets. Medians of several runs; msg/s and MiB/s; ratios to the channel server.
//
//   node dist/bench/channels.js [--runs 3] [--small 60000] [--large 300] [--window N (default: the writer's)]
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ChannelClient, type ChannelReader, type SubscribeOptions } from '../src/channels/index.js';
import { PvaClient } from '../src/pva/client/client.js';
import { PvaServer } from '../src/pva/server/server.js';
import { SharedPV } from '../src/pv/shared-pv.js';
import { t } from '../src/pvdata/types.js';

const { values: opts } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    small: { type: 'string', default: '60000' },
    large: { type: 'string', default: '300' },
    window: { type: 'string' },
  },
});
const RUNS = Number(opts.runs);
const CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const msgT = t.struct({ id: t.long, value: t.array('ubyte') }, 'bench:Message');
const loopbackEnv = (port?: number): NodeJS.ProcessEnv => ({
  ...process.env,
  EPICS_PVA_AUTO_ADDR_LIST: 'NO',
  EPICS_PVA_ADDR_LIST: '',
  EPICS_PVAS_AUTO_BEACON_ADDR_LIST: 'NO',
  EPICS_PVAS_BEACON_ADDR_LIST: '',
  EPICS_PVAS_BROADCAST_PORT: '0',
  ...(port !== undefined ? { EPICS_PVA_NAME_SERVERS: `127.0.0.1:${port}` } : {}),
});

interface Rate {
  msgs: number;
  seconds: number;
  /** The second half: messages after the first one past the writer's half-way id, and their seconds. */
  lateMsgs: number;
  lateSeconds: number;
}

/**
 * What a receiver got, by the writer's id (1..n) of each message: the whole run from the first
 * write, and its second half apart, where start-up and the JIT's warm-up no longer weigh (a
 * relay that squashes counts what it delivered).
 */
class Receipts {
  readonly #t0 = performance.now();
  readonly #half: number;
  #msgs = 0;
  #late = 0;
  #tHalf = 0;
  #tLast = 0;

  constructor(n: number) {
    this.#half = n / 2;
  }

  got(id: number): void {
    this.#msgs++;
    this.#tLast = performance.now();
    if (id <= this.#half) return;
    if (this.#late++ === 0) this.#tHalf = this.#tLast;
  }

  get msgs(): number {
    return this.#msgs;
  }

  rate(): Rate {
    return {
      msgs: this.#msgs,
      seconds: (this.#tLast - this.#t0) / 1000,
      lateMsgs: Math.max(0, this.#late - 1),
      lateSeconds: (this.#tLast - this.#tHalf) / 1000,
    };
  }
}

/** Spawn a child and resolve with the first match of `re` in its output. */
async function child(cmd: string, args: string[], re: RegExp, env = process.env): Promise<{ proc: ChildProcess; m: RegExpMatchArray }> {
  const proc = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  return new Promise((resolve, reject) => {
    const look = (d: Buffer) => {
      text += d.toString();
      const m = re.exec(text);
      if (m) resolve({ proc, m });
    };
    proc.stdout?.on('data', look);
    proc.stderr?.on('data', look);
    proc.once('exit', (code) => reject(new Error(`${cmd} ${args.join(' ')} exited (${code}) before ${re}: ${text}`)));
  });
}

async function stop(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null) return;
  const gone = once(proc, 'exit');
  proc.kill('SIGINT');
  const timer = setTimeout(() => proc.kill('SIGKILL'), 3000);
  await gone;
  clearTimeout(timer);
}

// ---- channel server ------------------------------------------------------------------------

/**
 * One writer -> `sluice server` (a child process) -> one client per reader, subscribed with the
 * given buffers: each reader's messages (end marks aside) and seconds from the first write to its
 * last message.
 */
async function serverRun(readers: SubscribeOptions[], size: number, n: number): Promise<Rate[]> {
  const { proc, m } = await child(
    process.execPath,
    [CLI, 'server', '--port', '0', '--host', '127.0.0.1'],
    /listening on (\S+)/,
    loopbackEnv(),
  );
  try {
    const address = m[1] as string;
    const w = await ChannelClient.connect({ address, name: 'bench-writer' });
    await w.createChannel('bench', { type: msgT });
    const clients = await Promise.all(readers.map((_, i) => ChannelClient.connect({ address, name: `bench-reader-${i}` })));
    const subs = clients.map((c, i) => c.subscribe('bench', readers[i] as SubscribeOptions));
    await Promise.all(subs.map((r) => r.ready()));
    const writer = await w.openWriter('bench', opts.window ? { window: Number(opts.window) } : {});
    await writer.whenActive();
    const payload = new Uint8Array(size);
    const rates = subs.map((r) => count(r, new Receipts(n)));
    for (let i = 1; i <= n; i++) if (!writer.write({ id: BigInt(i), value: payload })) await writer.drained();
    await writer.end();
    const out = await Promise.all(rates);
    await Promise.all([w, ...clients].map((c) => c.close()));
    return out;
  } finally {
    await stop(proc);
  }
}

/** Writer -> server -> one lossless reader. */
async function channelRun(size: number, n: number): Promise<Rate> {
  return (await serverRun([{ policy: 'wait', queueSize: 64 }], size, n))[0] as Rate;
}

async function count(reader: ChannelReader, receipts: Receipts): Promise<Rate> {
  for await (const msg of reader) if (!msg.writer.end) receipts.got(Number(msg.value['id']));
  return receipts.rate();
}

// ---- raw TCP relay -------------------------------------------------------------------------

const RELAY = `
import { createServer } from 'node:net';
const socks = [];
const server = createServer((s) => {
  socks.push(s);
  if (socks.length === 2) socks[0].pipe(socks[1]);
});
server.listen(0, '127.0.0.1', () => console.log('relay on ' + server.address().port));
process.on('SIGINT', () => process.exit(0));
`;

async function tcpRun(size: number, n: number): Promise<Rate> {
  const { proc, m } = await child(process.execPath, ['--input-type=module', '-e', RELAY], /relay on (\d+)/);
  try {
    const port = Number(m[1]);
    const producer = connect(port, '127.0.0.1');
    await once(producer, 'connect');
    const consumer: Socket = connect(port, '127.0.0.1');
    await once(consumer, 'connect');
    const frame = Buffer.alloc(size + 4);
    frame.writeUInt32LE(size, 0);
    let received = 0;
    const receipts = new Receipts(n);
    const done = new Promise<void>((resolve) =>
      consumer.on('data', (d: Buffer) => {
        received += d.length;
        // Frames completed by this chunk, by their id (the relay keeps them in order).
        while (receipts.msgs < Math.floor(received / frame.length)) receipts.got(receipts.msgs + 1);
        if (receipts.msgs === n) resolve();
      }),
    );
    for (let i = 0; i < n; i++) if (!producer.write(frame)) await once(producer, 'drain');
    await done;
    producer.destroy();
    consumer.destroy();
    return receipts.rate();
  } finally {
    await stop(proc);
  }
}

// ---- sluice mirror -------------------------------------------------------------------------

async function mirrorRun(size: number, n: number): Promise<Rate> {
  const source = new PvaServer({ host: '127.0.0.1', port: 0, udpPort: false });
  const sourcePort = await source.listen();
  const payload = new Uint8Array(size);
  const pv = SharedPV.readonly().open(msgT, { id: 0n, value: payload });
  source.addPV('bench:src', pv);
  const { proc, m } = await child(
    process.execPath,
    [CLI, 'mirror', '--port', '0', '-cm', '(bench:m,bench:src,pva,100)'],
    /serving mirror channels on \S+:(\d+)/,
    loopbackEnv(sourcePort),
  );
  const client = new PvaClient({ env: loopbackEnv(Number(m[1])) });
  try {
    const sub = client.monitor('bench:m', { request: 'record[queueSize=64,pipeline=true]' });
    await sub.next(); // the current value: the mirror is up
    const receipts = new Receipts(n);
    const done = (async () => {
      for await (const u of sub) {
        const id = Number(u.value['id']);
        receipts.got(id);
        if (id === n) break;
      }
    })();
    for (let i = 1; i <= n; i++) if (!pv.post({ id: BigInt(i), value: payload })) await pv.drained();
    await done;
    sub.close();
    return receipts.rate();
  } finally {
    client.close();
    await stop(proc);
    await source.close();
  }
}

// ---- nats-server ---------------------------------------------------------------------------

async function natsRun(size: number, n: number): Promise<Rate> {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-nats-'));
  const conf = join(dir, 'nats.conf');
  writeFileSync(conf, 'listen: "127.0.0.1:-1"\nmax_payload: 8388608\n');
  const { proc, m } = await child('nats-server', ['-c', conf], /Listening for client connections on [\d.]+:(\d+)/);
  const { connect: natsConnect } = await import('nats');
  try {
    const servers = `127.0.0.1:${m[1]}`;
    const pub = await natsConnect({ servers });
    const subc = await natsConnect({ servers });
    const sub = subc.subscribe('bench');
    await subc.flush();
    const receipts = new Receipts(n);
    const done = (async () => {
      for await (const msg of sub) {
        const id = new DataView(msg.data.buffer, msg.data.byteOffset).getUint32(0, true);
        receipts.got(id);
        if (id === n) break;
      }
    })();
    const payload = new Uint8Array(size);
    const view = new DataView(payload.buffer);
    for (let i = 1; i <= n; i++) {
      view.setUint32(0, i, true);
      pub.publish('bench', payload);
      // Flow control is the publisher's: wait for the server every few messages.
      if (i % 16 === 0) await pub.flush();
    }
    await pub.flush();
    await done;
    await pub.close();
    await subc.close();
    return receipts.rate();
  } finally {
    await stop(proc);
  }
}

function hasNatsServer(): Promise<boolean> {
  return new Promise((resolve) => {
    const p = spawn('nats-server', ['--version'], { stdio: 'ignore' });
    p.once('error', () => resolve(false));
    p.once('exit', (code) => resolve(code === 0));
  });
}

// ---- 1 writer -> 4 readers -----------------------------------------------------------------

const MIXED: (SubscribeOptions & { label: string })[] = [
  { label: 'wait q64', policy: 'wait', queueSize: 64 },
  { label: 'ring q16', policy: 'ring', queueSize: 16 },
  { label: 'skip q16', policy: 'skip', queueSize: 16 },
  { label: 'ring q4 fill 10', policy: 'ring', queueSize: 4, fillRate: 10 },
];

// ---- report --------------------------------------------------------------------------------

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const MiB = 1024 * 1024;

interface Measured {
  /** Median whole-run rate (msg/s). */
  rate: number;
  /** Median second-half rate (msg/s). */
  late: number;
  got: number;
}

const medianRates = (rs: Rate[]): Measured => ({
  rate: median(rs.map((r) => r.msgs / r.seconds)),
  late: median(rs.map((r) => r.lateMsgs / r.lateSeconds)),
  got: median(rs.map((r) => r.msgs)),
});

async function measure(run: () => Promise<Rate>): Promise<Measured> {
  const rs: Rate[] = [];
  for (let i = 0; i < RUNS; i++) rs.push(await run());
  return medianRates(rs);
}

const fmt = (rate: number, size: number): string =>
  `${Math.round(rate).toString().padStart(7)} msg/s ${((rate * size) / MiB).toFixed(0).padStart(5)} MiB/s`;

const nats = await hasNatsServer();
if (!nats) console.log('nats-server is not installed: the nats column is skipped');
console.log(`writer -> relay -> 1 reader, median of ${RUNS} runs (msg/s, MiB/s; ratio = channel server / other)`);
console.log('whole run (from the first write) | second half (from the first message past the half-way id)');
for (const [label, size, n] of [
  ['16 KiB', 16 * 1024, Number(opts.small)],
  ['2 MiB', 2 * MiB, Number(opts.large)],
] as const) {
  const rows: [string, Measured | null][] = [
    ['channel', await measure(() => channelRun(size, n))],
    ['tcp', await measure(() => tcpRun(size, n))],
    ['mirror', await measure(() => mirrorRun(size, n))],
    ['nats', nats ? await measure(() => natsRun(size, n)) : null],
  ];
  const channel = (rows[0] as [string, Measured])[1];
  for (const [name, r] of rows) {
    if (!r) continue;
    const ratio = (a: number, b: number): string => (name === 'channel' ? '' : ` (channel/${name} ${(a / b).toFixed(2)})`);
    // A relay that squashed has no second-half rate to compare: what it delivered late is a burst.
    const late = r.got >= 0.99 * n ? `${fmt(r.late, size)}${ratio(channel.late, r.late)}` : `${'—'.padStart(7)} (squashed)`;
    console.log(`${label} ${name.padEnd(8)} ${fmt(r.rate, size)}${ratio(channel.rate, r.rate)} | ${late}  ${r.got}/${n} delivered`);
  }
}

console.log(`1 writer -> 4 readers (16 KiB, ${opts.small} messages), median of ${RUNS} runs, per reader:`);
const fan: Rate[][] = [];
for (let i = 0; i < RUNS; i++) fan.push(await serverRun(MIXED, 16 * 1024, Number(opts.small)));
MIXED.forEach((m, i) => {
  const r = medianRates(fan.map((f) => f[i] as Rate));
  console.log(`  ${m.label.padEnd(16)} ${fmt(r.rate, 16 * 1024)} | ${fmt(r.late, 16 * 1024)}  ${r.got} received`);
});
