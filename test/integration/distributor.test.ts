// The distributor plugin over loopback: a Server posting NTNDArray-like frames {uniqueId, value}
// while several Clients (one connection each) read, with a server queue and pipeline flow
// control, and a producer that honours backpressure so that nothing is squashed. The sequences
// are those of the PvaPy streaming-framework examples; every client first gets the current value
// (uniqueId 0), which consumers skip.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import type { PvaClient } from '../../src/pva/client/client.js';
import type { PvaSubscription } from '../../src/pva/client/subscription.js';
import type { PvaServer } from '../../src/pva/server/server.js';
import { SharedPV } from '../../src/pv/shared-pv.js';
import { t } from '../../src/pvdata/types.js';
import { clientFor, startServer } from '../helpers/net.js';

const frameT = t.struct({ uniqueId: t.int, value: t.array('ubyte') });
const QUEUE = 'record[queueSize=4,pipeline=true]';

function frame(uniqueId: number): { uniqueId: number; value: Uint8Array } {
  return { uniqueId, value: Uint8Array.from({ length: 64 }, (_, i) => (uniqueId + i) & 0xff) };
}

function ids(from: number, to: number, step = 1): number[] {
  const out: number[] = [];
  for (let i = from; i <= to; i += step) out.push(i);
  return out;
}

/** One client reading a monitor of 'img' as fast as it can, recording uniqueIds. */
class Consumer {
  readonly ids: number[] = [];
  serverOverruns = 0;
  error: Error | null = null;
  readonly sub: PvaSubscription;
  /** Settles when the subscription ends (never rejects: a failure lands in `error`). */
  readonly finished: Promise<void>;
  readonly #waiters: { count: number; resolve: () => void }[] = [];

  constructor(
    readonly client: PvaClient,
    request: string,
  ) {
    const sub = client.monitor('img', { request });
    this.sub = sub;
    this.finished = (async () => {
      try {
        for await (const u of sub) {
          this.ids.push(u.value['uniqueId'] as number);
          const data = u.value['value'] as Uint8Array;
          assert.equal(data[0], (u.value['uniqueId'] as number) & 0xff, 'frame content matches its uniqueId');
          if (!u.overrun.isEmpty()) this.serverOverruns++;
          for (const w of this.#waiters.filter((x) => this.ids.length >= x.count)) w.resolve();
        }
      } catch (err) {
        this.error = err as Error;
      }
    })();
  }

  /** Resolves once `count` updates arrived; fails after 5 s saying what did arrive. */
  received(count: number): Promise<void> {
    if (this.ids.length >= count) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`expected ${count} updates, got [${this.ids.join(',')}]`)), 5000);
      this.#waiters.push({
        count,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  /** Updates after the initial one (the current value every client gets on connecting). */
  get posted(): number[] {
    return this.ids.slice(1);
  }
}

interface Bench {
  server: PvaServer;
  pv: SharedPV;
  /** A consumer on its own connection, once the server has registered it (its first update came). */
  consumer(request: string): Promise<Consumer>;
  /** Post frames from..to, waiting for queue room whenever post() says there is none; resolves to the number of waits. */
  produce(from: number, to: number): Promise<number>;
}

async function bench(t0: TestContext): Promise<Bench> {
  const { server, port } = await startServer();
  const pv = SharedPV.readonly().open(frameT, frame(0));
  server.addPV('img', pv);
  const clients: PvaClient[] = [];
  t0.after(async () => {
    for (const c of clients) c.close();
    await server.close();
  });
  return {
    server,
    pv,
    async consumer(request) {
      const client = clientFor(port);
      clients.push(client);
      const c = new Consumer(client, request);
      // The server joins a client to the distributor before queueing its first update, so this
      // also fixes the connection order (first connected, first served).
      await c.received(1);
      return c;
    },
    async produce(from, to) {
      let waits = 0;
      for (let id = from; id <= to; id++) {
        if (pv.post(frame(id))) continue;
        waits++;
        await pv.drained();
      }
      return waits;
    },
  };
}

test('two consumers with updates:1 alternate; clients without the plugin get everything', async (t0) => {
  const b = await bench(t0);
  const odd = await b.consumer(`${QUEUE}field(_[pydistributor=trigger:uniqueId;updates:1])`);
  const even = await b.consumer(`${QUEUE}field(_[pydistributor=trigger:uniqueId;updates:1])`);
  const plain = await b.consumer(QUEUE);
  const notApplied = await b.consumer(`${QUEUE}field(_[pydistributor=trigger:uniqueId;updates:0])`);
  assert.equal(b.pv.subscriberCount, 4);

  const waits = await b.produce(1, 24);
  assert.ok(waits > 0, 'the producer filled a queue of 4 and waited for room');
  await Promise.all([odd.received(13), even.received(13), plain.received(25), notApplied.received(25)]);
  assert.deepEqual(odd.ids, [0, ...ids(1, 23, 2)]);
  assert.deepEqual(even.ids, [0, ...ids(2, 24, 2)]);
  assert.deepEqual(plain.posted, ids(1, 24));
  assert.deepEqual(notApplied.posted, ids(1, 24));
  for (const c of [odd, even, plain, notApplied]) assert.equal(c.serverOverruns, 0, 'backpressure kept every queue from squashing');
});

