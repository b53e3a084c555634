// Our CA client against our CA server over loopback: UDP search on a free port (never 5064),
// TCP search through a name server, get and put of every kind of value, monitors of scalars,
// arrays, enums and strings with their time stamps, errors, a slow consumer's bounded queue,
// a channel removed on the server, and reconnection after the server restarts.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { CaClient, type CaClientOptions } from '../../src/ca/client.js';
import { CaServer, type CaServerOptions } from '../../src/ca/server.js';
import type { CaUpdate, CaSubscription } from '../../src/ca/subscription.js';
import { RemoteError, SluiceError } from '../../src/errors.js';
import { SharedPV } from '../../src/pv/shared-pv.js';
import { ntenum, ntscalar, ntscalarArray } from '../../src/pvdata/nt/index.js';
import { t } from '../../src/pvdata/types.js';
import { once } from '../helpers/net.js';

const ts = (s: number, ns = 0) => ({ secondsPastEpoch: BigInt(s), nanoseconds: ns, userTag: 0 });

async function startCa(t0: TestContext, opts: CaServerOptions = {}): Promise<CaServer> {
  const server = new CaServer({ host: '127.0.0.1', tcpPort: 0, udpPort: 0, ...opts });
  await server.listen();
  t0.after(() => server.close());
  return server;
}

/** A client that searches only the given UDP port on loopback. */
function clientFor(t0: TestContext, udpPort: number, opts: CaClientOptions = {}): CaClient {
  const c = new CaClient({
    env: { EPICS_CA_AUTO_ADDR_LIST: 'NO', EPICS_CA_ADDR_LIST: `127.0.0.1:${udpPort}` },
    timeoutMs: 3000,
    reconnectDelayMs: 50,
    ...opts,
  });
  t0.after(() => c.close());
  return c;
}

async function next(sub: CaSubscription): Promise<CaUpdate> {
  const r = await sub.next();
  assert.ok(!r.done, 'subscription ended');
  return r.value;
}

function pvs() {
  return {
    x: SharedPV.mailbox().open(ntscalar.type('double', { display: true }), {
      value: 1.5,
      timeStamp: ts(1_700_000_000, 250_000_000),
      display: { units: 'mm', limitLow: -10, limitHigh: 10, format: '%.2f' },
    }),
    count: SharedPV.readonly().open(ntscalar.type('int'), {
      value: 42,
      alarm: { severity: 2, status: 1, message: 'HIHI' },
      timeStamp: ts(1_700_000_001),
    }),
    text: SharedPV.mailbox().open(ntscalar.type('string'), { value: 'hello', timeStamp: ts(1_700_000_002) }),
    mode: SharedPV.mailbox().open(ntenum.type(), { value: { index: 1, choices: ['Off', 'On', 'Fault'] }, timeStamp: ts(1_700_000_003) }),
    bytes: SharedPV.mailbox().open(ntscalarArray.type('ubyte'), { value: new Uint8Array([1, 2, 250]), timeStamp: ts(1_700_000_004) }),
    wave: SharedPV.mailbox().open(ntscalarArray.type('double'), { value: new Float64Array([0.5, 1.5]), timeStamp: ts(1_700_000_005) }),
    names: SharedPV.mailbox().open(ntscalarArray.type('string'), { value: ['a', 'b'], timeStamp: ts(1_700_000_006) }),
    flag: SharedPV.mailbox().open(t.struct({ value: t.boolean }), { value: true }),
  };
}

async function setup(t0: TestContext) {
  const server = await startCa(t0);
  const p = pvs();
  for (const [k, pv] of Object.entries(p)) server.addPV(`CA:${k}`, pv, k === 'wave' ? { maxElements: 100 } : {});
  const client = clientFor(t0, server.udpPort);
  return { server, p, client };
}

