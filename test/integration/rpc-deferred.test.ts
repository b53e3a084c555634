// Deferred attributes on proxies (Pyacq's defer_getattr): `await proxy.a.b` is one get of the
// path, `proxy.a.m()` one call, assignment a fire-and-forget set, items of objects and Maps, and
// `for await` over a remote async or sync iterable, left early or failing.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { RPCClient, RPCServer, isObjectProxy, type ObjectProxy } from '../../src/rpc/index.js';

class Sensor {
  gain = 2;
  reading(): number {
    return 42 * this.gain;
  }
}

class Device {
  label = 'dev';
  config = { exposure: { seconds: 0.5 }, mode: 'fast' };
  sensor = new Sensor();
  table = new Map<unknown, unknown>([
    [1, 'one'],
    ['k', 'kay'],
  ]);
  list = [10, 20, 30];
  cleaned = 0;
  async *frames(n: number): AsyncGenerator<{ i: number; data: Float32Array }> {
    try {
      for (let i = 0; i < n; i++) yield { i, data: new Float32Array([i, i + 0.5]) };
    } finally {
      this.cleaned++;
    }
  }
  get numbers(): AsyncIterable<number> {
    return mapFrames(this.frames(3));
  }
  async *slowly(ms: number): AsyncGenerator<number> {
    yield 0;
    await new Promise((r) => setTimeout(r, ms));
    yield 1;
  }
  total(values: Float64Array): number {
    return values.reduce((a, b) => a + b, 0);
  }
  async *broken(): AsyncGenerator<number> {
    yield 1;
    throw new RangeError('sensor unplugged');
  }
}

async function* mapFrames(it: AsyncIterable<{ i: number }>): AsyncGenerator<number> {
  for await (const f of it) yield f.i;
}

async function setup(t: TestContext) {
  const server = await RPCServer.start({ name: 'DEFER', log: () => {} });
  const device = new Device();
  server.publish('device', device);
  const client = await RPCClient.connect(server.address);
  t.after(async () => {
    client.close();
    await server.close();
  });
  return { server, device, client, dev: await client.get('device') };
}

test('await proxy.a.b.c is one get of the path; proxy.a.b.m() one call', async (t) => {
  const { server, dev } = await setup(t);
  const before = server.stats.requests;
  assert.equal(await dev.config.exposure.seconds, 0.5);
  assert.equal(server.stats.requests, before + 1, 'one request for the whole path');
  assert.deepEqual(await dev.config, { exposure: { seconds: 0.5 }, mode: 'fast' });
  assert.equal(await dev.sensor.reading(), 84);
  assert.equal(server.stats.requests, before + 3);
  // A class instance comes back by proxy, a whole object: not awaitable again.
  const sensor = (await dev.sensor) as ObjectProxy;
  assert.ok(isObjectProxy(sensor));
  assert.equal(sensor.then, undefined);
  assert.equal(await sensor.gain, 2);
  // _undefer: the value of a deferred attribute; the proxy itself for a whole object.
  assert.equal(await dev.config.mode._undefer(), 'fast');
  assert.equal(await dev._undefer(), dev);
  await assert.rejects(Promise.resolve(dev.config.nothing.here), {
    code: 'ERR_REMOTE',
    message: /config\.nothing is undefined: no attribute here/,
  });
  // A deferred attribute cannot be sent as an argument: its value or the object's proxy can.
  await assert.rejects(dev.sensor.reading(dev.config), /deferred attribute/);
});

test('assignment is a fire-and-forget set, applied before later calls of the same client', async (t) => {
  const { device, dev } = await setup(t);
  dev.label = 'renamed';
  dev.sensor.gain = 3;
  assert.equal(await dev.label, 'renamed');
  assert.equal(device.label, 'renamed');
  assert.equal(await dev.sensor.reading(), 126);
  dev._release();
  assert.throws(() => (dev.label = 'x'), { code: 'ERR_INVALID_ARGUMENT', message: /released/ });
});

