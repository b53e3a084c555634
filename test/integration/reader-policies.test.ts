// Reader buffers on the pvAccess server (record[queueSize=N,policy=P,fillRate=n]): a raw client
// subscribes and does not start its monitor (a reader that stopped), a producer posts as fast as
// it likes, then the reader starts and gets exactly what the policy kept; counters per reader
// (readerStats) and per server; bad options fail the INIT with a clear message.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { SharedPV } from '../../src/pv/shared-pv.js';
import type { PvaServer } from '../../src/pva/server/server.js';
import type { PvaServerLimits } from '../../src/pva/server/server-limits.js';
import type { MonitorOp } from '../../src/pva/server/monitor-op.js';
import { Cmd, Sub } from '../../src/pva/constants.js';
import { bitOf } from '../../src/pvdata/field-numbering.js';
import { t, type StructureDesc } from '../../src/pvdata/types.js';
import { valueBytes, type PVStructure } from '../../src/pvdata/values.js';
import { RemoteError } from '../../src/errors.js';
import { headerOf, message } from '../helpers/messages.js';
import { clientFor, startServer } from '../helpers/net.js';
import {
  createChannel,
  handshake,
  initReplyType,
  initRequest,
  monitorUpdate,
  nextOf,
  opRequest,
  rawConnect,
  replyHead,
} from '../helpers/raw-client.js';

const T = t.struct({ a: t.int, b: t.int, data: t.array('ubyte') });
const A = bitOf(T, 'a');
const B = bitOf(T, 'b');

interface Update {
  a: number;
  b: number;
  changed: number[];
  overrun: number[];
}

interface ReaderSetup {
  /** Pipelined monitor with this first credit. */
  nfree?: number;
  serverLimits?: Partial<PvaServerLimits>;
  initial?: PVStructure;
}

/** A server with PV `R` (a SharedPV, a: 0, b: 0) and a raw client whose monitor is not started. */
async function stoppedReader(t0: TestContext, request: string, setup: ReaderSetup = {}) {
  const { server, port } = await startServer(setup.serverLimits ? { serverLimits: setup.serverLimits } : {});
  t0.after(() => server.close());
  const pv = SharedPV.readonly().open(T, setup.initial ?? { a: 0, b: 0 });
  server.addPV('R', pv);
  const { sock, peer } = await rawConnect(port, { keep: true });
  t0.after(() => sock.destroy());
  await handshake(peer);
  const sid = await createChannel(peer, 'R', 1);
  peer.send(initRequest(Cmd.MONITOR, sid, 7, request, setup.nfree));
  const type = initReplyType(await nextOf(peer, Cmd.MONITOR));
  const op = monitorOf(server);
  let base: PVStructure | undefined;
  let echoes = 0;
  /** An ECHO round trip: every message the server sent before its reply, in order. */
  const roundTrip = async (): Promise<Uint8Array[]> => {
    const tag = ++echoes;
    peer.send(message(Cmd.ECHO, 0, new Uint8Array([tag])));
    const out: Uint8Array[] = [];
    for (;;) {
      const m = await peer.next();
      if (headerOf(m).command === Cmd.ECHO && m[8] === tag) return out;
      out.push(m);
    }
  };
  const updates = (ms: Uint8Array[]): Update[] => {
    const out: Update[] = [];
    for (const m of ms) {
      if (headerOf(m).command !== Cmd.MONITOR) continue;
      const u = monitorUpdate(m, type as StructureDesc, base);
      base = u.value;
      out.push({ a: u.value['a'] as number, b: u.value['b'] as number, changed: u.changed.toArray(), overrun: u.overrun.toArray() });
    }
    return out;
  };
  /** Start the monitor, take every update the server had for it, and stop it again. */
  const read = async (): Promise<Update[]> => {
    peer.send(opRequest(Cmd.MONITOR, sid, 7, Sub.MONITOR_START));
    const out = updates(await roundTrip());
    peer.send(opRequest(Cmd.MONITOR, sid, 7, Sub.MONITOR_STOP));
    await roundTrip(); // the server has stopped the monitor
    return out;
  };
  /** Pipelined: start, and return credit with `ack(n)`; both read what the server sent since. */
  const start = async (): Promise<Update[]> => {
    peer.send(opRequest(Cmd.MONITOR, sid, 7, Sub.MONITOR_START));
    return updates(await roundTrip());
  };
  const ack = async (n: number): Promise<Update[]> => {
    peer.send(opRequest(Cmd.MONITOR, sid, 7, Sub.ACK, (w) => w.i32(n)));
    return updates(await roundTrip());
  };
  return { server, pv, op, read, start, ack, roundTrip: async () => updates(await roundTrip()) };
}

