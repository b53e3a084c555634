// RPCServer and RPCClient over real pvAccess on 127.0.0.1: calls, attributes, options, errors,
// by-value and by-proxy rules, return to the owner, reference counting and argument checks.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { AccessPolicy, parseAcf } from '../../src/access/index.js';
import { RPCClient, RPCServer, RemoteCallError, isObjectProxy, type ObjectProxy } from '../../src/rpc/index.js';

class Counter {
  count = 0;
  label = 'c';
  add(n = 1): number {
    this.count += n;
    return this.count;
  }
  sum(a: number, b: number, ...rest: number[]): number {
    return [a, b, ...rest].reduce((x, y) => x + y, 0);
  }
  fail(): never {
    throw new RangeError('counter broke');
  }
  slow(ms: number): Promise<string> {
    return new Promise((r) => setTimeout(() => r('late'), ms));
  }
  child(): Counter {
    return new Counter();
  }
  data(): unknown {
    return { n: 1, big: 2n, s: 'x', ok: true, none: null, list: [1, 'a'], f32: new Float32Array([1.5, 2.5]), when: new Date(5) };
  }
  echo<T>(v: T): T {
    return v;
  }
  isCounter(v: unknown): boolean {
    return v instanceof Counter;
  }
}

async function setup(t: TestContext, log?: (line: string) => void) {
  const server = await RPCServer.start({ name: 'TST', ...(log ? { log } : {}) });
  const counter = new Counter();
  server.publish('counter', counter);
  const client = await RPCClient.connect(server.address);
  t.after(async () => {
    client.close();
    await server.close();
  });
  return { server, counter, client, dev: await client.get('counter') };
}

test('call a method, get and set attributes; a proxy is not a thenable', async (t) => {
  const { dev, counter } = await setup(t);
  assert.equal(dev.then, undefined);
  assert.equal(await dev.add(2), 2);
  assert.equal(await dev.add(), 3);
  assert.equal(await dev._get('count'), 3);
  await dev._set('label', 'renamed');
  assert.equal(counter.label, 'renamed');
  assert.equal(await dev.sum(1, 2, 3, 4), 10);
  assert.equal(await dev._call('sum', [5, 6]), 11);
  assert.equal(await dev._callNamed('sum', { a: 1, b: 2 }), 3);
});

test('plain data comes back by value, TypedArrays included; class instances by proxy', async (t) => {
  const { dev } = await setup(t);
  const d = (await dev.data()) as Record<string, unknown>;
  assert.deepEqual(d, {
    n: 1,
    big: 2n,
    s: 'x',
    ok: true,
    none: null,
    list: [1, 'a'],
    f32: new Float32Array([1.5, 2.5]),
    when: new Date(5),
  });
  const c = (await dev.child()) as ObjectProxy;
  assert.ok(isObjectProxy(c));
  assert.equal(await c.add(5), 5);
  assert.deepEqual(await c._value(), { count: 5, label: 'c' });
  const byProxy = (await dev._call('data', [], { returnType: 'proxy' })) as ObjectProxy;
  assert.equal(await byProxy._get('s'), 'x');
  const byValue = await dev._call('child', [], { returnType: 'value' });
  assert.deepEqual(byValue, { count: 0, label: 'c' });
});

test('a proxy sent back to its owner is the real object', async (t) => {
  const { dev } = await setup(t);
  const c = (await dev.child()) as ObjectProxy;
  assert.equal(await dev.isCounter(c), true);
  assert.equal(await dev.isCounter({}), false);
});

test('remote exceptions carry the remote name, message and stack', async (t) => {
  const { dev } = await setup(t);
  const err = await dev.fail().catch((e: unknown) => e);
  assert.ok(err instanceof RemoteCallError);
  assert.equal(err.code, 'ERR_REMOTE');
  assert.equal(err.remoteName, 'RangeError');
  assert.equal(err.remoteMessage, 'counter broke');
  assert.match(err.remoteStack, /Counter\.fail/);
  await assert.rejects(dev.nothing(), /nothing is not a function/);
  await assert.rejects(dev.constructor.constructor('return 1'), /'constructor' is not reachable/);
});