test('two sets of two consumers, 3 updates: set A gets 1-3, 7-9, …, set B 4-6, 10-12, …', async (t0) => {
  const b = await bench(t0);
  const request = (set: string): string => `${QUEUE}field(_[pydistributor=set:${set};trigger:uniqueId;updates:3])`;
  const a1 = await b.consumer(request('A'));
  const a2 = await b.consumer(request('A'));
  // pvDatabaseCPP's plugin name works the same (one namespace of groups here)
  const b1 = await b.consumer(`${QUEUE}field(_[distributor=set:B;trigger:uniqueId;updates:3])`);
  const b2 = await b.consumer(request('B'));

  await b.produce(1, 18);
  await Promise.all([a1, a2, b1, b2].map((c) => c.received(10)));
  for (const c of [a1, a2]) assert.deepEqual(c.posted, [1, 2, 3, 7, 8, 9, 13, 14, 15]);
  for (const c of [b1, b2]) assert.deepEqual(c.posted, [4, 5, 6, 10, 11, 12, 16, 17, 18]);
});

test('a consumer that closes mid-stream: the remaining ones share everything after it', async (t0) => {
  const b = await bench(t0);
  const request = `${QUEUE}field(_[pydistributor=trigger:uniqueId])`;
  const c1 = await b.consumer(request);
  const c2 = await b.consumer(request);
  const c3 = await b.consumer(request);

  await b.produce(1, 6);
  await Promise.all([c1.received(3), c2.received(3), c3.received(3)]);
  assert.deepEqual(
    [c1.posted, c2.posted, c3.posted],
    [
      [1, 4],
      [2, 5],
      [3, 6],
    ],
  );

  // Closing the connection destroys its monitor (leaving the distributor) before the server
  // reports the connection closed.
  const gone = new Promise<void>((resolve) => b.server.onConnectionClosed(() => resolve()));
  c2.client.close();
  await gone;
  assert.equal(b.pv.subscriberCount, 2);

  await b.produce(7, 12);
  await Promise.all([c1.received(6), c3.received(6)]);
  assert.deepEqual(c1.posted.slice(2), [7, 9, 11]);
  assert.deepEqual(c3.posted.slice(2), [8, 10, 12]);
  assert.deepEqual(c2.posted, [2, 5]);
});

test('a malformed distributor option fails the monitor with a message naming the problem', async (t0) => {
  const b = await bench(t0);
  const client = clientFor(b.server.tcpPort);
  t0.after(() => client.close());
  for (const [option, why] of [
    ['group:g;colour:red', /bad pydistributor option 'group:g;colour:red': unknown key 'colour'/],
    ['updates:many', /updates must be an integer, got 'many'/],
  ] as const) {
    const c = new Consumer(client, `${QUEUE}field(_[pydistributor=${option}])`);
    await c.finished;
    assert.ok(c.error, `${option}: the monitor failed`);
    assert.match(c.error.message, why);
    assert.deepEqual(c.ids, []);
  }
  assert.equal(b.pv.subscriberCount, 0);
  // The channel still serves good requests.
  const good = new Consumer(client, `${QUEUE}field(_[pydistributor=trigger:uniqueId])`);
  await good.received(1);
  assert.equal(b.pv.subscriberCount, 1);
});

test('a trigger field the PV lacks is accepted with a warning; every post then counts', async (t0) => {
  const b = await bench(t0);
  const warned: string[] = [];
  const client = clientFor(b.server.tcpPort, { onMessage: (text) => void warned.push(text) });
  t0.after(() => client.close());
  const request = `${QUEUE}field(_[pydistributor=updates:1])`; // trigger: timeStamp, which frames lack
  const c1 = new Consumer(client, request);
  await c1.received(1);
  const c2 = new Consumer(client, request);
  await c2.received(1);
  assert.deepEqual(
    warned,
    [0, 1].map(() => 'img has no field timeStamp: every update counts as a new one for the distributor'),
  );
  await b.produce(1, 4);
  await Promise.all([c1.received(3), c2.received(3)]);
  assert.deepEqual(
    [c1.posted, c2.posted],
    [
      [1, 3],
      [2, 4],
    ],
  );
});