function monitorOf(server: PvaServer): MonitorOp {
  const ops = [...server.connections].flatMap((c) => [...c.ops.values()]).filter((o) => o.kind === 'monitor');
  assert.equal(ops.length, 1);
  return ops[0] as unknown as MonitorOp;
}

/** Post a = 1..n (b unchanged); the post() results (room for the producer). */
function postA(pv: SharedPV, from: number, to: number): boolean[] {
  const room: boolean[] = [];
  for (let i = from; i <= to; i++) room.push(pv.post({ a: i }));
  return room;
}

const as = (us: Update[]): number[] => us.map((u) => u.a);

test('no policy: the queue squashes into its newest entry and counts overruns (as before)', async (t0) => {
  const { pv, op, read, server } = await stoppedReader(t0, 'record[queueSize=3]');
  const room = postA(pv, 1, 10);
  assert.deepEqual(room, [true, false, false, false, false, false, false, false, false, false]);
  assert.deepEqual(op.readerStats(), { posted: 10, fillSkipped: 0, dropped: 0, overruns: 8, sent: 0, queued: 3, queueSize: 3 });
  assert.equal(op.policy, undefined);
  const got = await read();
  assert.deepEqual(as(got), [0, 1, 10]);
  assert.deepEqual(got[2]!.overrun, [A], 'a changed twice in the squashed entry');
  assert.equal(server.stats.overruns, 8);
  assert.equal(server.stats.dropped, 0);
});

test('ring: the oldest entries go, the producer is never held back; drops counted', async (t0) => {
  const { pv, op, read, server } = await stoppedReader(t0, 'record[queueSize=3,policy=ring]');
  assert.equal(op.policy, 'ring');
  assert.deepEqual(op.options, { queueSize: '3', policy: 'ring' });
  assert.equal(op.peer.channel, 'R');
  const room = postA(pv, 1, 10);
  assert.ok(
    room.every((r) => r),
    'post() always has room',
  );
  assert.equal(pv.writable, true);
  // The current value (0) and posts 1..10: 11 entries, the newest 3 kept.
  assert.deepEqual(op.readerStats(), { posted: 10, fillSkipped: 0, dropped: 8, overruns: 0, sent: 0, queued: 3, queueSize: 3 });
  const got = await read();
  assert.deepEqual(as(got), [8, 9, 10]);
  assert.deepEqual(got[0]!.overrun, [A], 'the first entry after the dropped ones says a was missed');
  assert.deepEqual(got[1]!.overrun, []);
  assert.equal(op.readerStats().sent, 3);
  assert.equal(op.readerStats().queued, 0);
  assert.equal(server.stats.dropped, 8);
});

test('ring, pipelined: a reader out of credit never holds the writer back; its queue keeps the newest', async (t0) => {
  const { pv, op, start, ack } = await stoppedReader(t0, 'record[queueSize=4,policy=ring,pipeline=true]', { nfree: 2 });
  assert.equal(op.pipeline, true);
  assert.deepEqual(as(await start()), [0], 'the current value, within the credit of 2');
  const room = postA(pv, 1, 20);
  assert.ok(
    room.every((r) => r),
    'post() always has room',
  );
  // Sent: 0 and 1 (the credit); queued: 17..20; dropped: 2..16.
  assert.deepEqual(op.readerStats(), { posted: 20, fillSkipped: 0, dropped: 15, overruns: 0, sent: 2, queued: 4, queueSize: 4 });
  const got = await ack(10);
  assert.deepEqual(as(got), [1, 17, 18, 19, 20], 'update 1 was on its way, then the queue');
});

test('ring: a queue full in bytes (maxQueueBytes) is full too', async (t0) => {
  const initial = { a: 0, b: 0, data: new Uint8Array(1000) };
  const entry = 128 + valueBytes({ ...initial });
  const { pv, op, read } = await stoppedReader(t0, 'record[queueSize=10,policy=ring]', {
    initial,
    serverLimits: { maxQueueBytes: Math.floor(3.5 * entry) },
  });
  assert.ok(postA(pv, 1, 10).every((r) => r));
  assert.deepEqual(op.readerStats(), { posted: 10, fillSkipped: 0, dropped: 8, overruns: 0, sent: 0, queued: 3, queueSize: 10 });
  assert.deepEqual(as(await read()), [8, 9, 10]);
});

test('clear: a full queue is emptied for the new post', async (t0) => {
  const { pv, op, read } = await stoppedReader(t0, 'record[queueSize=3,policy=clear]');
  assert.ok(postA(pv, 1, 10).every((r) => r));
  // [0,1,2] cleared by 3; [3,4,5] by 6; [6,7,8] by 9; then [9,10].
  assert.deepEqual(op.readerStats(), { posted: 10, fillSkipped: 0, dropped: 9, overruns: 0, sent: 0, queued: 2, queueSize: 3 });
  assert.deepEqual(as(await read()), [9, 10]);
  // The cleared entries' fields go out with the new one: a partial post does not leave a stale.
  postA(pv, 11, 13);
  pv.post({ b: 5 });
  assert.deepEqual(await read(), [{ a: 13, b: 5, changed: [A, B], overrun: [A] }]);
});

