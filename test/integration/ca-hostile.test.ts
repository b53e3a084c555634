// Hostile Channel Access peers. Against our server: raw sockets send lying sizes, unknown
// commands, truncated writes, bad ids and types, junk datagrams, and clients that never read;
// each is answered or dropped for the right reason while a good client keeps working, and a
// client that stops reading costs a bounded amount of memory. Against our client: a fake server
// sends lying sizes, counts the payload cannot hold, wrong types, unknown commands, truncation,
// and silence; every failure is a clear error, never a crash.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { test, type TestContext } from 'node:test';
import { CaClient } from '../../src/ca/client.js';
import { Cmd, DbrBase, Eca } from '../../src/ca/constants.js';
import { encodeDbr } from '../../src/ca/dbr.js';
import { CaFramer } from '../../src/ca/framer.js';
import { encodeMessage, type CaHeader, type CaMessage } from '../../src/ca/header.js';
import * as msg from '../../src/ca/messages.js';
import { CaServer } from '../../src/ca/server.js';
import { SluiceError } from '../../src/errors.js';
import { SharedPV } from '../../src/pv/shared-pv.js';
import { ntscalar, ntscalarArray } from '../../src/pvdata/nt/index.js';
import { once } from '../helpers/net.js';
import { prng, randomBytes } from '../helpers/random.js';

const hdr = (command: number, dataType = 0, count = 0, p1 = 0, p2 = 0, payload?: Uint8Array): Uint8Array =>
  encodeMessage({ command, dataType, count, p1, p2 }, payload);

/** A raw CA connection: send bytes, await the server's messages one by one. */
class RawPeer {
  readonly sock: net.Socket;
  /** Resolves once connected (the local port then names us in the server's close reports). */
  readonly ready: Promise<void>;
  localPort = 0;
  readonly #queue: CaMessage[] = [];
  #wake: (() => void) | null = null;
  closed = false;
  constructor(port: number) {
    this.sock = net.connect(port, '127.0.0.1');
    this.ready = new Promise((r) => this.sock.once('connect', () => ((this.localPort = this.sock.localPort ?? 0), r())));
    const f = new CaFramer((m) => {
      this.#queue.push({ header: m.header, payload: m.payload.slice() });
      this.#wake?.();
    }, 1 << 26);
    this.sock.on('data', (d) => f.push(d));
    this.sock.on('error', () => {});
    this.sock.on('close', () => {
      this.closed = true;
      this.#wake?.();
    });
  }
  send(...parts: Uint8Array[]): void {
    for (const p of parts) this.sock.write(p);
  }
  /** The next message with `command` (others are skipped); rejects if the connection closes first. */
  async next(command: number, ms = 3000): Promise<CaMessage> {
    const deadline = Date.now() + ms;
    for (;;) {
      const i = this.#queue.findIndex((m) => m.header.command === command);
      if (i >= 0) return this.#queue.splice(i, 1)[0] as CaMessage;
      if (this.closed) throw new Error(`connection closed while waiting for command ${command}`);
      if (Date.now() > deadline) throw new Error(`no command ${command} within ${ms} ms`);
      await new Promise<void>((r) => {
        const timer = setTimeout(r, Math.max(1, deadline - Date.now()));
        this.#wake = () => (clearTimeout(timer), (this.#wake = null), r());
      });
    }
  }
  /** Greets and creates a channel; resolves with its sid. */
  async channel(name: string, cid = 1): Promise<number> {
    this.send(msg.version(), msg.createChan(cid, name));
    const m = await this.next(Cmd.CREATE_CHAN);
    return m.header.p2;
  }
  /** An echo round trip: the server has handled everything sent before. */
  async echo(): Promise<void> {
    this.send(msg.echo());
    await this.next(Cmd.ECHO);
  }
  close(): void {
    this.sock.destroy();
  }
}