test('get: numbers with display, alarms, strings, enums with labels, arrays, booleans', async (t0) => {
  const { client } = await setup(t0);
  const x = await client.get('CA:x');
  assert.equal(x.type.id, 'epics:nt/NTScalar:1.0');
  assert.deepEqual(x.value, {
    value: 1.5,
    alarm: { severity: 0, status: 0, message: 'NO_ALARM' },
    timeStamp: ts(1_700_000_000, 250_000_000),
    display: { limitLow: -10, limitHigh: 10, description: '', format: '%.2f', units: 'mm' },
    control: { limitLow: 0, limitHigh: 0, minStep: 0 },
  });
  const c = await client.get('CA:count');
  assert.deepEqual([c.value['value'], c.value['alarm']], [42, { severity: 2, status: 1, message: 'HIHI' }]);
  assert.equal((await client.get('CA:text')).value['value'], 'hello');
  const mode = await client.get('CA:mode');
  assert.equal(mode.type.id, 'epics:nt/NTEnum:1.0');
  assert.deepEqual(mode.value['value'], { index: 1, choices: ['Off', 'On', 'Fault'] });
  const bytes = await client.get('CA:bytes');
  assert.equal(bytes.type.id, 'epics:nt/NTScalarArray:1.0');
  assert.ok(bytes.value['value'] instanceof Uint8Array, 'DBR_CHAR arrays are ubyte[]');
  assert.deepEqual(Array.from(bytes.value['value']), [1, 2, 250]);
  const wave = await client.get('CA:wave');
  assert.deepEqual(Array.from(wave.value['value'] as Float64Array), [0.5, 1.5], 'the current length, not the 100 announced');
  assert.deepEqual((await client.get('CA:names')).value['value'], ['a', 'b']);
  assert.deepEqual((await client.get('CA:flag')).value['value'], { index: 1, choices: ['false', 'true'] });
});

test('put: numbers, text into numbers, enum labels and indexes, arrays that grow, strings', async (t0) => {
  const { client, p } = await setup(t0);
  await client.put('CA:x', 4.25);
  assert.equal(p.x.value?.['value'], 4.25);
  await client.put('CA:x', '-7.5');
  assert.equal((await client.get('CA:x')).value['value'], -7.5);
  await client.put('CA:mode', 'Fault');
  assert.equal(p.mode.value?.['value'].index, 2);
  await client.put('CA:mode', 0);
  assert.deepEqual((await client.get('CA:mode')).value['value'], { index: 0, choices: ['Off', 'On', 'Fault'] });
  await client.put('CA:wave', new Float64Array([1, 2, 3, 4, 5]));
  assert.deepEqual(Array.from((await client.get('CA:wave')).value['value'] as Float64Array), [1, 2, 3, 4, 5]);
  await client.put('CA:bytes', [9, 8]);
  assert.deepEqual(Array.from(p.bytes.value?.['value'] as Uint8Array), [9, 8]);
  await client.put('CA:text', 'new text');
  assert.equal((await client.get('CA:text')).value['value'], 'new text');
  await client.put('CA:names', ['x', 'y', 'z']);
  assert.deepEqual(p.names.value?.['value'], ['x', 'y', 'z']);
  await client.put('CA:flag', 'false');
  assert.equal(p.flag.value?.['value'], false);
});

test('errors: read-only PVs, values that do not convert, channels nobody has, handlers that throw', async (t0) => {
  const { client, server } = await setup(t0);
  await assert.rejects(
    client.put('CA:count', 1),
    (e: unknown) => e instanceof RemoteError && /CA put CA:count: no write access/.test(e.message),
  );
  await assert.rejects(
    client.put('CA:x', 'abc'),
    (e: unknown) => e instanceof RemoteError && e.code === 'ERR_REMOTE' && /write failed/.test(e.message),
  );
  await assert.rejects(client.put('CA:mode', 'Maybe'), (e: unknown) => e instanceof RemoteError);
  await assert.rejects(
    client.get('CA:nosuch', { timeoutMs: 300 }),
    (e: unknown) => e instanceof SluiceError && e.code === 'ERR_TIMEOUT' && /CA get CA:nosuch: .*within 300 ms/.test(e.message),
  );
  server.addPV('CA:picky', new SharedPV({ onPut: () => Promise.reject(new Error('not now')) }).open(ntscalar.type('double'), { value: 0 }));
  await assert.rejects(client.put('CA:picky', 1), (e: unknown) => e instanceof RemoteError);
  assert.throws(() => server.addPV('CA:picky', new SharedPV()), /already served/);
  assert.throws(() => server.addPV('CA:tbl', new SharedPV().open(t.struct({ a: t.int }))), /scalar, a scalar array or an enum/);
  const lonely = new CaClient({ env: { EPICS_CA_AUTO_ADDR_LIST: 'NO', EPICS_CA_ADDR_LIST: '' }, timeoutMs: 1000 });
  t0.after(() => lonely.close());
  await assert.rejects(
    lonely.get('CA:x'),
    (e: unknown) => e instanceof SluiceError && e.code === 'ERR_CHANNEL_NOT_FOUND' && /EPICS_CA_ADDR_LIST is empty/.test(e.message),
  );
  await assert.rejects(
    lonely.get('CA:x'),
    (e: unknown) => e instanceof SluiceError && e.code === 'ERR_CHANNEL_NOT_FOUND',
    'at once the second time too',
  );
});

