// What a client monitor sees when its PV goes, over loopback TCP: a closed SharedPV (or a PV
// removed with `end`) ends the monitor after every queued update (the finish update); a PV removed
// from the server disconnects it after every queued update (DESTROY_CHANNEL), and it resumes when
// the name is served again. Either way the server keeps no subscription, channel or queued byte.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { SharedPV } from '../../src/pv/shared-pv.js';
import type { PvaSubscription } from '../../src/pva/client/subscription.js';
import type { PvaServer } from '../../src/pva/server/server.js';
import { t } from '../../src/pvdata/types.js';
import { clientFor, once, startServer } from '../helpers/net.js';

const counterT = t.struct({ value: t.int });

async function setup(t0: TestContext) {
  const { server, port } = await startServer();
  const client = clientFor(port);
  t0.after(async () => {
    client.close();
    await server.close();
  });
  return { server, client };
}

/**
 * A pipelined monitor (credit 4) that consumed the first value; then 7 more posts: 3 go out within
 * the credit, 4 wait in the server's queue (the client returns no credit: nothing more consumed).
 */
async function backlog(server: PvaServer, sub: PvaSubscription, pv: SharedPV): Promise<void> {
  assert.equal((await sub.next()).value.value['value'], 1);
  for (let i = 2; i <= 8; i++) pv.post({ value: i });
  const [s] = server.subscriptions();
  assert.equal(s?.stats.sent, 4, 'within the credit');
  assert.ok((s?.stats.queuedBytes ?? 0) > 0, 'the rest waits in the server queue');
}

async function rest(sub: PvaSubscription): Promise<number[]> {
  const values: number[] = [];
  for await (const u of sub) values.push(u.value['value'] as number);
  return values;
}

function assertNothingLeft(server: PvaServer, pv: SharedPV): void {
  assert.deepEqual(server.subscriptions(), []);
  assert.equal(server.stats.monitors, 0);
  assert.equal(server.stats.queuedBytes, 0);
  assert.equal(pv.subscriberCount, 0);
}

test('closing a SharedPV ends a monitor after every queued update, past its credit', { timeout: 10_000 }, async (t0) => {
  const { server, client } = await setup(t0);
  const pv = SharedPV.readonly().open(counterT, { value: 1 });
  server.addPV('GO:closed', pv);
  const sub = client.monitor('GO:closed', { queueSize: 4, pipeline: true });
  let disconnects = 0;
  sub.on('disconnect', () => disconnects++);
  const ended = once(sub, 'end');
  await backlog(server, sub, pv);
  pv.close();
  assert.deepEqual(await rest(sub), [2, 3, 4, 5, 6, 7, 8], 'the for-await ends after the last value');
  await ended;
  assert.equal(disconnects, 0, 'an ended monitor is not a disconnected one');
  assert.equal(sub.channel.state, 'connected', 'the channel stays (as after PVXS finish())');
  assertNothingLeft(server, pv);
  assert.equal((await sub.next()).done, true);
});

test('removing a PV disconnects a monitor after every queued update; it resumes when the PV is back', { timeout: 10_000 }, async (t0) => {
  const { server, client } = await setup(t0);
  const pv = SharedPV.readonly().open(counterT, { value: 1 });
  server.addPV('GO:removed', pv);
  const sub = client.monitor('GO:removed', { queueSize: 4, pipeline: true });
  const ch = sub.channel;
  await backlog(server, sub, pv);
  let ended = false;
  sub.once('end', () => (ended = true));
  const disconnected = once(sub, 'disconnect');
  assert.equal(server.removePV('GO:removed'), true);
  assert.equal(pv.isOpen, false, 'removePV closes the PV');
  await disconnected;
  assert.notEqual(ch.state, 'connected');
  assert.equal(server.stats.channels, 0);
  assertNothingLeft(server, pv);
  // Every update posted before the removal is there, in order, and the monitor goes on.
  const got: number[] = [];
  for (let i = 0; i < 7; i++) got.push((await sub.next()).value.value['value'] as number);
  assert.deepEqual(got, [2, 3, 4, 5, 6, 7, 8]);
  assert.equal(ended, false);
  server.addPV('GO:removed', SharedPV.readonly().open(counterT, { value: 100 }));
  assert.equal((await sub.next()).value.value['value'], 100, 'resumed with the PV served again');
  assert.equal(sub.stats.connects, 2);
  assert.equal(ch.state, 'connected');
  sub.close();
});

test('removePV with end: the monitor ends after its queued updates, as when the PV closes', { timeout: 10_000 }, async (t0) => {
  const { server, client } = await setup(t0);
  const pv = SharedPV.readonly().open(counterT, { value: 1 });
  server.addPV('GO:ended', pv);
  const sub = client.monitor('GO:ended', { queueSize: 4, pipeline: true });
  await backlog(server, sub, pv);
  server.removePV('GO:ended', { end: true });
  assert.deepEqual(await rest(sub), [2, 3, 4, 5, 6, 7, 8]);
  assertNothingLeft(server, pv);
});

test(
  'a closed PV ends every monitor of it, plain and pipelined, on several connections; reopened, it serves new ones',
  { timeout: 10_000 },
  async (t0) => {
    const { server, client } = await setup(t0);
    const other = clientFor(server.tcpPort);
    t0.after(() => other.close());
    const pv = SharedPV.readonly().open(counterT, { value: 1 });
    server.addPV('GO:many', pv);
    const subs = [client.monitor('GO:many'), client.monitor('GO:many', { pipeline: true }), other.monitor('GO:many', { queueSize: 1 })];
    for (const s of subs) assert.equal((await s.next()).value.value['value'], 1);
    pv.post({ value: 2 });
    pv.close();
    for (const s of subs) assert.deepEqual(await rest(s), [2]);
    assertNothingLeft(server, pv);
    pv.open(counterT, { value: 3 });
    const again = client.monitor('GO:many');
    assert.equal((await again.next()).value.value['value'], 3);
    again.close();
  },
);

test('a server closed right after its PV still sends the last updates and the finish first', { timeout: 10_000 }, async (t0) => {
  const { server, client } = await setup(t0);
  const pv = SharedPV.readonly().open(counterT, { value: 1 });
  server.addPV('GO:last', pv);
  const sub = client.monitor('GO:last', { queueSize: 4, pipeline: true });
  await backlog(server, sub, pv);
  pv.close();
  await server.close();
  assert.deepEqual(await rest(sub), [2, 3, 4, 5, 6, 7, 8]);
});
