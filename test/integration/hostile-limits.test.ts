// Resource limits against a single hostile peer, in both roles: a message split into millions of
// tiny segments, huge type descriptions, a client choosing an enormous server queue, and floods of
// connections, channels and monitors. The offending connection (or request) is refused with the
// limit named; the process and every other peer carry on.
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { test } from 'node:test';
import { SluiceError } from '../../src/errors.js';
import { ClientConnection } from '../../src/pva/client/client-conn.js';
import { Cmd, Sub } from '../../src/pva/constants.js';
import { SharedPV } from '../../src/pv/shared-pv.js';
import type { ServerConnection } from '../../src/pva/server/server-conn.js';
import { t } from '../../src/pvdata/types.js';
import { clientFor, startServer } from '../helpers/net.js';
import {
  build,
  createChannel,
  handshake,
  initReplyType,
  initRequest,
  monitorUpdate,
  nextOf,
  opRequest,
  rawConnect,
  replyHead,
  retainedBuffers,
} from '../helpers/raw-client.js';
import { PvaServer } from '../../src/pva/server/server.js';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { duplexPair } from 'node:stream';
import { message, MessagePeer } from '../helpers/messages.js';

const counterT = t.struct({ value: t.double }, 'epics:nt/NTScalar:1.0');

/** Resolves with the reason `conn` was closed for (null: the peer hung up). */
function closedReason(server: PvaServer, conn: ServerConnection, timeoutMs = 10_000): Promise<Error | null> {
  if (conn.closed) return Promise.resolve(conn.closeReason);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`connection ${conn.peerName()} still open after ${timeoutMs} ms`)), timeoutMs);
    server.onConnectionClosed((c, reason) => {
      if (c !== conn) return;
      clearTimeout(timer);
      resolve(reason);
    });
  });
}

function serverSideOf(server: PvaServer, sock: Socket): ServerConnection {
  const name = `127.0.0.1:${sock.localPort}`;
  const c = [...server.connections].find((x) => x.peerName() === name);
  assert.ok(c, `no server connection for ${name}`);
  return c;
}

function assertLimit(reason: Error | null, code: string, re: RegExp): void {
  assert.ok(reason instanceof SluiceError, `closed with a SluiceError, got ${String(reason)}`);
  assert.equal(reason.code, code, `code of '${reason.message}'`);
  assert.match(reason.message, re);
}

/** `n` middle segments of `command` with a 1-byte payload each. */
function middles(command: number, n: number): Uint8Array {
  const middle = message(command, 0x30, new Uint8Array([0]));
  const out = new Uint8Array(n * middle.length);
  for (let i = 0; i < n; i++) out.set(middle, i * middle.length);
  return out;
}

const first = (command: number): Uint8Array => message(command, 0x10, new Uint8Array([0]));

test('a message in millions of 1-byte segments: the server closes that connection, others go on', async (t0) => {
  const { server, port } = await startServer(); // default limits: 256 MiB → 65,536 segments
  const pv = SharedPV.readonly().open(counterT, { value: 1 });
  server.addPV('GOOD:x', pv);
  const client = clientFor(port);
  t0.after(async () => {
    client.close();
    await server.close();
  });
  assert.equal((await client.get('GOOD:x')).value['value'], 1);
  // Before the handshake, as in the report: 9 bytes of input per segment.
  const { sock, peer } = await rawConnect(port);
  await peer.waitCount(2);
  const conn = serverSideOf(server, sock);
  const flood = middles(Cmd.GET, 20_000);
  let sent = 0;
  const reason = closedReason(server, conn);
  sock.write(first(Cmd.GET));
  while (!conn.closed && sent < 400_000) {
    sock.write(flood);
    sent += 20_000;
    await new Promise<void>((resolve) => sock.write('', () => resolve()));
  }
  assertLimit(await reason, 'ERR_LIMIT', /split into more than 65536 segments/);
  assert.ok(conn.framer.pendingBytes === 0 || conn.closed, 'nothing held after the close');
  pv.post({ value: 2 });
  assert.equal((await client.get('GOOD:x')).value['value'], 2, 'the server still serves others');
  sock.destroy();
});

