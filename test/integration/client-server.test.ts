// Our client against our server over loopback TCP: every operation, field selection,
// flow control, errors, and reconnect after a server restart.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RemoteError, SluiceError } from '../../src/errors.js';
import { SharedPV } from '../../src/pv/shared-pv.js';
import { PvaServer } from '../../src/pva/server/server.js';
import { bitOf } from '../../src/pvdata/field-numbering.js';
import { t } from '../../src/pvdata/types.js';
import { clientFor, once, startServer } from '../helpers/net.js';

const alarmT = t.struct({ severity: t.int, status: t.int, message: t.string }, 'alarm_t');
const scalarT = t.struct({ value: t.double, alarm: alarmT, count: t.long }, 'epics:nt/NTScalar:1.0');
const timeT = t.struct({ secondsPastEpoch: t.long, nanoseconds: t.int, userTag: t.int }, 'time_t');

async function setup(t0: import('node:test').TestContext) {
  const { server, port } = await startServer();
  const pv = SharedPV.mailbox().open(scalarT, { value: 1.5, count: 7n });
  server.addPV('TST:scalar', pv);
  const ro = SharedPV.readonly().open(scalarT, { value: 2 });
  server.addPV('TST:ro', ro);
  const client = clientFor(port);
  t0.after(async () => {
    client.close();
    await server.close();
  });
  return { server, port, pv, client };
}

test('get returns the whole value, or the selected fields', async (t0) => {
  const { client, port } = await setup(t0);
  const all = await client.get('TST:scalar');
  assert.equal(all.type.id, 'epics:nt/NTScalar:1.0');
  assert.deepEqual(all.value, { value: 1.5, alarm: { severity: 0, status: 0, message: '' }, count: 7n });
  const some = await client.get('TST:scalar', { request: 'field(value,alarm.severity)' });
  const notes: string[] = [];
  const c2 = clientFor(port, { onMessage: (text) => notes.push(text) });
  t0.after(() => c2.close());
  await c2.get('TST:scalar', { request: 'field(value,nosuch)' });
  assert.deepEqual(notes, ['TST:scalar has no field nosuch']);
  assert.deepEqual(some.value, { value: 1.5, alarm: { severity: 0 } });
  assert.deepEqual(
    some.type.fields.map((f) => f.name),
    ['value', 'alarm'],
  );
});

test('put changes only the fields given; put with a function sees the old value', async (t0) => {
  const { client, pv } = await setup(t0);
  await client.put('TST:scalar', { value: 4, alarm: { message: 'hi' } });
  assert.deepEqual(pv.value, { value: 4, alarm: { severity: 0, status: 0, message: 'hi' }, count: 7n });
  const r = await client.put('TST:scalar', (cur) => ({ value: (cur.value['value'] as number) * 2 }));
  assert.equal(r.previous?.['value'], 4);
  assert.equal((await client.get('TST:scalar')).value['value'], 8);
});

test('a mailbox stamps the time of a put that gives none', async (t0) => {
  const { server, client } = await setup(t0);
  const stamped = t.struct({ value: t.double, timeStamp: timeT });
  server.addPV('TST:stamped', SharedPV.mailbox().open(stamped, { value: 0 }));
  const before = BigInt(Math.floor(Date.now() / 1000));
  await client.put('TST:stamped', { value: 2 });
  const v = (await client.get('TST:stamped')).value;
  assert.ok(v['timeStamp'].secondsPastEpoch >= before);
  await client.put('TST:stamped', { value: 3, timeStamp: { secondsPastEpoch: 5n } });
  assert.equal((await client.get('TST:stamped')).value['timeStamp'].secondsPastEpoch, 5n);
});

test('put to a read-only PV fails with the server message', async (t0) => {
  const { client } = await setup(t0);
  await assert.rejects(client.put('TST:ro', { value: 1 }), (e: unknown) => e instanceof RemoteError && /read-only/.test(e.message));
});

test('a channel nobody has times out with its name in the error', async (t0) => {
  const { client } = await setup(t0);
  await assert.rejects(client.get('TST:nothere', { timeoutMs: 300 }), (e: unknown) => {
    return e instanceof SluiceError && e.code === 'ERR_TIMEOUT' && e.message.includes('TST:nothere');
  });
});

