// The channel server over real pvAccess on 127.0.0.1: registration, channel administration and
// its errors, private keys, temporary channels, owner leave and persist, writers (ids, sequence
// numbers, order, end mark) and the gating messages.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { encodeChannelType, WRITER_FIELD, type ChannelDetails, type ChannelSummary } from '../../src/channels/protocol.js';
import type { ChannelServer } from '../../src/channels/server.js';
import { t } from '../../src/pvdata/types.js';
import type { PVStructure } from '../../src/pvdata/values.js';
import { AccessPolicy, parseAcf } from '../../src/access/index.js';
import { ChannelPeer, codeOf, startChannelServer } from '../helpers/channel-peer.js';
import { clientFor } from '../helpers/net.js';

const valueType = t.struct([['value', t.double]], 'test:Value');
const typeBytes = encodeChannelType(valueType);

async function setup(t: TestContext, names: string[], options = {}) {
  const server = await startChannelServer(options);
  const peers = [] as ChannelPeer[];
  for (const n of names) {
    const p = new ChannelPeer(server);
    await p.register(n);
    peers.push(p);
  }
  t.after(async () => {
    for (const p of peers) p.close();
    await server.close();
  });
  return { server, peers };
}

function writer(v: PVStructure): { id: string; seq: bigint; end: boolean } {
  return v[WRITER_FIELD] as { id: string; seq: bigint; end: boolean };
}

/** Resolves once the server counts `n` readers on `name` (the monitor is in place). */
async function readers(server: ChannelServer, name: string, n: number): Promise<void> {
  const ch = server.channels.get(name);
  assert.ok(ch, `channel ${name}`);
  const until = Date.now() + 5000;
  while (ch.readers.size !== n) {
    if (Date.now() > until) assert.fail(`${name} has ${ch.readers.size} readers, not ${n}`);
    await new Promise((r) => setImmediate(r));
  }
}

test('hello registers a name once; a second hello or a taken name fails with ERR_EXISTS', async (t) => {
  const { server, peers } = await setup(t, ['alice']);
  const [alice] = peers as [ChannelPeer];
  assert.equal(await codeOf(alice.call('hello', 'again', [], [], [])), 'ERR_EXISTS');
  const bob = new ChannelPeer(server);
  t.after(() => bob.close());
  assert.equal(await codeOf(bob.call('hello', 'alice', [], [], [])), 'ERR_EXISTS');
  assert.equal(await codeOf(bob.call('hello', 'bad name!', [], [], [])), 'ERR_INVALID_ARGUMENT');
  const list = (await bob.call('clients')) as { name: string }[];
  assert.deepEqual(
    list.map((c) => c.name),
    ['alice'],
  );
});

test('a client that does not monitor its inbox in time is dropped', async (t) => {
  const server = await startChannelServer({ helloTimeoutMs: 100 });
  const p = new ChannelPeer(server);
  t.after(async () => {
    p.close();
    await server.close();
  });
  await p.call('hello', 'late', [], [], []);
  assert.ok(server.clients.has('late'));
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(server.clients.has('late'), false);
  // Dropped: the name is free again.
  const q = new ChannelPeer(server);
  t.after(() => q.close());
  await q.register('late');
});

test('create, list, info and delete channels; errors name the cause and never the key', async (t) => {
  const { peers } = await setup(t, ['owner', 'other']);
  const [owner, other] = peers as [ChannelPeer, ChannelPeer];
  const made = (await owner.call('createChannel', { name: 'pub', typeBytes })) as { name: string; controlKey: string };
  assert.equal(made.name, 'pub');
  assert.match(made.controlKey, /^[0-9a-f]{32}$/);
  await owner.call('createChannel', { name: 'priv', public: false, key: 'sesame' });
  assert.equal(await codeOf(owner.call('createChannel', { name: 'pub' })), 'ERR_EXISTS');
  assert.equal(await codeOf(owner.call('createChannel', { name: 'p2', public: false })), 'ERR_INVALID_ARGUMENT');
  assert.equal(await codeOf(owner.call('createChannel', { name: 'p3', lifetime: -1 })), 'ERR_INVALID_ARGUMENT');
  assert.equal(await codeOf(owner.call('createChannel', 'not options')), 'ERR_INVALID_ARGUMENT');

  const seenByOther = ((await other.call('listChannels')) as ChannelSummary[]).map((c) => c.name);
  assert.deepEqual(seenByOther, ['pub']);
  const seenByOwner = ((await owner.call('listChannels')) as ChannelSummary[]).map((c) => c.name).sort();
  assert.deepEqual(seenByOwner, ['priv', 'pub']);

  const info = (await other.call('channelInfo', 'pub')) as ChannelDetails;
  assert.equal(info.owner, 'owner');
  assert.equal(info.typed, true);
  assert.match(info.type, /double value/);
  assert.equal(info.expiresIn, -1);

  assert.equal(await codeOf(other.call('channelInfo', 'nope')), 'ERR_CHANNEL_NOT_FOUND');
  assert.equal(await codeOf(other.call('channelInfo', 'priv')), 'ERR_ACCESS_DENIED');
  let msg = '';
  try {
    await other.call('channelInfo', 'priv', 'wrong-guess');
  } catch (err) {
    msg = (err as Error).message;
  }
  assert.match(msg, /wrong key for channel priv/);
  assert.doesNotMatch(msg, /wrong-guess|sesame/);
  assert.equal(((await other.call('channelInfo', 'priv', 'sesame')) as ChannelDetails).public, false);

  assert.equal(await codeOf(other.call('deleteChannel', 'pub', 'guess')), 'ERR_ACCESS_DENIED');
  await other.call('deleteChannel', 'pub', made.controlKey); // the control key is what counts
  assert.equal(await codeOf(other.call('channelInfo', 'pub')), 'ERR_CHANNEL_NOT_FOUND');
});