test('_getitem / _setitem: array indices, object keys and Map keys of any plain type', async (t) => {
  const { device, dev } = await setup(t);
  assert.equal(await dev.list._getitem(1), 20);
  await dev.list._setitem(2, 33);
  assert.deepEqual(device.list, [10, 20, 33]);
  assert.equal(await dev.config._getitem('mode'), 'fast');
  assert.equal(await dev.table._getitem(1), 'one', 'a number key of a Map stays a number');
  assert.equal(await dev.table._getitem('1'), undefined);
  await dev.table._setitem(2, 'two');
  assert.equal(device.table.get(2), 'two');
  await assert.rejects(dev.config._getitem('__proto__'), { code: 'ERR_REMOTE', message: /not reachable over RPC/ });
  await assert.rejects(dev.config._getitem({ a: 1 }), { code: 'ERR_REMOTE', message: /item key must be a string or a number/ });
});

test('for await over a remote async generator, a sync iterable, a loop left early, an error', async (t) => {
  const { server, device, dev } = await setup(t);
  const got: number[] = [];
  // The call brings back the generator by proxy; iterating that proxy asks for one item at a time.
  const gen = (await dev.frames(3)) as ObjectProxy;
  for await (const f of gen) {
    const frame = f as { i: number; data: Float32Array };
    assert.ok(frame.data instanceof Float32Array, 'items come back by value');
    got.push(frame.i);
  }
  assert.deepEqual(got, [0, 1, 2]);
  gen._release();
  const seen: number[] = [];
  for await (const x of dev.list) seen.push(x as number);
  assert.deepEqual(seen, [10, 20, 30], 'a sync iterable works too');
  const numbers: number[] = [];
  for await (const x of dev.numbers) numbers.push(x as number);
  assert.deepEqual(numbers, [0, 1, 2]);
  // Leaving early runs the remote generator's finally (its return()), and nothing stays lent.
  const early = (await dev.frames(100)) as ObjectProxy;
  const cleanedBefore = device.cleaned;
  for await (const f of early) if ((f as { i: number }).i === 1) break;
  assert.equal(device.cleaned, cleanedBefore + 1);
  early._release();
  // Each item waits at most the iterated proxy's timeout.
  const slow: unknown[] = [];
  const slowGen = (await dev.slowly(300)) as ObjectProxy;
  await assert.rejects(
    (async () => {
      for await (const x of slowGen._options({ timeout: 100 })) slow.push(x);
    })(),
    { code: 'ERR_TIMEOUT' },
  );
  assert.deepEqual(slow, [0]);
  slowGen._release();
  const broken = (await dev.broken()) as ObjectProxy;
  const items: unknown[] = [];
  await assert.rejects(
    (async () => {
      for await (const x of broken) items.push(x);
    })(),
    { code: 'ERR_REMOTE', message: /sensor unplugged/ },
  );
  assert.deepEqual(items, [1]);
  broken._release();
  await assert.rejects(
    (async () => {
      for await (const x of dev.sensor.gain) void x;
    })(),
    /not iterable/,
  );
  // Every generator and iterator handle was released: only the reference of `dev` remains.
  await dev.sensor.reading();
  assert.deepEqual([server.stats.objects, server.stats.references], [1, 1]);
});

test('transfer: a value sent once, used there through its proxy, back to the owner as the object', async (t) => {
  const { server, client, dev } = await setup(t);
  const values = (await client.transfer(new Float64Array([1, 2, 3.5]))) as ObjectProxy;
  assert.ok(isObjectProxy(values));
  assert.equal(await values.length, 3);
  assert.equal(await values._getitem(2), 3.5);
  // The proxy reaches its owner as the server's copy itself.
  assert.equal(await dev.total(values), 6.5);
  await values.fill(1);
  assert.equal(await dev.total(values), 3);
  const objects = server.stats.objects;
  values._release();
  await dev.total(new Float64Array([0]));
  assert.equal(server.stats.objects, objects - 1, 'the copy is dropped with its last reference');
  assert.equal(await client.transfer(7), 7, 'a number has no proxy: it stays a value');
});