test('skip: new posts into a full queue are dropped; their fields go out with the next entry', async (t0) => {
  const { pv, op, read } = await stoppedReader(t0, 'record[queueSize=3,policy=skip]');
  assert.ok(postA(pv, 1, 10).every((r) => r));
  assert.deepEqual(op.readerStats(), { posted: 10, fillSkipped: 0, dropped: 8, overruns: 0, sent: 0, queued: 3, queueSize: 3 });
  assert.deepEqual(as(await read()), [0, 1, 2]);
  // A partial post of b, dropped while the queue is full, is not lost: the next entry carries it.
  postA(pv, 11, 13); // fills the queue again
  pv.post({ b: 5 }); // dropped
  assert.equal(op.readerStats().dropped, 9);
  assert.deepEqual(as(await read()), [11, 12, 13]);
  pv.post({ a: 14 });
  const [u] = await read();
  assert.deepEqual(u, { a: 14, b: 5, changed: [A, B], overrun: [] }, 'no value of a or b was missed');
});

test('wait: no room while full (the producer waits for drained()); a post anyway is squashed', async (t0) => {
  const { pv, op, read } = await stoppedReader(t0, 'record[queueSize=3,policy=wait]');
  assert.deepEqual(postA(pv, 1, 2), [true, false], 'full at 3 entries: the producer is asked to wait');
  assert.equal(op.hasRoom(), false);
  let drained = false;
  const waiting = pv.drained().then(() => (drained = true));
  postA(pv, 3, 5); // a producer that does not wait: squashed, nothing lost from the queue
  assert.deepEqual(op.readerStats(), { posted: 5, fillSkipped: 0, dropped: 0, overruns: 3, sent: 0, queued: 3, queueSize: 3 });
  assert.equal(drained, false);
  assert.deepEqual(as(await read()), [0, 1, 5]);
  await waiting; // sending made room: notifyRoom woke the producer
  assert.equal(op.hasRoom(), true);
});

test('raise: no room while full; a post into the full queue is dropped and counted', async (t0) => {
  const { pv, op, read } = await stoppedReader(t0, 'record[queueSize=3,policy=raise]');
  assert.deepEqual(postA(pv, 1, 4), [true, false, false, false]);
  assert.equal(op.hasRoom(), false);
  const waiting = pv.drained();
  assert.deepEqual(op.readerStats(), { posted: 4, fillSkipped: 0, dropped: 2, overruns: 0, sent: 0, queued: 3, queueSize: 3 });
  assert.deepEqual(as(await read()), [0, 1, 2]);
  await waiting;
});

test('fillRate: the first post and every n-th after it are kept, the others counted', async (t0) => {
  const { pv, op, read, server } = await stoppedReader(t0, 'record[queueSize=100,policy=ring,fillRate=3]');
  assert.equal(op.fillRate, 3);
  postA(pv, 1, 10);
  assert.deepEqual(op.readerStats(), { posted: 10, fillSkipped: 6, dropped: 0, overruns: 0, sent: 0, queued: 5, queueSize: 100 });
  assert.equal(server.stats.fillSkipped, 6);
  const got = await read();
  assert.deepEqual(as(got), [0, 1, 4, 7, 10]);
  assert.deepEqual(
    got.map((u) => u.overrun),
    [[], [], [A], [A], [A]],
    'values of a were skipped before 4, 7 and 10',
  );
  // A skipped partial post's field comes with the next kept one.
  pv.post({ b: 9 }); // 11th: skipped
  pv.post({ a: 12 }); // 12th: skipped
  pv.post({ a: 13 }); // 13th: kept
  const [u] = await read();
  assert.deepEqual(u, { a: 13, b: 9, changed: [A, B], overrun: [A] });
});

test('fillRate without a policy keeps the default squash', async (t0) => {
  const { pv, op, read } = await stoppedReader(t0, 'record[queueSize=2,fillRate=2]');
  postA(pv, 1, 6); // kept: 1, 3, 5; the queue [0,1] then squashes 3 and 5
  assert.deepEqual(op.readerStats(), { posted: 6, fillSkipped: 3, dropped: 0, overruns: 2, sent: 0, queued: 2, queueSize: 2 });
  assert.deepEqual(as(await read()), [0, 5]);
});