test('the segment bound follows maxMessageSize, and may be set on its own', async (t0) => {
  for (const [limits, total, re] of [
    [{ maxMessageSize: 1 << 20 }, 256, null], // one segment per 4 KiB of the limit
    [{ maxMessageSize: 1 << 20 }, 257, /more than 256 segments/],
    [{ maxMessageSize: 1 << 10 }, 64, null], // never fewer than 64
    [{ maxMessageSize: 1 << 20, maxSegments: 10 }, 10, null],
    [{ maxMessageSize: 1 << 20, maxSegments: 10 }, 11, /more than 10 segments/],
  ] as const) {
    const { server, port } = await startServer({ limits });
    t0.after(() => server.close());
    const { sock, peer } = await rawConnect(port);
    await peer.waitCount(2);
    const conn = serverSideOf(server, sock);
    // An unknown command (ignored once whole) in `total` segments, then an echo.
    sock.write(first(0xee));
    sock.write(middles(0xee, total - 2));
    sock.write(message(0xee, 0x20, new Uint8Array([0])));
    sock.write(message(Cmd.ECHO, 0, new Uint8Array([1, 2, 3, 4])));
    if (re === null) {
      for (;;) {
        const m = await peer.next(5000);
        if (m[3] === Cmd.ECHO) break;
      }
      assert.equal(conn.closed, false, `${total} segments accepted with ${JSON.stringify(limits)}`);
    } else {
      assertLimit(await closedReason(server, conn), 'ERR_LIMIT', re);
    }
    sock.destroy();
  }
});

test('a hostile server flooding segments: the client closes that connection with the reason', async (t0) => {
  const socks = new Set<Socket>();
  const hostile = createServer((sock) => {
    socks.add(sock);
    sock.on('error', () => {});
    sock.write(first(Cmd.CONNECTION_VALIDATION));
    const flood = middles(Cmd.CONNECTION_VALIDATION, 10_000);
    const pump = (): void => {
      // Write while the client reads; stop once it hangs up.
      while (!sock.destroyed && sock.write(flood));
      if (!sock.destroyed) sock.once('drain', pump);
    };
    pump();
  });
  await new Promise<void>((resolve) => hostile.listen(0, '127.0.0.1', resolve));
  t0.after(() => {
    for (const s of socks) s.destroy();
    hostile.close();
  });
  const port = (hostile.address() as { port: number }).port;
  const conn = ClientConnection.connect('127.0.0.1', port, { maxMessageSize: 16 << 20 });
  const reason = await conn.ready.then(
    () => null,
    (e: Error) => e,
  );
  assertLimit(reason, 'ERR_LIMIT', /split into more than 4096 segments/);
  assert.equal(conn.closed, true);
});

test('a pvRequest of a million fields (11 MB) is refused at the field limit without stalling the server', async (t0) => {
  const { server, port } = await startServer();
  const pv = SharedPV.readonly().open(counterT, { value: 1 });
  server.addPV('GOOD:x', pv);
  const client = clientFor(port);
  t0.after(async () => {
    client.close();
    await server.close();
  });
  const { sock, peer } = await rawConnect(port);
  await handshake(peer);
  const conn = serverSideOf(server, sock);
  const sid = await createChannel(peer, 'GOOD:x', 1);
  const N = 1_000_000;
  const req = build(Cmd.GET, (w) => {
    w.i32(sid);
    w.i32(1);
    w.u8(Sub.INIT);
    // structure { field: structure { f0: structure {}, f1: structure {}, … } }
    w.u8(0x80);
    w.string('');
    w.size(1);
    w.string('field');
    w.u8(0x80);
    w.string('');
    w.size(N);
    for (let i = 0; i < N; i++) {
      w.string(`f${i}`);
      w.u8(0x80);
      w.string('');
      w.size(0);
    }
  });
  const delay = monitorEventLoopDelay({ resolution: 5 });
  const reason = closedReason(server, conn);
  delay.enable();
  sock.write(req);
  const why = await reason;
  delay.disable();
  assertLimit(why, 'ERR_LIMIT', /type descriptions of more than 1024 fields in one message/);
  // Before the limit this took 11-14 s and 1.9 GB; now the loop is never held for long.
  assert.ok(delay.max < 500e6, `event loop blocked ${(delay.max / 1e6).toFixed(0)} ms`);
  assert.equal((await client.get('GOOD:x')).value['value'], 1, 'others are still served');
  sock.destroy();
});

