// Reader buffers on the pvAccess server (record[queueSize=N,policy=P,fillRate=n]): a raw client
// subscribes and does not start its monitor (a reader that stopped), a producer posts as fast as
// it likes, then the reader starts and gets exactly what the policy kept; counters per reader
// (readerStats) and per server; bad options fail the INIT with a clear message.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { SharedPV } from '../../src/pv/shared-pv.js';
import type { PvaServer } from '../../src/pva/server/server.js';
import type { MonitorOp } from '../../src/pva/server/monitor-op.js';
import { Cmd, Sub } from '../../src/pva/constants.js';
import { BitSet } from '../../src/pvdata/bitset.js';
import { bitOf } from '../../src/pvdata/field-numbering.js';
import { t, type StructureDesc } from '../../src/pvdata/types.js';
import type { PVStructure } from '../../src/pvdata/values.js';
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

const T = t.struct({ a: t.int, b: t.int });
const A = bitOf(T, 'a');
const B = bitOf(T, 'b');

interface Update {
  a: number;
  b: number;
  changed: number[];
  overrun: number[];
}

/** A server with PV `R` (a SharedPV, a: 0, b: 0) and a raw client whose monitor is not started. */
async function stoppedReader(t0: TestContext, request: string) {
  const { server, port } = await startServer();
  t0.after(() => server.close());
  const pv = SharedPV.readonly().open(T, { a: 0, b: 0 });
  server.addPV('R', pv);
  const { sock, peer } = await rawConnect(port, { keep: true });
  t0.after(() => sock.destroy());
  await handshake(peer);
  const sid = await createChannel(peer, 'R', 1);
  peer.send(initRequest(Cmd.MONITOR, sid, 7, request));
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
  /** Start the monitor, take every update the server had for it, and stop it again. */
  const read = async (): Promise<Update[]> => {
    peer.send(opRequest(Cmd.MONITOR, sid, 7, Sub.MONITOR_START));
    const out: Update[] = [];
    for (const m of await roundTrip()) {
      if (headerOf(m).command !== Cmd.MONITOR) continue;
      const u = monitorUpdate(m, type as StructureDesc, base);
      base = u.value;
      out.push({ a: u.value['a'] as number, b: u.value['b'] as number, changed: u.changed.toArray(), overrun: u.overrun.toArray() });
    }
    peer.send(opRequest(Cmd.MONITOR, sid, 7, Sub.MONITOR_STOP));
    await roundTrip(); // the server has stopped the monitor
    return out;
  };
  return { server, pv, op, read };
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

test('clear: a full queue is emptied for the new post', async (t0) => {
  const { pv, op, read } = await stoppedReader(t0, 'record[queueSize=3,policy=clear]');
  assert.ok(postA(pv, 1, 10).every((r) => r));
  // [0,1,2] cleared by 3; [3,4,5] by 6; [6,7,8] by 9; then [9,10].
  assert.deepEqual(op.readerStats(), { posted: 10, fillSkipped: 0, dropped: 9, overruns: 0, sent: 0, queued: 2, queueSize: 3 });
  assert.deepEqual(as(await read()), [9, 10]);
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
  const v = { ...(pv.value as PVStructure), a: 4 };
  op.onPost(v, BitSet.of(A), undefined, true); // the end-of-transfer marker
  assert.deepEqual(op.readerStats(), { posted: 4, fillSkipped: 1, dropped: 1, overruns: 1, sent: 0, queued: 2, queueSize: 2 });
  assert.deepEqual(as(await read()), [0, 4]);
  // Into a queue with room, a forced post that the fill rate would skip is kept.
  op.onPost({ ...v, a: 5 }, BitSet.of(A), undefined, true);
  assert.equal(op.readerStats().fillSkipped, 1);
  assert.deepEqual(as(await read()), [5]);
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
