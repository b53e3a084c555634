// Slow consumers and flow control with big frames:
//  (a) a monitor without pipeline on a PV posting 2 MiB frames as fast as possible, to a raw client
//      that stopped reading: the server buffers at most sendHighWater + one frame for it, squashes
//      the rest into its queue and counts every dropped update, while a normal client keeps up;
//  (b) a pipelined monitor whose client acks late: the server never exceeds the window, and a
//      producer that honours backpressure (post() → false, drained()) loses nothing;
//  (c) a Client Subscription whose consumer does not iterate: drops are counted, memory is bounded
//      by the queue.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setImmediate as nextLoop } from 'node:timers/promises';
import { t } from '../../src/pvdata/types.js';
import { Cmd, Sub } from '../../src/pva/constants.js';
import type { MonitorOp } from '../../src/pva/server/monitor-op.js';
import type { ServerConnection } from '../../src/pva/server/server-conn.js';
import { SharedPV } from '../../src/pv/shared-pv.js';
import type { PvaServer } from '../../src/pva/server/server.js';
import { headerOf, message, payloadOf } from '../helpers/messages.js';
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
  retainedBuffers,
  VALIDATION_ANONYMOUS,
} from '../helpers/raw-client.js';

const MiB = 1 << 20;
const frameT = t.struct({ uniqueId: t.int, value: t.array('ubyte') });

function frame(uid: number, size: number): { uniqueId: number; value: Uint8Array } {
  const value = new Uint8Array(size);
  new DataView(value.buffer).setInt32(0, uid, true);
  value[size - 1] = uid & 0xff;
  return { uniqueId: uid, value };
}

function serverConnOf(server: PvaServer, localPort: number): ServerConnection {
  const c = [...server.connections].find((x) => x.peerName() === `127.0.0.1:${localPort}`);
  assert.ok(c, `server connection for port ${localPort}`);
  return c;
}

function monitorOpOf(conn: ServerConnection): MonitorOp {
  const ops = [...conn.ops.values()].filter((o) => o.kind === 'monitor');
  assert.equal(ops.length, 1);
  return ops[0] as unknown as MonitorOp;
}

/** Resolves once `cond()` holds, checking every 5 ms for at most `ms` (for counters without events). */
async function pollUntil(cond: () => boolean, ms: number): Promise<boolean> {
  for (let waited = 0; !cond() && waited < ms; waited += 5) await new Promise((r) => setTimeout(r, 5));
  return cond();
}