const frameT = t.struct({ value: t.array('ubyte'), uniqueId: t.int });
const MiB = 1 << 20;
const frame = (id: number): { value: Uint8Array; uniqueId: number } => ({ value: new Uint8Array(MiB).fill(id), uniqueId: id });

test('a client asking for queueSize=1000000 gets at most maxQueueBytes queued; the rest is squashed and counted', async (t0) => {
  const { server, port } = await startServer({ serverLimits: { maxQueueBytes: 4 * MiB } });
  const pv = SharedPV.readonly().open(frameT, frame(0));
  server.addPV('SIM:image', pv);
  t0.after(() => server.close());
  const { sock, peer } = await rawConnect(port);
  await handshake(peer);
  const sid = await createChannel(peer, 'SIM:image', 1);
  peer.send(initRequest(Cmd.MONITOR, sid, 7, 'record[queueSize=1000000]'));
  const type = initReplyType(await nextOf(peer, Cmd.MONITOR));
  // Not started: everything posted stays queued on the server.
  const before = retainedBuffers();
  for (let i = 1; i <= 40; i++) pv.post(frame(i));
  const grown = retainedBuffers() - before;
  const [sub] = server.subscriptions();
  assert.ok(sub, 'the monitor is listed');
  assert.equal(sub.pv, 'SIM:image');
  assert.ok(sub.stats.queuedBytes <= 4 * MiB, `queue holds ${sub.stats.queuedBytes} bytes`);
  assert.equal(server.stats.queuedBytes, sub.stats.queuedBytes);
  // 41 values (the initial one and 40 posts) in 3 entries of ~1 MiB: 38 squashed.
  assert.equal(sub.stats.overruns, 38);
  assert.equal(server.stats.overruns, 38);
  assert.ok(grown < 8 * MiB, `server retains ${(grown / MiB).toFixed(1)} MiB for 40 MiB posted`);
  // Started, the client gets the queue: the first values, then the newest with its overrun bits.
  peer.send(opRequest(Cmd.MONITOR, sid, 7, Sub.MONITOR_START));
  const ids: number[] = [];
  let overrun = false;
  while (ids[ids.length - 1] !== 40) {
    const u = monitorUpdate(await nextOf(peer, Cmd.MONITOR), type);
    ids.push(u.value['uniqueId'] as number);
    overrun ||= !u.overrun.isEmpty();
  }
  assert.deepEqual(ids, [0, 1, 40]);
  assert.ok(overrun, 'the squashed entry says which fields were overrun');
  assert.equal(server.stats.queuedBytes, 0, 'nothing held once sent');
  sock.destroy();
});

test('all queues of a server together stay within maxQueueBytesTotal', async (t0) => {
  const { server, port } = await startServer({ serverLimits: { maxQueueBytes: 64 * MiB, maxQueueBytesTotal: 6 * MiB } });
  const pv = SharedPV.readonly().open(frameT, frame(0));
  server.addPV('SIM:image', pv);
  t0.after(() => server.close());
  const socks: Socket[] = [];
  for (let k = 0; k < 3; k++) {
    const { sock, peer } = await rawConnect(port);
    await handshake(peer);
    const sid = await createChannel(peer, 'SIM:image', 1);
    peer.send(initRequest(Cmd.MONITOR, sid, 7, 'record[queueSize=1000]'));
    initReplyType(await nextOf(peer, Cmd.MONITOR));
    socks.push(sock);
  }
  for (let i = 1; i <= 20; i++) pv.post(frame(i));
  assert.ok(server.stats.queuedBytes <= 6 * MiB + 3 * (MiB + 1024), `all queues hold ${server.stats.queuedBytes} bytes`);
  const subs = server.subscriptions();
  assert.equal(subs.length, 3);
  assert.equal(
    server.stats.overruns,
    subs.reduce((n, s) => n + s.stats.overruns, 0),
  );
  assert.ok(server.stats.overruns >= 3 * 21 - 8, `squashed: ${server.stats.overruns}`);
  for (const s of socks) s.destroy();
});