test('monitor: first the whole value, then what changed', async (t0) => {
  const { client, pv } = await setup(t0);
  const sub = client.monitor('TST:scalar');
  const first = await sub.next();
  assert.equal(first.done, false);
  assert.equal(first.value.value['value'], 1.5);
  assert.deepEqual(first.value.changed.toArray(), [0]);
  pv.post({ value: 10 });
  const second = (await sub.next()).value;
  assert.equal(second.value['value'], 10);
  assert.equal(second.value['count'], 7n, 'unchanged fields keep their value');
  assert.deepEqual(second.changed.toArray(), [bitOf(scalarT, 'value')]);
  pv.post({ alarm: { severity: 2 } });
  const third = (await sub.next()).value;
  assert.equal(third.value['alarm'].severity, 2);
  assert.notEqual(third.value, second.value, 'each update is a new object');
  assert.equal(second.value['alarm'].severity, 0, 'a previous update never changes');
  sub.close();
  assert.equal((await sub.next()).done, true);
});

test('monitor with a field selection only hears about its fields', async (t0) => {
  const { client, pv } = await setup(t0);
  const sub = client.monitor('TST:scalar', { request: 'field(value)' });
  assert.deepEqual((await sub.next()).value.value, { value: 1.5 });
  pv.post({ count: 99n }); // not selected: no update
  pv.post({ value: 3 });
  const u = (await sub.next()).value;
  assert.deepEqual(u.value, { value: 3 });
  assert.equal(sub.stats.received, 2);
  sub.close();
});

test('pipeline: the server never runs ahead of the credit the client returns', async (t0) => {
  const { client, pv, server } = await setup(t0);
  const sub = client.monitor('TST:scalar', { pipeline: true, queueSize: 4 });
  await sub.next(); // initial value
  // Post one update at a time and read each: with credit returned, nothing is lost.
  for (let i = 0; i < 50; i++) {
    pv.post({ value: i });
    const u = (await sub.next()).value;
    assert.equal(u.value['value'], i);
  }
  assert.equal(server.stats.overruns, 0);
  assert.equal(sub.stats.queueOverruns, 0);
  // Now post 20 at once while not reading: the server squashes into its queue of 4.
  for (let i = 100; i < 120; i++) pv.post({ value: i });
  const seen: number[] = [];
  for (;;) {
    const u = (await sub.next()).value;
    seen.push(u.value['value'] as number);
    if (u.value['value'] === 119) break;
  }
  assert.ok(seen.length <= 5, `at most queue+window updates arrive, got ${seen.length}`);
  assert.ok(server.stats.overruns >= 15, `overruns counted: ${server.stats.overruns}`);
  sub.close();
});

test('rpc: arguments in, result out; handler errors come back as errors', async (t0) => {
  const { server, client } = await setup(t0);
  server.addPV(
    'TST:rpc',
    new SharedPV({
      onRpc: (_pv, args) => {
        const q = (args.value as { query?: { a?: string; b?: string } }).query ?? {};
        if (q.a === 'fail') throw new Error('asked to fail');
        return { sum: Number(q.a) + Number(q.b) };
      },
    }),
  );
  const r = await client.rpc('TST:rpc', { query: { a: '2', b: '3' } });
  assert.deepEqual(r.value, { sum: 5 });
  await assert.rejects(client.rpc('TST:rpc', { query: { a: 'fail' } }), /asked to fail/);
});

test('info returns the type', async (t0) => {
  const { client } = await setup(t0);
  const type = await client.info('TST:scalar');
  assert.equal(type.kind, 'structure');
  assert.equal(type.kind === 'structure' && type.id, 'epics:nt/NTScalar:1.0');
});

test('closing a SharedPV ends its monitors after their last value; operations wait for a PV to open', async (t0) => {
  const { server, client } = await setup(t0);
  const late = new SharedPV();
  server.addPV('TST:late', late);
  const pending = client.get('TST:late');
  setImmediate(() => late.open(scalarT, { value: 42 }));
  assert.equal((await pending).value['value'], 42);
  const sub = client.monitor('TST:late');
  const ended = once(sub, 'end');
  await sub.next();
  late.post({ value: 43 });
  late.close();
  assert.equal((await sub.next()).value?.value['value'], 43, 'the last value first');
  assert.equal((await sub.next()).done, true, 'then the end');
  await ended;
  // Opened again, the PV serves new monitors.
  late.open(scalarT, { value: 44 });
  const again = client.monitor('TST:late');
  assert.equal((await again.next()).value.value['value'], 44);
  again.close();
});

test('removing a PV from the server and adding it again: a monitor resumes', async (t0) => {
  const { server, client } = await setup(t0);
  server.addPV('TST:again', SharedPV.readonly().open(scalarT, { value: 1 }));
  const sub = client.monitor('TST:again');
  assert.equal((await sub.next()).value.value['value'], 1);
  const disconnected = once(sub, 'disconnect');
  server.removePV('TST:again');
  await disconnected;
  server.addPV('TST:again', SharedPV.readonly().open(scalarT, { value: 2 }));
  assert.equal((await sub.next()).value.value['value'], 2);
  sub.close();
});