test('(a) no pipeline, queueSize 4, 2 MiB frames, a client that stopped reading: bounded and counted', async (t0) => {
  const FRAME = 2 * MiB;
  const HIGH = 4 * MiB;
  const POSTS = 120;
  const { server, port } = await startServer({ limits: { sendHighWater: HIGH, sendHardLimit: 512 * MiB } });
  const pv = SharedPV.readonly().open(frameT, frame(0, FRAME));
  server.addPV('FRAMES', pv);
  const client = clientFor(port);
  t0.after(async () => {
    client.close();
    await server.close();
  });

  // The slow one: a raw client that starts the monitor, takes the first update, then stops reading.
  const slowUids: number[] = [];
  const slowOverrunUpdates: number[] = [];
  let lastCommand = -1;
  // Messages are not kept (frames are big): the peer counts them and we note what we need.
  const { sock, peer } = await rawConnect(port, {
    keep: false,
    onMessage: (m) => {
      lastCommand = headerOf(m).command;
      if (headerOf(m).command !== Cmd.MONITOR || payloadOf(m)[4] !== Sub.DEFAULT) return;
      const u = monitorUpdate(m, frameT);
      slowUids.push(u.value['uniqueId'] as number);
      if (!u.overrun.isEmpty()) slowOverrunUpdates.push(u.value['uniqueId'] as number);
    },
  });
  await peer.waitCount(2);
  peer.send(VALIDATION_ANONYMOUS);
  await peer.waitCount(3);
  peer.send(
    build(Cmd.CREATE_CHANNEL, (w) => {
      w.u16(1);
      w.i32(1);
      w.string('FRAMES');
    }),
  );
  await peer.waitCount(4);
  peer.send(initRequest(Cmd.MONITOR, 1, 7, 'record[queueSize=4]'));
  await peer.waitCount(5);
  peer.send(opRequest(Cmd.MONITOR, 1, 7, Sub.MONITOR_START));
  await peer.waitCount(6);
  assert.deepEqual(slowUids, [0]);
  sock.pause();
  const slowConn = serverConnOf(server, sock.localPort as number);
  const slowOp = monitorOpOf(slowConn);
  assert.equal(slowOp.pipeline, false);

  // The normal one: our Client, consuming as fast as it can.
  const sub = client.monitor('FRAMES', { queueSize: 4 });
  const goodUids: number[] = [];
  const reached: { uid: number; resolve: () => void }[] = [];
  const consuming = (async () => {
    for await (const u of sub) {
      const uid = u.value['uniqueId'] as number;
      const data = u.value['value'] as Uint8Array;
      assert.equal(data.length, FRAME);
      assert.equal(new DataView(data.buffer, data.byteOffset).getInt32(0, true), uid, 'frame content matches its uniqueId');
      goodUids.push(uid);
      for (const r of reached.filter((x) => x.uid === uid)) r.resolve();
    }
  })();
  const goodReaches = (uid: number): Promise<void> =>
    goodUids.includes(uid) ? Promise.resolve() : new Promise((resolve) => reached.push({ uid, resolve }));
  await goodReaches(0);

  const before = retainedBuffers();
  let maxPending = 0;
  for (let uid = 1; uid <= POSTS; uid++) {
    pv.post(frame(uid, FRAME));
    maxPending = Math.max(maxPending, slowConn.pendingOut);
    assert.ok(slowConn.pendingOut <= HIGH + FRAME + 4096, `pendingOut ${slowConn.pendingOut} after post ${uid}`);
    await nextLoop();
  }
  await goodReaches(POSTS);
  const retained = retainedBuffers() - before;
  assert.ok(maxPending >= HIGH - FRAME, `the slow connection did fill up to the high-water mark (${maxPending})`);

  // Accounting: every post was sent, is still queued (at most 4), or was squashed and counted.
  const { posted, sent, overruns } = slowOp.stats;
  assert.equal(posted, POSTS);
  const queued = posted + 1 - sent - overruns;
  assert.ok(queued >= 1 && queued <= 4, `queued ${queued} (posted ${posted}, sent ${sent}, overruns ${overruns})`);
  assert.ok(overruns > POSTS / 2, `most updates were squashed for the slow client (${overruns})`);
  const goodOp = monitorOpOf([...server.connections].find((c) => c !== slowConn && c.ops.size > 0) as ServerConnection);
  assert.equal(server.stats.overruns, overruns + goodOp.stats.overruns, 'server total = sum of the monitors');
  assert.ok(retained < 48 * MiB, `memory for ${POSTS} x 2 MiB frames stayed bounded: ${retained >> 20} MiB retained`);

  // The good client kept getting updates, in order, up to the last one.
  assert.ok(goodUids.length >= 10, `good client got ${goodUids.length} updates`);
  for (let i = 1; i < goodUids.length; i++) assert.ok(goodUids[i]! > goodUids[i - 1]!);
  assert.equal(goodUids[goodUids.length - 1], POSTS);

  // The slow client reads again: it gets exactly what was sent plus the queue, ending with the
  // newest frame; nothing else.
  sock.resume();
  const expected = 1 + sent + queued - 1; // the first update (uid 0) was already received
  await peer.waitCount(5 + expected, 15000);
  // An ECHO round trip: its reply comes after anything else the server had to send.
  peer.send(message(Cmd.ECHO, 0, '5a 5a'));
  await peer.waitCount(5 + expected + 1, 5000);
  assert.equal(lastCommand, Cmd.ECHO, 'nothing after the expected updates');
  assert.equal(slowUids.length, expected, 'one update per sent or queued entry, no more');
  assert.equal(slowUids[slowUids.length - 1], POSTS, 'the newest frame is the last one delivered');
  for (let i = 1; i < slowUids.length; i++) assert.ok(slowUids[i]! > slowUids[i - 1]!, 'in order');
  assert.ok(slowOverrunUpdates.length > 0, 'squashed updates carry overrun bits');
  assert.deepEqual([slowOp.stats.sent, slowOp.stats.overruns], [sent + queued, overruns]);
  sub.close();
  await consuming;
  sock.destroy();
});