test('channels and monitors beyond their limits get an error status naming the limit; the connection stays', async (t0) => {
  const { server, port } = await startServer({
    env: { SLUICE_PVAS_MAX_CHANNELS_PER_CONNECTION: '3', SLUICE_PVAS_MAX_MONITORS: 'lots' },
    serverLimits: { maxMonitorsPerConnection: 2 },
  });
  server.addPV('GOOD:x', SharedPV.readonly().open(counterT, { value: 1 }));
  t0.after(() => server.close());
  assert.equal(server.serverLimits.maxChannelsPerConnection, 3);
  assert.ok(server.config.warnings.some((w) => /ignoring SLUICE_PVAS_MAX_MONITORS='lots'/.test(w)));
  const { sock, peer } = await rawConnect(port);
  await handshake(peer);
  const sids = [await createChannel(peer, 'GOOD:x', 1), await createChannel(peer, 'GOOD:x', 2), await createChannel(peer, 'GOOD:x', 3)];
  await assert.rejects(
    createChannel(peer, 'GOOD:x', 4),
    /too many channels on this connection: the limit is 3 \(maxChannelsPerConnection, SLUICE_PVAS_MAX_CHANNELS_PER_CONNECTION\)/,
  );
  for (const ioid of [10, 11]) {
    peer.send(initRequest(Cmd.MONITOR, sids[0]!, ioid));
    initReplyType(await nextOf(peer, Cmd.MONITOR));
  }
  peer.send(initRequest(Cmd.MONITOR, sids[1]!, 12));
  const { status } = replyHead(await nextOf(peer, Cmd.MONITOR));
  assert.equal(status.type, 2);
  assert.match(
    status.message,
    /too many monitors on this connection: the limit is 2 \(maxMonitorsPerConnection, SLUICE_PVAS_MAX_MONITORS_PER_CONNECTION\)/,
  );
  assert.equal(server.stats.refused, 2);
  assert.equal(server.stats.monitors, 2);
  // Destroying a monitor makes room for another.
  peer.send(
    build(Cmd.DESTROY_REQUEST, (w) => {
      w.i32(sids[0]!);
      w.i32(10);
    }),
  );
  peer.send(initRequest(Cmd.MONITOR, sids[1]!, 13));
  initReplyType(await nextOf(peer, Cmd.MONITOR));
  assert.equal(server.stats.monitors, 2);
  assert.equal(serverSideOf(server, sock).closed, false);
  sock.destroy();
});

test('connections beyond maxConnectionsPerPeer or maxConnections are closed with a logged reason', async (t0) => {
  const { server, port } = await startServer({ serverLimits: { maxConnectionsPerPeer: 2, maxConnections: 3 } });
  t0.after(() => server.close());
  const reasons: (Error | null)[] = [];
  server.onConnectionClosed((_c, r) => reasons.push(r));
  const a = await rawConnect(port);
  const b = await rawConnect(port);
  await a.peer.waitCount(2);
  await b.peer.waitCount(2);
  const c = await rawConnect(port);
  await c.peer.whenEnded();
  assertLimit(
    reasons[0] ?? null,
    'ERR_LIMIT',
    /too many connections from 127\.0\.0\.1: the limit is 2 \(maxConnectionsPerPeer, SLUICE_PVAS_MAX_CONNECTIONS_PER_PEER\)/,
  );
  assert.equal(c.peer.messages.length, 0, 'no greeting for a refused connection');
  // Once one closes, a new one is accepted.
  const aGone = new Promise<void>((resolve) => server.onConnectionClosed(() => resolve()));
  a.sock.destroy();
  await aGone;
  const d = await rawConnect(port);
  await d.peer.waitCount(2);
  // maxConnections counts every peer (here over an in-memory stream).
  const mem = new PvaServer({ udpPort: false, serverLimits: { maxConnections: 1 } });
  const [x1, x2] = duplexPair();
  const [y1, y2] = duplexPair();
  mem.handle(x1);
  const refused = mem.handle(y1);
  assert.equal(refused.closed, true);
  assertLimit(refused.closeReason, 'ERR_LIMIT', /too many connections: the limit is 1 \(maxConnections, SLUICE_PVAS_MAX_CONNECTIONS\)/);
  assert.equal(mem.stats.connections, 1);
  x2.destroy();
  y2.destroy();
  await mem.close();
  b.sock.destroy();
  d.sock.destroy();
});

