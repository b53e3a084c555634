// Reader buffers of the channel server end to end: `wait` holds the writer's put until the reader
// reads, `raise` fails the put, the fill rate keeps every n-th value, and a reader that never
// reads costs the server its buffer, not the stream.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { encodeChannelType, type ChannelDetails } from '../../src/channels/protocol.js';
import type { ChannelServer } from '../../src/channels/server.js';
import { t as types } from '../../src/pvdata/types.js';
import { ChannelPeer, startChannelServer } from '../helpers/channel-peer.js';

const typeBytes = encodeChannelType(types.struct([['value', types.double]], 'test:Value'));
const blobBytes = encodeChannelType(types.struct([['data', types.array('ubyte')]], 'test:Blob'));

async function setup(t: TestContext, type = typeBytes) {
  const server = await startChannelServer();
  const w = new ChannelPeer(server);
  await w.register('writer');
  const r = new ChannelPeer(server);
  await r.register('reader');
  await w.call('createChannel', { name: 'ch', typeBytes: type });
  await w.call('openWriter', 'ch', null, null);
  t.after(async () => {
    w.close();
    r.close();
    await server.close();
  });
  return { server, w, r };
}

/** Resolves once `cond` holds (checked after each turn of the event loop), failing after 5 s. */
async function until(what: string, cond: () => boolean): Promise<void> {
  const end = Date.now() + 5000;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`not reached: ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}

function channel(server: ChannelServer) {
  const ch = server.channels.get('ch');
  assert.ok(ch);
  return ch;
}

test('wait: the writer put completes only when the reader reads; nothing is lost', async (t) => {
  const { server, w, r } = await setup(t);
  const sub = r.client.monitor('ch', { request: 'record[queueSize=2,policy=wait,pipeline=true]' });
  t.after(() => sub.close());
  await until('a reader', () => channel(server).readers.size === 1);
  // Put until a put is held back (the reader does not read: its credit and queue run out).
  let held: Promise<unknown> | null = null;
  let finished = false;
  let n = 0;
  while (n < 50) {
    n++;
    finished = false;
    const p = w.client.put('ch', { value: n }).then(() => (finished = true));
    await until(`put ${n} to complete or be held`, () => finished || channel(server).waitingForRoom > 0);
    if (!finished) {
      held = p;
      break;
    }
  }
  assert.ok(held, 'a put was held back');
  assert.ok(n < 20, `held after ${n} puts`);
  assert.equal(finished, false);
  // The reader reads: the held put goes through, and every value arrives in order.
  const values: number[] = [];
  while (values.length < n + 1) values.push((await sub.next()).value.value['value'] as number);
  await held;
  assert.deepEqual(
    values,
    Array.from({ length: n + 1 }, (_, i) => i),
  ); // 0: the value when it subscribed
  const info = (await r.call('channelInfo', 'ch')) as ChannelDetails;
  assert.equal(info.readerList[0]?.dropped, 0);
  assert.equal(info.readerList[0]?.policy, 'wait');
});

test('raise: a put into a full raise reader fails with a clear error; the next fits once it reads', async (t) => {
  const { server, w, r } = await setup(t);
  const sub = r.client.monitor('ch', { request: 'record[queueSize=1,policy=raise,pipeline=true]' });
  t.after(() => sub.close());
  await until('a reader', () => channel(server).readers.size === 1);
  let failure: Error | null = null;
  let n = 0;
  while (!failure && n < 20) {
    n++;
    await w.client.put('ch', { value: n }).catch((err: Error) => (failure = err));
  }
  assert.ok(failure, 'a put failed');
  assert.match((failure as Error).message, /full buffer \(policy raise\): value not posted/);
  assert.equal(channel(server).messages, n - 1);
  while (true) {
    const v = (await sub.next()).value.value['value'] as number;
    if (v === n - 1) break;
  }
  await w.client.put('ch', { value: 100 });
  assert.equal((await sub.next()).value.value['value'], 100);
});

test('fill rate: the reader gets every n-th value, the others are counted', async (t) => {
  const { server, w, r } = await setup(t);
  const sub = r.client.monitor('ch', { request: 'record[queueSize=100,policy=ring,fillRate=3]' });
  t.after(() => sub.close());
  await sub.next();
  await until('a reader', () => channel(server).readers.size === 1);
  for (let i = 1; i <= 9; i++) await w.client.put('ch', { value: i });
  await w.call('closeWriter', 'ch'); // the end mark passes the fill rate
  const got: number[] = [];
  for (;;) {
    const v = (await sub.next()).value.value;
    if ((v['sluiceWriter'] as { end: boolean }).end) break;
    got.push(v['value'] as number);
  }
  assert.deepEqual(got, [1, 4, 7]);
  const info = (await r.call('channelInfo', 'ch')) as ChannelDetails;
  assert.equal(info.readerList[0]?.fillSkipped, 6);
});

test('a reader that never reads costs its buffer only; the writer goes on', async (t) => {
  const { server, w, r } = await setup(t, blobBytes);
  const sub = r.client.monitor('ch', { request: 'record[queueSize=4,policy=ring,pipeline=true]' });
  t.after(() => sub.close());
  await until('a reader', () => channel(server).readers.size === 1);
  const data = new Uint8Array(64 * 1024);
  for (let i = 0; i < 200; i++) await w.client.put('ch', { data });
  assert.equal(channel(server).messages, 200);
  // 4 entries of 64 KiB, plus what the socket took: far below the 12.8 MB written.
  assert.ok(server.pva.stats.queuedBytes <= 5 * 70_000, `queued ${server.pva.stats.queuedBytes}`);
  const info = (await r.call('channelInfo', 'ch')) as ChannelDetails;
  assert.ok((info.readerList[0]?.dropped ?? 0) > 150, `dropped ${info.readerList[0]?.dropped}`);
});