test('argument counts and names are checked before sending', async (t) => {
  const { dev, server } = await setup(t);
  const before = server.stats.requests;
  await assert.rejects(dev.sum(1), {
    code: 'ERR_INVALID_ARGUMENT',
    message: /sum\(a, b, \.\.\.rest\) needs at least 2 argument\(s\), got 1/,
  });
  await assert.rejects(dev.add(1, 2), /add\(n\) takes at most 1 argument\(s\), got 2/);
  await assert.rejects(dev._callNamed('sum', { a: 1, c: 2 }), /has no parameter c/);
  await assert.rejects(dev._callNamed('sum', { a: 1 }), /is missing b/);
  assert.equal(server.stats.requests, before, 'nothing was sent');
});

test('timeouts reject with ERR_TIMEOUT; fire-and-forget returns at once and the server logs errors', async (t) => {
  const lines: string[] = [];
  let logged: () => void = () => {};
  const seen = new Promise<void>((r) => (logged = r));
  const { dev, counter } = await setup(t, (l) => (lines.push(l), logged()));
  await assert.rejects(dev._options({ timeout: 50 }).slow(2000), {
    name: 'TimeoutError',
    code: 'ERR_TIMEOUT',
    message: /slow\(\) got no reply within 50 ms/,
  });
  assert.equal(await dev._call('slow', [1], { timeout: 5000 }), 'late');
  const off = dev._options({ sync: 'off' });
  assert.equal(await off.add(10), undefined);
  assert.equal(await off.fail(), undefined);
  await seen;
  assert.match(lines[0] ?? '', /fire-and-forget call fail failed: RangeError: counter broke/);
  assert.equal(counter.count, 10);
});

test('references: the server drops a lent object when every proxy is released', async (t) => {
  const { dev, server } = await setup(t);
  const a = (await dev.child()) as ObjectProxy;
  const b = (await dev.child()) as ObjectProxy;
  const same = (await dev.echo(a)) as ObjectProxy; // the echo returns the object: a second reference
  assert.equal(server.stats.objects, 3, 'two children and the counter proxy of get()');
  assert.equal(same._ref.objectId, a._ref.objectId);
  a._release();
  await assert.rejects(a.add(1), /was released/);
  assert.equal(await same.add(1), 1, 'the other reference still works');
  b._release();
  same._release();
  await dev.add(0); // the releases were sent before this call on the same connection
  assert.equal(server.stats.objects, 1);
  dev._release();
  await new Promise((r) => setImmediate(r));
});

test('a proxy that is garbage-collected releases its reference', async (t) => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const { dev, server } = await setup(t);
  await (async () => void (await dev.child()))(); // the child's proxy is dropped at once
  assert.equal(server.stats.objects, 2);
  // Collection is up to V8: collect, let the finalizer run, and let its release reach the server.
  for (let i = 0; i < 20 && server.stats.objects > 1; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
    await dev.add(0);
  }
  assert.equal(server.stats.objects, 1);
});

test('close: pending calls fail with a clear error, later calls at once', async (t) => {
  const server = await RPCServer.start({ name: 'CLOSING' });
  server.publish('counter', new Counter());
  const client = await RPCClient.connect(server.address);
  t.after(() => client.close());
  const dev = await client.get('counter');
  const pending = dev.slow(5000);
  await server.close();
  await assert.rejects(pending, { code: 'ERR_CONNECTION_CLOSED', message: /slow\(\).*(RPC server closed|connection)/ });
  await assert.rejects(dev.add(1), { code: 'ERR_CONNECTION_CLOSED' });
});

test('get of an unknown name names the published ones', async (t) => {
  const { client } = await setup(t);
  await assert.rejects(client.get('nope'), /no object published as 'nope' \(published: counter\)/);
});

test('the pvAccess access rules apply: without the RPC right, calls are refused', async (t) => {
  const acf = parseAcf('ASG(DEFAULT) {\n  RULE(1, READ)\n}\nASG(OPEN) {\n  RULE(1, WRITE)\n}\n', 'rpc.acf');
  const closed = await RPCServer.start({ name: 'LOCKED', access: new AccessPolicy({ acf, log: () => {} }) });
  const open = await RPCServer.start({ name: 'OPEN', access: new AccessPolicy({ acf, log: () => {} }), accessGroup: 'OPEN' });
  t.after(async () => {
    await closed.close();
    await open.close();
  });
  closed.publish('counter', new Counter());
  open.publish('counter', new Counter());
  await assert.rejects(RPCClient.connect(closed.address), /access denied: .* may not call RPC on LOCKED:rpc \(ASG DEFAULT\)/);
  const client = await RPCClient.connect(open.address);
  t.after(() => client.close());
  assert.equal(await (await client.get('counter')).add(4), 4);
});