test("arrays larger than the server's EPICS_CA_MAX_ARRAY_BYTES: an error for gets and monitors", async (t0) => {
  const server = await startCa(t0, { limits: { maxArrayBytes: 16384 } });
  const pv = SharedPV.mailbox().open(ntscalarArray.type('double'), { value: new Float64Array(100) });
  server.addPV('CA:arr', pv);
  const client = clientFor(t0, server.udpPort);
  assert.equal((await client.get('CA:arr')).value['value'].length, 100);
  const sub = client.monitor('CA:arr');
  assert.equal((await next(sub)).value['value'].length, 100);
  pv.post({ value: new Float64Array(4096) }); // 32 KiB
  await assert.rejects(
    sub.next(),
    (e: unknown) =>
      e instanceof RemoteError &&
      /transfer larger than the array size limit: CA:arr: 32784 bytes, more than EPICS_CA_MAX_ARRAY_BYTES \(16384\)/.test(e.message),
  );
  await assert.rejects(client.get('CA:arr'), (e: unknown) => e instanceof RemoteError && /CA get CA:arr: transfer larger/.test(e.message));
});

test('monitor: scalars, arrays, enums and strings, each update with its time stamp', async (t0) => {
  const { client, p } = await setup(t0);
  const subs = {
    x: client.monitor('CA:x'),
    wave: client.monitor('CA:wave'),
    mode: client.monitor('CA:mode'),
    text: client.monitor('CA:text'),
  };
  t0.after(() => Object.values(subs).forEach((s) => s.close()));
  const first = await next(subs.x);
  assert.deepEqual([first.value['value'], first.value['timeStamp']], [1.5, ts(1_700_000_000, 250_000_000)]);
  assert.equal((await next(subs.wave)).value['value'].length, 2);
  assert.equal((await next(subs.mode)).value['value'].index, 1);
  assert.equal((await next(subs.text)).value['value'], 'hello');

  p.x.post({ value: 2.5, timeStamp: ts(1_800_000_000, 1) });
  p.x.post({ value: 3.5, timeStamp: ts(1_800_000_001, 999_999_999) });
  p.wave.post({ value: new Float64Array([7, 8, 9]), timeStamp: ts(1_800_000_002) });
  p.mode.post({ value: { index: 2, choices: ['Off', 'On', 'Fault'] }, timeStamp: ts(1_800_000_003) });
  p.text.post({ value: 'bye', timeStamp: ts(1_800_000_004) });
  const a = await next(subs.x);
  const b = await next(subs.x);
  assert.deepEqual(
    [a.value['value'], a.value['timeStamp'], b.value['value'], b.value['timeStamp']],
    [2.5, ts(1_800_000_000, 1), 3.5, ts(1_800_000_001, 999_999_999)],
  );
  const w = await next(subs.wave);
  assert.deepEqual([Array.from(w.value['value'] as Float64Array), w.value['timeStamp']], [[7, 8, 9], ts(1_800_000_002)]);
  const m = await next(subs.mode);
  assert.deepEqual([m.value['value'], m.value['timeStamp']], [{ index: 2, choices: ['Off', 'On', 'Fault'] }, ts(1_800_000_003)]);
  const s = await next(subs.text);
  assert.deepEqual([s.value['value'], s.value['timeStamp']], ['bye', ts(1_800_000_004)]);
  assert.deepEqual(subs.x.stats, { received: 3, overruns: 0, connects: 1 });
  // A put through CA reaches the monitors too (the mailbox posts it).
  await client.put('CA:x', 11);
  assert.equal((await next(subs.x)).value['value'], 11);
});

test('monitor: a slow consumer keeps the first updates and the newest; the rest are counted as overruns', async (t0) => {
  const { client, p } = await setup(t0);
  const sub = client.monitor('CA:x', { queueSize: 3 });
  t0.after(() => sub.close());
  assert.equal((await next(sub)).value['value'], 1.5); // subscribed on the server now
  for (let i = 1; i <= 10; i++) p.x.post({ value: i });
  // The get's reply comes behind the ten updates on the same connection.
  await client.get('CA:x');
  assert.equal(sub.stats.received, 11, 'the initial value and ten updates');
  assert.equal(sub.pending, 3);
  assert.equal(sub.stats.overruns, 7);
  const got = [(await next(sub)).value['value'], (await next(sub)).value['value'], (await next(sub)).value['value']];
  assert.deepEqual(got, [1, 2, 10]);
});