test('a monitor comes back after the server restarts on the same port', async (t0) => {
  const first = await startServer();
  const port = first.port;
  const pv1 = SharedPV.readonly().open(scalarT, { value: 1 });
  first.server.addPV('TST:restart', pv1);
  const client = clientFor(port);
  const sub = client.monitor('TST:restart');
  let second: PvaServer | null = null;
  t0.after(async () => {
    client.close();
    await second?.close();
  });
  assert.equal((await sub.next()).value.value['value'], 1);
  const disconnected = new Promise((resolve) => sub.once('disconnect', resolve));
  await first.server.close();
  await disconnected;
  second = new PvaServer({ host: '127.0.0.1', port, udpPort: false });
  const pv2 = SharedPV.readonly().open(scalarT, { value: 2 });
  second.addPV('TST:restart', pv2);
  await second.listen();
  const u = (await sub.next()).value;
  assert.equal(u.value['value'], 2);
  assert.equal(sub.stats.connects, 2);
  pv2.post({ value: 3 });
  assert.equal((await sub.next()).value.value['value'], 3);
  sub.close();
});

test('UDP search: a client with only an address list finds the server', async (t0) => {
  const env = { EPICS_PVAS_AUTO_BEACON_ADDR_LIST: 'NO', EPICS_PVAS_BEACON_ADDR_LIST: '' };
  const server = new PvaServer({ host: '127.0.0.1', port: 0, udpPort: 0, env });
  server.addPV('TST:udp', SharedPV.readonly().open(scalarT, { value: 5 }));
  await server.listen();
  const { PvaClient } = await import('../../src/pva/client/client.js');
  const client = new PvaClient({
    env: { EPICS_PVA_AUTO_ADDR_LIST: 'NO', EPICS_PVA_ADDR_LIST: `127.0.0.1:${server.udpPort}` },
    timeoutMs: 5000,
    beaconPort: false,
  });
  t0.after(async () => {
    client.close();
    await server.close();
  });
  assert.ok(server.udpPort > 0);
  assert.equal((await client.get('TST:udp')).value['value'], 5);
  assert.equal(client.channel('TST:udp').server, `127.0.0.1:${server.tcpPort}`);
});

test('a posted value that does not fit its type is dropped; the stream stays usable', async (t0) => {
  const { server, client } = await setup(t0);
  const pv = SharedPV.readonly().open(scalarT, { value: 1 });
  server.addPV('TST:bad', pv);
  const warnings: string[] = [];
  const onWarning = (w: Error): void => void warnings.push(w.message);
  process.on('warning', onWarning);
  t0.after(() => process.off('warning', onWarning));
  const sub = client.monitor('TST:bad');
  assert.equal((await sub.next()).value.value['value'], 1);
  pv.post({ value: 'not a number' as never });
  pv.post({ value: 2 });
  assert.equal((await sub.next()).value.value['value'], 2);
  assert.equal((await client.get('TST:scalar')).value['value'], 1.5);
  assert.ok(
    warnings.some((m) => /TST:bad: update not sent: cannot encode 'not a number' as double/.test(m)),
    warnings.join('\n'),
  );
  sub.close();
});

test('an RPC result that cannot be encoded comes back as an error', async (t0) => {
  const { server, client } = await setup(t0);
  server.addPV('TST:badrpc', new SharedPV({ onRpc: () => ({ type: t.struct({ x: t.int }), value: { x: 'nope' } }) }));
  await assert.rejects(client.rpc('TST:badrpc', {}), /RPC result of TST:badrpc cannot be sent: cannot encode 'nope' as int/);
  assert.equal((await client.get('TST:scalar')).value['value'], 1.5);
});

test("a field named '__proto__' is refused, in types built here and from the wire", async () => {
  assert.throws(() => t.struct({ ['__proto__']: t.int } as never), /__proto__/);
  const { ByteReader, ByteWriter } = await import('../../src/pvdata/wire.js');
  const { decodeType, TypeCache } = await import('../../src/pvdata/type-codec.js');
  const w = new ByteWriter();
  w.u8(0x80);
  w.string('');
  w.size(1);
  w.string('__proto__');
  w.u8(0x22);
  const r = new ByteReader(w.take());
  assert.throws(
    () => decodeType(r, new TypeCache()),
    (e: unknown) => e instanceof SluiceError && e.code === 'ERR_DECODE',
  );
});

test("the built-in 'server' PV is not answered to searches (clients reach it by address)", async (t0) => {
  const { client } = await setup(t0);
  await assert.rejects(client.get('server', { timeoutMs: 300 }), (e: unknown) => e instanceof SluiceError && e.code === 'ERR_TIMEOUT');
});