test('private channel: reading and writing need the key in record[key=…]', async (t) => {
  const { server, peers } = await setup(t, ['owner', 'reader']);
  const [owner, reader] = peers as [ChannelPeer, ChannelPeer];
  await owner.call('createChannel', { name: 'secret', public: false, key: 'k1', typeBytes });
  await owner.call('openWriter', 'secret', 'k1', null);
  await assert.rejects(owner.client.put('secret', { value: 1 }), /give its key/);
  await assert.rejects(owner.client.put('secret', { value: 1 }, { request: 'record[key=k2]' }), /wrong key/);
  await assert.rejects(reader.client.get('secret'), /give its key/);
  const denied = reader.client.monitor('secret', { request: 'record[key=nope,queueSize=8,policy=ring]' });
  await assert.rejects(denied.next(), /wrong key for channel secret/);
  denied.close();
  const sub = reader.client.monitor('secret', { request: 'record[key=k1,queueSize=8,policy=ring]' });
  t.after(() => sub.close());
  await sub.next();
  await readers(server, 'secret', 1);
  await owner.client.put('secret', { value: 7 }, { request: 'record[key=k1]' });
  const u = (await sub.next()).value.value;
  assert.equal(u['value'], 7);
  assert.equal(writer(u).id, 'owner');
});

test('temporary channels expire', async (t) => {
  const { server, peers } = await setup(t, ['owner']);
  const [owner] = peers as [ChannelPeer];
  await owner.call('createChannel', { name: 'brief', lifetime: 0.2 });
  const info = (await owner.call('channelInfo', 'brief')) as ChannelDetails;
  assert.ok(info.expiresIn >= 0 && info.expiresIn <= 1);
  await new Promise((r) => setTimeout(r, 350));
  assert.equal(server.channels.has('brief'), false);
  assert.equal(await codeOf(owner.call('channelInfo', 'brief')), 'ERR_CHANNEL_NOT_FOUND');
});

test('the owner leaving removes its channels unless they persist; its name is free again', async (t) => {
  const { server, peers } = await setup(t, ['watcher']);
  const [watcher] = peers as [ChannelPeer];
  const owner = new ChannelPeer(server);
  await owner.register('owner');
  await owner.call('createChannel', { name: 'goes', typeBytes });
  await owner.call('createChannel', { name: 'stays', persist: true, typeBytes });
  const sub = watcher.client.monitor('goes', { request: 'record[queueSize=4]' });
  t.after(() => sub.close());
  await sub.next();
  const ended = new Promise<void>((resolve) => sub.once('disconnect', () => resolve()));
  owner.close();
  await ended;
  const names = ((await watcher.call('listChannels')) as ChannelSummary[]).map((c) => c.name);
  assert.deepEqual(names, ['stays']);
  assert.equal(server.clients.has('owner'), false);
});