test('(b) pipeline with late acks: never more than the window, lossless with a backpressure-aware producer', async (t0) => {
  const FRAME = 64 * 1024;
  const POSTS = 40;
  const { server, port } = await startServer();
  const pv = SharedPV.readonly().open(frameT, frame(0, FRAME));
  server.addPV('PIPE', pv);
  t0.after(() => server.close());
  const overrunsBefore = server.stats.overruns;

  const uids: number[] = [];
  let overrunBits = 0;
  // The window: 4 (nfree of the INIT) plus every credit returned so far.
  let credits = 4;
  let beyondWindow = 0;
  const { sock, peer } = await rawConnect(port, {
    keep: true,
    onMessage: (m) => {
      if (headerOf(m).command !== Cmd.MONITOR || payloadOf(m)[4] !== Sub.DEFAULT) return;
      const u = monitorUpdate(m, frameT);
      uids.push(u.value['uniqueId'] as number);
      if (!u.overrun.isEmpty()) overrunBits++;
      if (uids.length > credits) beyondWindow++;
    },
  });
  await handshake(peer);
  const sid = await createChannel(peer, 'PIPE', 3);
  peer.send(initRequest(Cmd.MONITOR, sid, 9, 'record[queueSize=4,pipeline=true]', 4));
  initReplyType(await nextOf(peer, Cmd.MONITOR));
  const op = monitorOpOf(serverConnOf(server, sock.localPort as number));
  assert.equal(op.pipeline, true);
  peer.send(opRequest(Cmd.MONITOR, sid, 9, Sub.MONITOR_START));

  // Producer: as fast as the subscriber allows, never squashing (post() says when to wait).
  let waits = 0;
  const producing = (async () => {
    for (let uid = 1; uid <= POSTS; uid++) {
      if (!pv.post(frame(uid, FRAME))) {
        waits++;
        await pv.drained();
      }
    }
  })();

  // Consumer: take everything the window allows, prove the server then stays silent (an ECHO
  // round trip), and only then return 2 credits, as pvAccessCPP and PVXS clients do.
  let tag = 0;
  while (uids.length < POSTS + 1) {
    await peer.waitCount(peer.count + (Math.min(credits, POSTS + 1) - uids.length));
    tag++;
    peer.send(message(Cmd.ECHO, 0, new Uint8Array([tag])));
    for (;;) {
      const m = await peer.next();
      if (headerOf(m).command === Cmd.ECHO && m[8] === tag) break;
    }
    assert.equal(uids.length, Math.min(credits, POSTS + 1), 'silent exactly at the window');
    if (uids.length === POSTS + 1) break;
    credits += 2;
    peer.send(opRequest(Cmd.MONITOR, sid, 9, Sub.ACK, (w) => w.i32(2)));
  }
  await producing;
  assert.equal(beyondWindow, 0, 'no update beyond the credit');
  assert.deepEqual(
    uids,
    Array.from({ length: POSTS + 1 }, (_, i) => i),
    'every frame, in order',
  );
  assert.equal(overrunBits, 0);
  assert.equal(op.stats.overruns, 0);
  assert.equal(server.stats.overruns, overrunsBefore);
  assert.ok(waits > 0, 'the producer had to wait for the slow subscriber');
  sock.destroy();
});