test('monitor: closing it ends the iterator and cancels it on the server', async (t0) => {
  const { client, p } = await setup(t0);
  const sub = client.monitor('CA:text');
  await next(sub);
  assert.equal(p.text.subscriberCount, 1);
  const ended = once(sub, 'end');
  sub.close();
  await ended;
  assert.deepEqual(await sub.next(), { value: undefined, done: true });
  await client.get('CA:text'); // the cancel was handled before this reply
  assert.equal(p.text.subscriberCount, 0);
});

test('name servers: search over TCP, no UDP', async (t0) => {
  const server = await startCa(t0, { udpPort: false });
  server.addPV('NS:x', SharedPV.mailbox().open(ntscalar.type('double'), { value: 6.5 }));
  const client = new CaClient({ env: { EPICS_CA_AUTO_ADDR_LIST: 'NO' }, nameServers: [`127.0.0.1:${server.tcpPort}`], timeoutMs: 3000 });
  t0.after(() => client.close());
  assert.equal(server.udpPort, 0);
  assert.equal((await client.get('NS:x')).value['value'], 6.5);
  await assert.rejects(client.get('NS:nosuch', { timeoutMs: 300 }), (e: unknown) => e instanceof SluiceError && e.code === 'ERR_TIMEOUT');
});

test('a PV removed on the server disconnects its channel; added again, the monitor resumes', async (t0) => {
  const { client, server, p } = await setup(t0);
  const sub = client.monitor('CA:x');
  t0.after(() => sub.close());
  await next(sub);
  const gone = once<Error>(sub, 'disconnect');
  assert.equal(server.removePV('CA:x'), true);
  assert.match((await gone).message, /CA channel CA:x was deleted on the server/);
  const back = once(sub, 'connect');
  p.x.post({ value: 99 });
  server.addPV('CA:x', p.x);
  await back;
  assert.equal((await next(sub)).value['value'], 99);
  assert.equal(sub.stats.connects, 2);
});

test('reconnect: after the server restarts (same search port, new TCP port) monitors go on', async (t0) => {
  const first = new CaServer({ host: '127.0.0.1', tcpPort: 0, udpPort: 0 });
  await first.listen();
  const udpPort = first.udpPort;
  const pv = SharedPV.mailbox().open(ntscalar.type('int'), { value: 1 });
  first.addPV('RS:n', pv);
  const client = clientFor(t0, udpPort);
  const sub = client.monitor('RS:n');
  t0.after(() => sub.close());
  assert.equal((await next(sub)).value['value'], 1);

  const down = once<Error>(sub, 'disconnect');
  await first.close();
  await down;
  const second = await startCa(t0, { udpPort });
  const pv2 = SharedPV.mailbox().open(ntscalar.type('int'), { value: 2 });
  second.addPV('RS:n', pv2);
  await once(sub, 'connect');
  assert.equal((await next(sub)).value['value'], 2);
  pv2.post({ value: 3 });
  assert.equal((await next(sub)).value['value'], 3);
  assert.equal(sub.stats.connects, 2);
  assert.equal((await client.get('RS:n')).value['value'], 3);
});

test('a PV closed on the server disconnects its channel until it opens again', async (t0) => {
  const { client, p } = await setup(t0);
  const sub = client.monitor('CA:text');
  t0.after(() => sub.close());
  assert.equal((await next(sub)).value['value'], 'hello');
  const gone = once<Error>(sub, 'disconnect');
  p.text.close();
  assert.match((await gone).message, /deleted on the server/);
  const back = once(sub, 'connect');
  p.text.open(ntscalar.type('string'), { value: 'again' });
  await back;
  assert.equal((await next(sub)).value['value'], 'again');
});

test('closing the client ends its monitors: the iterator finishes', async (t0) => {
  const { server } = await setup(t0);
  const client = clientFor(t0, server.udpPort);
  const sub = client.monitor('CA:x');
  const values: unknown[] = [];
  const loop = (async () => {
    for await (const u of sub) {
      values.push(u.value['value']);
      client.close();
    }
  })();
  await loop;
  assert.deepEqual(values, [1.5]);
  assert.throws(() => client.monitor('CA:x'), /CA client is closed/);
});