test('writers: ids, per-writer sequence numbers and order, single-writer refusal, end mark', async (t) => {
  const { server, peers } = await setup(t, ['w1', 'w2', 'r']);
  const [w1, w2, r] = peers as [ChannelPeer, ChannelPeer, ChannelPeer];
  await w1.call('createChannel', { name: 'multi', multiWriter: true, typeBytes });
  await w1.call('createChannel', { name: 'single', typeBytes });
  assert.equal(await codeOf(w2.call('openWriter', 'single', null, null)), 'ERR_ACCESS_DENIED');
  await assert.rejects(w2.client.put('single', { value: 1 }), /single writer/);
  const sub = r.client.monitor('multi', { request: 'record[queueSize=100,policy=ring]' });
  t.after(() => sub.close());
  await sub.next();
  await readers(server, 'multi', 1);
  assert.deepEqual(await w1.call('openWriter', 'multi', null, null), { writerId: 'w1', active: true });
  await w2.call('openWriter', 'multi', null, null);
  const n = 8;
  await Promise.all([
    ...Array.from({ length: n }, (_, i) => w1.client.put('multi', { value: i })),
    ...Array.from({ length: n }, (_, i) => w2.client.put('multi', { value: 100 + i })),
  ]);
  await w1.call('closeWriter', 'multi');
  const seen = new Map<string, { seq: bigint; value: number; end: boolean }[]>();
  for (let i = 0; i < 2 * n + 1; i++) {
    const v = (await sub.next()).value.value;
    const w = writer(v);
    const list = seen.get(w.id) ?? [];
    list.push({ seq: w.seq, value: v['value'] as number, end: w.end });
    seen.set(w.id, list);
  }
  const one = seen.get('w1') ?? [];
  const two = seen.get('w2') ?? [];
  assert.deepEqual(
    one.slice(0, n).map((x) => x.value),
    Array.from({ length: n }, (_, i) => i),
  );
  assert.deepEqual(
    one.map((x) => x.seq),
    Array.from({ length: n + 1 }, (_, i) => BigInt(i + 1)),
  );
  assert.deepEqual(one[n], { seq: BigInt(n + 1), value: n - 1, end: true });
  assert.deepEqual(
    two.map((x) => x.value),
    Array.from({ length: n }, (_, i) => 100 + i),
  );
  const info = (await r.call('channelInfo', 'multi')) as ChannelDetails;
  assert.equal(info.messages, 2 * n + 1);
  assert.deepEqual(
    info.writerList.map((w) => w.id),
    ['w2'],
  );
});

test('gating: writers are told when their channel gets its first reader and loses its last', async (t) => {
  const { server, peers } = await setup(t, ['w', 'r']);
  const [w, r] = peers as [ChannelPeer, ChannelPeer];
  await w.call('createChannel', { name: 'a', typeBytes });
  await w.call('createChannel', { name: 'b', typeBytes });
  assert.deepEqual(await w.call('openWriter', 'a', null, null), { writerId: 'w', active: false });
  await w.call('openWriter', 'b', null, null);
  const s1 = r.client.monitor('a', { request: 'record[queueSize=4]' });
  let m = await w.next();
  assert.equal(m['kind'], 'active');
  assert.deepEqual(m['active'], ['a']);
  const s2 = r.client.monitor('b', { request: 'record[queueSize=4]' });
  m = await w.next();
  assert.deepEqual(m['active'], ['a', 'b']);
  const s3 = r.client.monitor('a', { request: 'record[queueSize=4]' });
  await s3.next();
  await readers(server, 'a', 2); // a second reader: no message
  s1.close();
  s3.close();
  m = await w.next();
  assert.deepEqual(m['active'], ['b']);
  s2.close();
  m = await w.next();
  assert.deepEqual(m['active'], []);
});

test('a plain pvAccess client writes to a multi-writer channel under its address', async (t) => {
  const { server, peers } = await setup(t, ['owner']);
  const [owner] = peers as [ChannelPeer];
  await owner.call('createChannel', { name: 'open', multiWriter: true, typeBytes });
  const sub = owner.client.monitor('open', { request: 'record[queueSize=8,policy=ring]' });
  t.after(() => sub.close());
  await sub.next();
  await readers(server, 'open', 1);
  const plain = clientFor(server.port);
  t.after(() => plain.close());
  await plain.put('open', { value: 3 });
  const v = (await sub.next()).value.value;
  assert.equal(v['value'], 3);
  assert.match(writer(v).id, /^127\.0\.0\.1:\d+$/);
  assert.equal(writer(v).seq, 1n);
  // Its connection closed: the server forgets the writer (memory does not grow per connection).
  const ch = server.channels.get('open');
  assert.ok(ch && ch.writers.has(writer(v).id));
  plain.close();
  const until = Date.now() + 5000;
  while (ch.writers.has(writer(v).id)) {
    if (Date.now() > until) assert.fail('writer state kept after its connection closed');
    await new Promise((r) => setImmediate(r));
  }
});

test('the access rules of the pvAccess server apply to channels', async (t) => {
  const acf = 'ASG(DEFAULT) {\n  RULE(1, READ)\n  RULE(1, RPC)\n}\n';
  const access = new AccessPolicy({ acf: parseAcf(acf, 'test.acf'), log: () => {} });
  const { peers } = await setup(t, ['owner'], { access });
  const [owner] = peers as [ChannelPeer];
  await owner.call('createChannel', { name: 'ro', typeBytes });
  await owner.call('openWriter', 'ro', null, null);
  await assert.rejects(owner.client.put('ro', { value: 1 }), /access denied: .* may not put to ro/);
  assert.equal((await owner.client.get('ro')).value['value'], 0);
});