test('(c) a Subscription nobody iterates: drops counted in queueOverruns, memory bounded by the queue', async (t0) => {
  const FRAME = MiB;
  const POSTS = 150;
  const { server, port } = await startServer();
  const pv = SharedPV.readonly().open(frameT, frame(0, FRAME));
  server.addPV('IDLE', pv);
  const client = clientFor(port);
  t0.after(async () => {
    client.close();
    await server.close();
  });
  const sub = client.monitor('IDLE', { queueSize: 4 });
  await new Promise<void>((resolve) => sub.once('connect', () => resolve()));
  const op = (): MonitorOp => monitorOpOf([...server.connections].find((c) => c.ops.size > 0) as ServerConnection);
  // The first update arrives without anyone asking for it (no event tells: poll the counter).
  assert.ok(await pollUntil(() => sub.stats.received === 1, 5000));

  const before = retainedBuffers();
  for (let uid = 1; uid <= POSTS; uid++) {
    pv.post(frame(uid, FRAME));
    await nextLoop();
  }
  // No event says "the subscription has received everything the server sent": poll the counters.
  const serverDone = (): boolean => {
    const s = op().stats;
    return s.posted + 1 === s.sent + s.overruns && sub.stats.received === s.sent;
  };
  assert.ok(
    await pollUntil(serverDone, 10_000),
    `all sent updates received (${JSON.stringify(op().stats)}, received ${sub.stats.received})`,
  );
  const retained = retainedBuffers() - before;

  const { received, queueOverruns } = sub.stats;
  assert.equal(sub.pending, 4, 'the queue holds queueSize updates');
  assert.equal(queueOverruns, received - 4, 'every update beyond the queue was squashed and counted');
  assert.ok(received > 20, `many updates came in (${received})`);
  assert.ok(retained < 24 * MiB, `${POSTS} MiB received, ${retained >> 20} MiB retained`);

  // What is left: the first three, then the newest frame (with overrun bits: it absorbed the rest).
  const got: { uid: number; overrun: boolean }[] = [];
  for (let i = 0; i < 4; i++) {
    const r = await sub.next();
    got.push({ uid: r.value.value['uniqueId'] as number, overrun: !r.value.overrun.isEmpty() });
    const data = r.value.value['value'] as Uint8Array;
    assert.equal(data[FRAME - 1], (r.value.value['uniqueId'] as number) & 0xff, 'the frame belongs to its uniqueId');
  }
  assert.equal(got[3]!.uid, POSTS);
  assert.equal(got[3]!.overrun, true);
  assert.deepEqual(
    got.slice(0, 3).map((g) => g.overrun),
    [false, false, false],
  );
  for (let i = 1; i < 4; i++) assert.ok(got[i]!.uid > got[i - 1]!.uid);
  assert.equal(sub.pending, 0);
  sub.close();
});