test('force: past the fill rate and the policy; into a full queue it is squashed, never dropped', async (t0) => {
  const { pv, op, read } = await stoppedReader(t0, 'record[queueSize=2,policy=skip,fillRate=2]');
  pv.post({ a: 1 }); // kept: [0, 1], full
  pv.post({ a: 2 }); // fill-skipped
  pv.post({ a: 3 }); // kept by the fill rate, dropped by skip
  pv.post({ a: 4 }, undefined, { force: true }); // the end-of-transfer mark
  assert.deepEqual(op.readerStats(), { posted: 4, fillSkipped: 1, dropped: 1, overruns: 1, sent: 0, queued: 2, queueSize: 2 });
  assert.deepEqual(as(await read()), [0, 4]);
  // Into a queue with room, a forced post that the fill rate would skip is kept.
  pv.post({ a: 5 }, undefined, { force: true });
  assert.equal(op.readerStats().fillSkipped, 1);
  assert.deepEqual(as(await read()), [5]);
});

test('force reaches every distributor client, not only the one whose turn it is', async (t0) => {
  const { server, port } = await startServer();
  t0.after(() => server.close());
  const pv = SharedPV.readonly().open(T, { a: 0, b: 0 });
  server.addPV('R', pv);
  const client = clientFor(port);
  t0.after(() => client.close());
  const request = 'field(_[pydistributor=group:g;updates:1;trigger:a])';
  const subs = [client.monitor('R', { request }), client.monitor('R', { request })];
  const seen: number[][] = [[], []];
  const next = async (i: number): Promise<void> => {
    const r = await (subs[i] as (typeof subs)[0]).next();
    assert.equal(r.done, false);
    (seen[i] as number[]).push((r.value as { value: PVStructure }).value['a'] as number);
  };
  await Promise.all([next(0), next(1)]); // the current value, to each
  pv.post({ a: 1 });
  pv.post({ a: 2 });
  pv.post({ a: 3 }, undefined, { force: true });
  for (const i of [0, 0, 1, 1]) await next(i); // (one next() at a time per subscription)
  for (const s of subs) s.close();
  assert.deepEqual(
    seen.map((x) => x[0]),
    [0, 0],
  );
  assert.deepEqual([seen[0]![1], seen[1]![1]].sort(), [1, 2], 'one update each in turn');
  assert.deepEqual(
    seen.map((x) => x[2]),
    [3, 3],
    'the forced post to both',
  );
});

async function initStatus(t0: TestContext, request: string): Promise<string> {
  const { server, port } = await startServer();
  t0.after(() => server.close());
  server.addPV('R', SharedPV.readonly().open(T, { a: 0, b: 0 }));
  const { sock, peer } = await rawConnect(port, { keep: true });
  t0.after(() => sock.destroy());
  await handshake(peer);
  const sid = await createChannel(peer, 'R', 1);
  peer.send(initRequest(Cmd.MONITOR, sid, 7, request));
  const { status } = replyHead(await nextOf(peer, Cmd.MONITOR));
  assert.equal(server.stats.monitors, 0, 'no monitor was made');
  return status.type >= 2 ? status.message : 'OK';
}

test('bad reader options fail the monitor INIT, naming the option and what it may be', async (t0) => {
  assert.equal(await initStatus(t0, 'record[policy=drop]'), 'record option policy=drop is not one of ring, clear, skip, wait, raise');
  assert.equal(await initStatus(t0, 'record[fillRate=0]'), 'record option fillRate=0 is not an integer >= 1');
  assert.equal(await initStatus(t0, 'record[fillRate=1.5]'), 'record option fillRate=1.5 is not an integer >= 1');
  assert.equal(await initStatus(t0, 'record[queueSize=0,policy=ring]'), 'record option queueSize=0 is not an integer >= 1');
  assert.equal(await initStatus(t0, 'record[queueSize=many,fillRate=2]'), 'record option queueSize=many is not an integer >= 1');
});

test('our client as a reader: record[queueSize=10,policy=ring,fillRate=5], and a bad option as an error', async (t0) => {
  const { server, port } = await startServer();
  t0.after(() => server.close());
  const pv = SharedPV.readonly().open(T, { a: 0, b: 0 });
  server.addPV('R', pv);
  const client = clientFor(port);
  t0.after(() => client.close());
  const sub = client.monitor('R', { request: 'record[queueSize=10,policy=ring,fillRate=5]' });
  t0.after(() => sub.close());
  const first = await sub.next();
  assert.equal(first.done, false);
  assert.equal((first.value as { value: PVStructure }).value['a'], 0);
  postA(pv, 1, 11);
  const seen: number[] = [];
  for await (const u of sub) {
    seen.push(u.value['a'] as number);
    if (seen.length === 3) break;
  }
  assert.deepEqual(seen, [1, 6, 11]);
  const bad = client.monitor('R', { request: 'record[policy=sometimes]' });
  await assert.rejects(
    bad.next(),
    (e: unknown) => e instanceof RemoteError && /policy=sometimes is not one of ring, clear, skip, wait, raise/.test(e.message),
  );
  bad.close();
});