/** Close reasons of the server's client connections, by the raw peer's local port. */
function closeReasons(server: CaServer): (peer: RawPeer) => Promise<Error | null> {
  const reasons = new Map<string, Error | null>();
  const waiters = new Map<string, (r: Error | null) => void>();
  server.onClientClosed((peer, reason) => {
    reasons.set(peer, reason);
    waiters.get(peer)?.(reason);
  });
  return async (p) => {
    await p.ready;
    const key = `127.0.0.1:${p.localPort}`;
    if (reasons.has(key)) return Promise.resolve(reasons.get(key) as Error | null);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${key} still open`)), 5000);
      waiters.set(key, (r) => (clearTimeout(timer), resolve(r)));
    });
  };
}

const isCode = (code: string, re?: RegExp) => (e: unknown) => e instanceof SluiceError && e.code === code && (!re || re.test(e.message));

test('our server: each hostile client is refused or answered for the right reason; a good client keeps working', async (t0) => {
  const warnings: string[] = [];
  const server = new CaServer({
    host: '127.0.0.1',
    tcpPort: 0,
    udpPort: 0,
    onWarning: (w) => warnings.push(w),
    limits: { maxArrayBytes: 1 << 20 },
  });
  await server.listen();
  t0.after(() => server.close());
  const closed = closeReasons(server);
  const pv = SharedPV.mailbox().open(ntscalar.type('double'), { value: 1 });
  server.addPV('H:x', pv);
  const good = new CaClient({ env: { EPICS_CA_AUTO_ADDR_LIST: 'NO', EPICS_CA_ADDR_LIST: `127.0.0.1:${server.udpPort}` }, timeoutMs: 3000 });
  t0.after(() => good.close());
  const sub = good.monitor('H:x');
  assert.equal((await sub.next()).value?.value['value'], 1);

  await t0.test('a header claiming 4 GiB: dropped before anything is allocated', async () => {
    const p = new RawPeer(server.tcpPort);
    await p.ready;
    p.send(msg.version(), new Uint8Array([0, 4, 0xff, 0xff, 0, 6, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xf0, 0, 0, 0, 1]));
    assert.ok(isCode('ERR_MESSAGE_TOO_LARGE', /4294967280-byte payload; the limit is/)(await closed(p)));
  });

  await t0.test('an unknown command: dropped with ERR_PROTOCOL', async () => {
    const p = new RawPeer(server.tcpPort);
    p.send(msg.version(), hdr(99));
    assert.ok(isCode('ERR_PROTOCOL', /command 99/)(await closed(p)));
  });

  await t0.test('a write whose payload is shorter than its count: dropped with ERR_DECODE', async () => {
    const p = new RawPeer(server.tcpPort);
    const sid = await p.channel('H:x');
    p.send(hdr(Cmd.WRITE_NOTIFY, DbrBase.DOUBLE, 1000, sid, 5, new Uint8Array(8)));
    assert.ok(isCode('ERR_DECODE', /DBR_DOUBLE × 1000 needs 8000 bytes; the payload has 8/)(await closed(p)));
    assert.equal(pv.value?.['value'], 1, 'nothing was written');
  });

  await t0.test('unknown ids and types: an ERROR message each, and the client stays', async () => {
    const p = new RawPeer(server.tcpPort);
    const sid = await p.channel('H:x');
    p.send(msg.readNotify(sid + 1000, 7, 20, 1));
    const e1 = await p.next(Cmd.ERROR);
    assert.equal(e1.header.p2, Eca.BADCHID);
    assert.equal(msg.readError(e1.payload).request.p2, 7, 'the failed request is quoted');
    p.send(msg.readNotify(sid, 8, 99, 1));
    assert.equal((await p.next(Cmd.ERROR)).header.p2, Eca.BADTYPE);
    p.send(msg.eventCancel(sid, 12345, 20, 1));
    assert.equal((await p.next(Cmd.ERROR)).header.p2, Eca.BADMONID);
    p.send(msg.writeNotify(sid, 9, 34, 1, new Uint8Array(88)));
    assert.equal((await p.next(Cmd.WRITE_NOTIFY)).header.p1, Eca.BADTYPE, 'writes take plain types only');
    p.send(msg.createChan(2, 'H:nosuch'));
    assert.equal((await p.next(Cmd.CREATE_CH_FAIL)).header.p1, 2);
    p.send(msg.createChan(3, 'x'.repeat(600)));
    assert.equal((await p.next(Cmd.CREATE_CH_FAIL)).header.p1, 3, 'an unreasonably long name');
    await p.echo();
    p.send(msg.readNotify(sid, 10, 20, 1));
    assert.equal((await p.next(Cmd.READ_NOTIFY)).header.p1, Eca.NORMAL);
    p.close();
    assert.equal(await closed(p), null);
  });

  await t0.test('half a header, then hang up: a clean close', async () => {
    const p = new RawPeer(server.tcpPort);
    await p.ready;
    p.send(msg.version(), new Uint8Array([0, 15, 0, 0, 0]));
    p.sock.end();
    assert.equal(await closed(p), null);
  });

  await t0.test('random bytes (seeded): no crash; any refusal names a protocol fault', async () => {
    const faults = ['ERR_PROTOCOL', 'ERR_MESSAGE_TOO_LARGE', 'ERR_DECODE'];
    for (const seed of [11, 12, 13, 14, 15]) {
      const p = new RawPeer(server.tcpPort);
      await p.ready;
      p.send(msg.version(), randomBytes(prng(seed), 4096));
      p.sock.end();
      const r = await closed(p);
      assert.ok(r === null || (r instanceof SluiceError && faults.includes(r.code)), `seed ${seed}: ${String(r)}`);
    }
  });

  await t0.test('junk datagrams on the search port are ignored; searches still work', async () => {
    const u = dgram.createSocket('udp4');
    await new Promise<void>((r) => u.bind(0, '127.0.0.1', () => r()));
    const send = (b: Uint8Array) => new Promise<void>((r) => u.send(b, server.udpPort, '127.0.0.1', () => r()));
    await send(randomBytes(prng(5), 200));
    await send(hdr(Cmd.SEARCH, 5, 13, 1, 1).subarray(0, 10));
    await send(new Uint8Array([0, 6, 0xff, 0xff, 0, 5, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 8])); // claims more than it has
    u.close();
    server.addPV('H:later', SharedPV.mailbox().open(ntscalar.type('int'), { value: 5 }));
    assert.equal((await good.get('H:later')).value['value'], 5);
  });

  await t0.test('a client that asks and never reads: dropped with ERR_LIMIT once its backlog passes the hard limit', async () => {
    const big = new CaServer({
      host: '127.0.0.1',
      tcpPort: 0,
      udpPort: false,
      limits: { sendHardLimit: 4 << 20 },
      onWarning: (w) => warnings.push(w),
    });
    await big.listen();
    t0.after(() => big.close());
    const bigClosed = closeReasons(big);
    big.addPV('H:big', SharedPV.readonly().open(ntscalarArray.type('double'), { value: new Float64Array(1 << 17) })); // 1 MiB
    const p = new RawPeer(big.tcpPort);
    const sid = await p.channel('H:big');
    p.sock.pause();
    for (let i = 0; i < 64; i++) p.send(msg.readNotify(sid, 100 + i, 6, 0));
    assert.ok(isCode('ERR_LIMIT', /does not read: more than 4194304 bytes wait for it/)(await bigClosed(p)));
  });

  // The good client saw nothing of all that.
  pv.post({ value: 2 });
  assert.equal((await sub.next()).value?.value['value'], 2);
  assert.equal((await good.get('H:x')).value['value'], 2);
  sub.close();
  assert.ok(
    warnings.some((w) => /disconnected: .*command 99/.test(w)),
    warnings.join('\n'),
  );
  assert.ok(server.stats.badClients >= 3);
});

test('our server: a client that stops reading its monitors costs bounded memory and gets the newest value', async (t0) => {
  const server = new CaServer({ host: '127.0.0.1', tcpPort: 0, udpPort: false });
  await server.listen();
  t0.after(() => server.close());
  const N = 1 << 17; // 1 MiB of doubles per update
  const pv = SharedPV.readonly().open(ntscalarArray.type('double'), { value: new Float64Array(N) });
  server.addPV('S:wave', pv);
  const p = new RawPeer(server.tcpPort);
  t0.after(() => p.close());
  const sid = await p.channel('S:wave');
  let received = 0;
  p.sock.on('data', (d: Buffer) => (received += d.length));
  p.send(msg.eventAdd(sid, 1, 6, 0, 5));
  await p.next(Cmd.EVENT_ADD); // the initial value: subscribed
  p.sock.pause(); // ... and stops reading

  const POSTS = 100;
  let refused = 0;
  for (let i = 1; i <= POSTS; i++) if (!pv.post({ value: new Float64Array(N).fill(i) })) refused++;
  assert.ok(refused > 0, 'post() reports the subscriber full');
  assert.ok(server.stats.overruns > 0, 'updates were squashed');
  assert.equal(pv.writable, false);

  const drained = pv.drained();
  p.sock.resume();
  await drained;
  // The last update to arrive carries the last value posted.
  let last = -1;
  for (;;) {
    const m = await p.next(Cmd.EVENT_ADD);
    last = new DataView(m.payload.buffer, m.payload.byteOffset).getFloat64(0);
    if (last === POSTS) break;
  }
  const perUpdate = N * 8;
  assert.ok(received < 24 * perUpdate, `${(received / perUpdate).toFixed(1)} updates' worth sent for ${POSTS} posts: squashed, not queued`);
});