test('(d) pipeline, a client paused with credit left: held up to creditHighWater, nothing squashed; a waiting producer waits from postHighWater', async (t0) => {
  const FRAME = 64 * 1024;
  const HIGH = MiB;
  const CREDIT_HIGH = 8 * MiB;
  const POST_HIGH = 2 * MiB;
  const CREDIT = 400;
  const { server, port } = await startServer({ limits: { sendHighWater: HIGH, creditHighWater: CREDIT_HIGH, postHighWater: POST_HIGH } });
  const pv = SharedPV.readonly().open(frameT, frame(0, FRAME));
  server.addPV('PAUSE', pv);
  t0.after(() => server.close());

  const uids: number[] = [];
  const { sock, peer } = await rawConnect(port, {
    keep: true,
    onMessage: (m) => {
      if (headerOf(m).command === Cmd.MONITOR && payloadOf(m)[4] === Sub.DEFAULT)
        uids.push(monitorUpdate(m, frameT).value['uniqueId'] as number);
    },
  });
  await handshake(peer);
  const sid = await createChannel(peer, 'PAUSE', 3);
  peer.send(initRequest(Cmd.MONITOR, sid, 9, 'record[queueSize=4,pipeline=true]', CREDIT));
  initReplyType(await nextOf(peer, Cmd.MONITOR));
  peer.send(opRequest(Cmd.MONITOR, sid, 9, Sub.MONITOR_START));
  await peer.waitCount(peer.count + 1);
  assert.deepEqual(uids, [0]);
  sock.pause();
  const conn = serverConnOf(server, sock.localPort as number);
  const op = monitorOpOf(conn);

  // 100 frames (6.4 MiB): past sendHighWater, within creditHighWater and the credit.
  let maxPending = 0;
  let firstWait = 0;
  for (let uid = 1; uid <= 100; uid++) {
    const room = pv.post(frame(uid, FRAME));
    if (!room && firstWait === 0) {
      firstWait = uid;
      assert.ok(conn.pendingOut >= POST_HIGH, `asked to wait only past postHighWater (${conn.pendingOut})`);
    }
    maxPending = Math.max(maxPending, conn.pendingOut);
    await nextLoop();
  }
  assert.ok(maxPending > 2 * HIGH, `the server held credited frames past sendHighWater (${maxPending})`);
  assert.equal(op.stats.overruns, 0, 'nothing squashed while within credit and creditHighWater');
  // A producer that waits for room is asked to once postHighWater is buffered, not at creditHighWater.
  assert.ok(firstWait > 0 && firstWait * FRAME < CREDIT_HIGH, `post() said "wait" at frame ${firstWait}`);
  assert.equal(pv.writable, false);
  const drained = pv.drained();
  // 200 more (12.8 MiB more): creditHighWater bounds what is held, the queue squashes the rest.
  for (let uid = 101; uid <= 300; uid++) {
    pv.post(frame(uid, FRAME));
    maxPending = Math.max(maxPending, conn.pendingOut);
    assert.ok(conn.pendingOut <= CREDIT_HIGH + FRAME + 4096, `pendingOut ${conn.pendingOut} after post ${uid}`);
    await nextLoop();
  }
  assert.ok(op.stats.overruns > 0, 'beyond creditHighWater updates are squashed again');

  // Reading again: the first 100 frames come, all of them, in order.
  sock.resume();
  const { sent } = op.stats;
  await peer.waitCount(peer.count + (sent - 1 - (uids.length - 1)), 15000);
  assert.deepEqual(
    uids.slice(0, 101),
    Array.from({ length: 101 }, (_, i) => i),
  );
  await drained; // the socket's 'drain' tells the waiting producer
  sock.destroy();
});

test('(e) windowBytes: the credit grows to that many bytes of updates after the first one', async (t0) => {
  const FRAME = 16 * 1024;
  const { server, port } = await startServer();
  const pv = SharedPV.readonly().open(frameT, frame(0, FRAME));
  server.addPV('GROW', pv);
  const client = clientFor(port);
  t0.after(async () => {
    client.close();
    await server.close();
  });
  const sub = client.monitor('GROW', { queueSize: 4, pipeline: true, window: 4, windowBytes: 50 * FRAME });
  const first = await sub.next(); // the monitor is in place on the server
  const got: number[] = [first.value.value['uniqueId'] as number];
  // Nobody iterates: the server sends what the credit allows, then its queue (4) fills up and
  // post() says so. Without the growth that would happen after 4 updates.
  let uid = 0;
  for (;;) {
    if (!pv.post(frame(++uid, FRAME))) break;
    await nextLoop();
    assert.ok(uid < 1000, 'the credit is bounded');
  }
  const op = monitorOpOf([...server.connections].find((c) => c.ops.size > 0) as ServerConnection);
  const updateBytes = sub.stats.bytes / sub.stats.received;
  const target = Math.floor((50 * FRAME) / updateBytes);
  assert.ok(target > 40 && target < 50, `target ${target}`);
  assert.equal(op.stats.sent, target, 'exactly the grown credit was sent');
  assert.equal(op.stats.overruns, 0);
  // The consumer catches up; the producer waits whenever the queue is full; nothing is lost.
  const producing = (async () => {
    while (uid < 300) {
      await pv.drained();
      while (uid < 300 && pv.post(frame(++uid, FRAME)));
    }
  })();
  for await (const u of sub) {
    got.push(u.value['uniqueId'] as number);
    if (got.length === 301) break;
  }
  await producing;
  assert.deepEqual(
    got,
    Array.from({ length: 301 }, (_, i) => i),
  );
  assert.equal(sub.stats.serverOverruns, 0);
});