test('many costly messages in one read: the server takes turns with other work between them', async (t0) => {
  const server = new PvaServer({ udpPort: false });
  server.addPV('GOOD:x', SharedPV.readonly().open(counterT, { value: 1 }));
  t0.after(() => server.close());
  // An in-memory pair delivers each write as one chunk: 200 costly messages arrive together.
  const [near, far] = duplexPair();
  server.handle(far);
  const peer = new MessagePeer(near);
  await handshake(peer);
  const sid = await createChannel(peer, 'GOOD:x', 1);
  const inits: Uint8Array[] = [];
  for (let k = 0; k < 200; k++) {
    // GET INIT with a pvRequest of 1000 fields (within maxTypeFields).
    inits.push(
      build(Cmd.GET, (w) => {
        w.i32(sid);
        w.i32(100 + k);
        w.u8(Sub.INIT);
        w.u8(0x80);
        w.string('');
        w.size(1);
        w.string('field');
        w.u8(0x80);
        w.string('');
        w.size(998);
        for (let i = 0; i < 998; i++) {
          w.string(`f${i}`);
          w.u8(0x80);
          w.string('');
          w.size(0);
        }
      }),
    );
  }
  const all = new Uint8Array(Buffer.concat(inits));
  let turns = 0;
  const repliesBefore = peer.count;
  peer.send(all);
  // Count event-loop turns until every request is answered (each with an error status: none of
  // its fields exist). Before, the server took all 200 in one turn.
  while (peer.count - repliesBefore < 200) {
    await new Promise((resolve) => setImmediate(resolve));
    turns++;
  }
  assert.ok(turns > 3, `the server answered 200 costly requests in ${turns} turns of the event loop`);
  near.destroy();
});

test('a client reading costly messages from a server takes turns too, and loses nothing', async (t0) => {
  // 100 CONNECTION_VALIDATION requests listing 20,000 methods each (4 MB), then VALIDATED: the
  // client answers every request, in order, over several turns of the event loop.
  const methods = build(Cmd.CONNECTION_VALIDATION, (w) => {
    w.i32(0x4000);
    w.i16(0x7fff);
    w.size(20_000);
    for (let i = 0; i < 20_000; i++) w.string(`m${i}`);
  });
  const validated = build(Cmd.CONNECTION_VALIDATED, (w) => w.u8(0xff));
  let answers = 0;
  let allAnswered!: () => void;
  const answered = new Promise<void>((resolve) => (allAnswered = resolve));
  const socks = new Set<Socket>();
  const hostile = createServer((sock) => {
    socks.add(sock);
    sock.on('error', () => {});
    new MessagePeer(sock, {
      keep: false,
      onMessage: (m) => {
        if (m[3] === Cmd.CONNECTION_VALIDATION && ++answers === 100) allAnswered();
      },
    });
    sock.write(Buffer.concat([...Array.from({ length: 100 }, () => methods), validated]));
  });
  await new Promise<void>((resolve) => hostile.listen(0, '127.0.0.1', resolve));
  t0.after(() => {
    for (const s of socks) s.destroy();
    hostile.close();
  });
  const port = (hostile.address() as { port: number }).port;
  const conn = ClientConnection.connect('127.0.0.1', port, {});
  let turns = 0;
  let ready = false;
  void conn.ready.then(() => (ready = true));
  while (!ready) {
    await new Promise((resolve) => setImmediate(resolve));
    turns++;
  }
  assert.equal(conn.closed, false);
  assert.ok(turns > 3, `validated after ${turns} turns`);
  await answered;
  assert.equal(answers, 100);
  conn.close(null);
});