// ---- a fake server against our client ------------------------------------------------------

type Behaviour = (sock: net.Socket, h: CaHeader) => void;

/** A minimal CA server (name server too) for one channel, misbehaving on READ_NOTIFY of DBR_TIME_*. */
async function fakeServer(t0: TestContext, onRead: Behaviour, opts: { nativeType?: number; echo?: boolean } = {}): Promise<number> {
  const srv = net.createServer((sock) => {
    sock.on('error', () => {});
    sock.write(msg.version());
    const f = new CaFramer(({ header: h }) => {
      if (h.command === Cmd.SEARCH) sock.write(msg.searchReply(port, 0xffffffff, h.p2));
      else if (h.command === Cmd.CREATE_CHAN)
        sock.write(Buffer.concat([msg.accessRights(h.p1, 3), msg.createChanReply(h.p1, 77, opts.nativeType ?? DbrBase.DOUBLE, 1)]));
      else if (h.command === Cmd.READ_NOTIFY && h.dataType === 34)
        sock.write(msg.dataReply(Cmd.READ_NOTIFY, Eca.NORMAL, h.p2, 34, 1, encodeDbr(34, [0], { units: 'V' })));
      else if (h.command === Cmd.READ_NOTIFY || h.command === Cmd.EVENT_ADD) onRead(sock, h);
      else if (h.command === Cmd.ECHO && opts.echo !== false) sock.write(msg.echo());
    }, 1 << 20);
    sock.on('data', (d) => f.push(d));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  t0.after(() => {
    srv.close();
    for (const c of conns) c.destroy();
  });
  const conns = new Set<net.Socket>();
  srv.on('connection', (c) => (conns.add(c), c.on('close', () => conns.delete(c))));
  return port;
}

function clientOf(t0: TestContext, port: number, env: Record<string, string> = {}): CaClient {
  const c = new CaClient({
    env: { EPICS_CA_AUTO_ADDR_LIST: 'NO', ...env },
    nameServers: [`127.0.0.1:${port}`],
    timeoutMs: 2000,
    reconnectDelayMs: 50,
  });
  t0.after(() => c.close());
  return c;
}

const timeDouble = (h: CaHeader) => msg.dataReply(Cmd.READ_NOTIFY, Eca.NORMAL, h.p2, 20, 1, encodeDbr(20, [1.5]));

test('our client: replies that lie or break the protocol are clear errors, not crashes', async (t0) => {
  const cases: { name: string; onRead: Behaviour; check: (e: unknown) => boolean; timeoutMs?: number }[] = [
    {
      name: 'a reply claiming 4 GiB',
      onRead: (s) => s.write(new Uint8Array([0, 15, 0xff, 0xff, 0, 20, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xf0, 0, 0, 0, 1])),
      check: isCode('ERR_MESSAGE_TOO_LARGE', /4294967280-byte payload/),
    },
    {
      name: 'a count the payload cannot hold',
      onRead: (s, h) =>
        s.write(encodeMessage({ command: Cmd.READ_NOTIFY, dataType: 20, count: 100000, p1: Eca.NORMAL, p2: h.p2 }, encodeDbr(20, [1.5]))),
      check: isCode('ERR_DECODE', /DBR_TIME_DOUBLE × 100000 needs 800016 bytes; the payload has 24/),
    },
    {
      name: 'another type than asked for',
      onRead: (s, h) => s.write(msg.dataReply(Cmd.READ_NOTIFY, Eca.NORMAL, h.p2, 14, 1, encodeDbr(14, ['x']))),
      check: isCode('ERR_DECODE', /asked for DBR_TIME_DOUBLE, the server sent DBR_TIME_STRING/),
    },
    {
      name: 'a command servers do not send',
      onRead: (s) => s.write(hdr(99)),
      check: isCode('ERR_PROTOCOL', /sent command 99/),
    },
    {
      name: 'half a reply, then hang up',
      onRead: (s, h) => s.end(timeDouble(h).subarray(0, 20)),
      check: isCode('ERR_CONNECTION_CLOSED', /closed the connection/),
    },
    {
      name: 'an error status',
      onRead: (s, h) => s.write(msg.dataReply(Cmd.READ_NOTIFY, Eca.NORDACCESS, h.p2, 20, 1, new Uint8Array(24))),
      check: (e) => isCode('ERR_REMOTE', /CA get F:x: no read access/)(e),
    },
    {
      name: 'silence',
      onRead: () => {},
      check: isCode('ERR_TIMEOUT', /CA get F:x: no reply within/),
      timeoutMs: 300,
    },
  ];
  for (const c of cases) {
    await t0.test(c.name, async (t1) => {
      const client = clientOf(t1, await fakeServer(t1, c.onRead));
      await assert.rejects(client.get('F:x', { timeoutMs: c.timeoutMs ?? 2000 }), c.check);
    });
  }
  await t0.test('a well-behaved fake server: the same client code gets the value', async (t1) => {
    const client = clientOf(t1, await fakeServer(t1, (s, h) => s.write(timeDouble(h))));
    const r = await client.get('F:x');
    assert.deepEqual([r.value['value'], r.value['display'].units], [1.5, 'V']);
  });
  await t0.test('a native type that is not a DBR type: the channel never connects, and says why', async (t1) => {
    const client = clientOf(t1, await fakeServer(t1, (s, h) => s.write(timeDouble(h)), { nativeType: 99 }));
    await assert.rejects(client.get('F:x', { timeoutMs: 300 }), isCode('ERR_TIMEOUT', /last error: .*native type 99/));
  });
});

test('our client: a server that stops answering echoes is disconnected', async (t0) => {
  const port = await fakeServer(t0, (s, h) => s.write(msg.dataReply(Cmd.EVENT_ADD, Eca.NORMAL, h.p2, 20, 1, encodeDbr(20, [1.5]))), {
    echo: false,
  });
  const client = clientOf(t0, port, { EPICS_CA_CONN_TMO: '0.2' });
  const sub = client.monitor('F:x');
  t0.after(() => sub.close());
  assert.equal((await sub.next()).value?.value['value'], 1.5);
  const err = await once<Error>(sub, 'disconnect', 3000);
  assert.ok(isCode('ERR_TIMEOUT', /did not answer an echo within 200 ms/)(err), String(err));
});

test('our server: clients per peer, channels and subscriptions per client are limited, each refusal named', async (t0) => {
  const warnings: string[] = [];
  const server = new CaServer({
    host: '127.0.0.1',
    tcpPort: 0,
    udpPort: false,
    env: {},
    limits: { maxConnectionsPerPeer: 2, maxChannels: 2, maxSubscriptions: 1 },
    onWarning: (w) => warnings.push(w),
  });
  await server.listen();
  t0.after(() => server.close());
  server.addPV('L:x', SharedPV.mailbox().open(ntscalar.type('double'), { value: 1 }));
  const a = new RawPeer(server.tcpPort);
  const b = new RawPeer(server.tcpPort);
  t0.after(() => (a.close(), b.close()));
  const sid = await a.channel('L:x', 1);
  await b.channel('L:x', 1);

  // A third client from the same address is closed before any message.
  const c = new RawPeer(server.tcpPort);
  await assert.rejects(c.channel('L:x'), /connection closed/);
  assert.ok(
    warnings.includes('too many CA clients from 127.0.0.1: the limit is 2 (maxConnectionsPerPeer, SLUICE_CAS_MAX_CONNECTIONS_PER_PEER)'),
    warnings.join('\n'),
  );

  // Channels: the third is refused, the client stays.
  a.send(msg.createChan(2, 'L:x'));
  await a.next(Cmd.CREATE_CHAN);
  a.send(msg.createChan(3, 'L:x'));
  assert.equal((await a.next(Cmd.CREATE_CH_FAIL)).header.p1, 3);
  assert.match(
    warnings.at(-1) ?? '',
    /^too many channels for CA client 127\.0\.0\.1:\d+: the limit is 2 \(maxChannels, SLUICE_CAS_MAX_CHANNELS\)$/,
  );

  // Subscriptions: the second gets an ERROR naming the limit.
  a.send(msg.eventAdd(sid, 1, 6, 0, 5));
  await a.next(Cmd.EVENT_ADD);
  a.send(msg.eventAdd(sid, 2, 6, 0, 5));
  const err = msg.readError((await a.next(Cmd.ERROR)).payload);
  assert.match(err.text, /too many subscriptions for CA client .*: the limit is 1 \(maxSubscriptions, SLUICE_CAS_MAX_SUBSCRIPTIONS\)/);
  assert.equal(server.stats.refused, 3);
  await a.echo(); // still served

  // A client that leaves frees its place.
  const left = new Promise<void>((resolve) => server.onClientClosed((peer) => peer === `127.0.0.1:${b.localPort}` && resolve()));
  b.close();
  await left;
  const d = new RawPeer(server.tcpPort);
  t0.after(() => d.close());
  await d.channel('L:x');

  // The variables, and a bad one ignored with a warning.
  const env = { SLUICE_CAS_MAX_CONNECTIONS: '7', SLUICE_CAS_MAX_CHANNELS: 'lots' };
  const notes: string[] = [];
  const configured = new CaServer({ env, udpPort: false, onWarning: (w) => notes.push(w) });
  assert.equal(configured.limits.maxConnections, 7);
  assert.equal(configured.limits.maxChannels, 100_000);
  assert.deepEqual(notes, ["ignoring SLUICE_CAS_MAX_CHANNELS='lots': expected a positive whole number"]);
});
