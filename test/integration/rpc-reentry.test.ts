// Re-entrant calls: A calls B, and B calls back into A (through a proxy of an A object passed as
// an argument) before it answers; in one process with two servers, and across processes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RPCClient, RPCServer, ProcessSpawner, type ObjectProxy } from '../../src/rpc/index.js';

const FIXTURE = new URL('../fixtures/rpc/child-module.js', import.meta.url).href;

test('A -> B -> A -> B in one process does not deadlock', async (t) => {
  const a = await RPCServer.start({ name: 'A' });
  const b = await RPCServer.start({ name: 'B' });
  t.after(async () => {
    await a.close();
    await b.close();
  });
  const bSide = {
    calls: 0,
    inc(x: number) {
      this.calls++;
      return x + 100;
    },
    async relay(cb: ObjectProxy, x: number): Promise<number> {
      return ((await cb.twice(x)) as number) + 1;
    },
  };
  b.publish('b', bSide);
  const toB = await RPCClient.connect(b.address, { localServer: a });
  t.after(() => toB.close());
  const remoteB = await toB.get('b');
  // A's object: called back by B; it calls B again before it answers.
  const aSide = {
    async twice(x: number): Promise<number> {
      return 2 * ((await remoteB.inc(x)) as number);
    },
  };
  assert.equal(await remoteB.relay(aSide, 5), 2 * 105 + 1);
  assert.equal(bSide.calls, 1);
  assert.equal(a.stats.requests > 0, true, "B's callback went through A's server");
});

test('across processes: the child calls back into the parent before it answers', async (t) => {
  const parent = await RPCServer.start({ name: 'PARENT' });
  const child = await ProcessSpawner.start({ name: 'reentry', log: () => {} });
  t.after(async () => {
    await child.stop();
    await parent.close();
  });
  const mod = await child.import(FIXTURE);
  const requests = parent.stats.requests;
  const cb = { twice: (x: number) => Promise.resolve(2 * x) };
  assert.equal(await mod.relay(cb, 20), 41);
  assert.ok(parent.stats.requests > requests);
});

test('startTimer calls a remote callback on a schedule, at most limit times', async (t) => {
  const a = await RPCServer.start({ name: 'TIMER' });
  const b = await RPCServer.start({ name: 'TICKED' });
  t.after(async () => {
    await a.close();
    await b.close();
  });
  let ticks = 0;
  let third: () => void = () => {};
  const done = new Promise<void>((r) => (third = r));
  b.publish('ticker', {
    tick() {
      if (++ticks === 3) third();
    },
  });
  const client = await RPCClient.connect(b.address, { localServer: a });
  t.after(() => client.close());
  const ticker = await client.get('ticker');
  const timer = a.startTimer(ticker.tick, 5, 3);
  await done;
  assert.equal(timer.count, 3);
  assert.throws(() => a.startTimer(() => {}, 0), /interval must be positive/);
});
