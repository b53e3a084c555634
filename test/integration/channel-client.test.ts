// ChannelClient against the real channel server (port 0): writer -> reader round trips with the
// writer marks, gating while no reader exists (pause and drop), `wait` back-pressure through
// write()/drained(), each reader policy as a reader sees it, the fill rate and private keys.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ChannelClient, type ChannelMessage, type ChannelReader, type ChannelWriter } from '../../src/channels/index.js';
import { t } from '../../src/pvdata/types.js';
import { startChannelServer } from '../helpers/channel-peer.js';

const sampleT = t.struct({ value: t.long, label: t.string }, 'test:Sample');

async function setup(t0: import('node:test').TestContext, names: string[] = ['w', 'r']) {
  const server = await startChannelServer();
  const clients = await Promise.all(
    names.map((name) => ChannelClient.connect({ address: `127.0.0.1:${server.port}`, name, timeoutMs: 5000 })),
  );
  t0.after(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await server.close();
  });
  return { server, clients };
}

async function collect(reader: ChannelReader): Promise<ChannelMessage[]> {
  const out: ChannelMessage[] = [];
  for await (const m of reader) out.push(m);
  return out;
}

function values(ms: ChannelMessage[]): number[] {
  return ms.map((m) => Number(m.value['value']));
}

async function writeAll(w: ChannelWriter, from: number, to: number): Promise<void> {
  for (let i = from; i <= to; i++) if (!w.write({ value: BigInt(i), label: `v${i}` })) await w.drained();
}

test('a writer streams to a reader: values in order, with writer id and sequence; the end mark ends the reader', async (t0) => {
  const { clients } = await setup(t0);
  const [w, r] = clients as [ChannelClient, ChannelClient];
  await w.createChannel('round', { type: sampleT });
  const writer = await w.openWriter('round');
  assert.equal(writer.active, false);
  const reader = r.subscribe('round', { queueSize: 100, policy: 'wait' });
  const got = collect(reader);
  await writer.whenActive();
  await writeAll(writer, 1, 50);
  await writer.end();
  const ms = await got;
  assert.deepEqual(
    values(ms),
    Array.from({ length: 50 }, (_, i) => i + 1),
  );
  assert.deepEqual(
    ms.map((m) => m.writer.seq),
    Array.from({ length: 50 }, (_, i) => i + 1),
  );
  assert.ok(ms.every((m) => m.writer.id === 'w' && !m.writer.end && m.value['label'] === `v${m.value['value']}`));
  assert.equal(reader.stats.ends, 1);
  assert.equal(reader.stats.gaps, 0);
  assert.equal(writer.stats.acknowledged, 50);
  assert.deepEqual(
    reader.type?.fields.map((f) => f.name),
    ['value', 'label'],
  );
});

test('pause: write() is false and drained() waits while no reader; drop: values are dropped and counted', async (t0) => {
  const { clients } = await setup(t0);
  const [w, r] = clients as [ChannelClient, ChannelClient];
  await w.createChannel('gated', { type: sampleT });
  await w.createChannel('dropping', { type: sampleT });
  const paused = await w.openWriter('gated', { whenInactive: 'pause' });
  assert.equal(paused.write({ value: 1n }), false);
  let drained = false;
  const d = paused.drained().then(() => (drained = true));
  await new Promise((res) => setImmediate(res));
  assert.equal(drained, false);
  const reader = r.subscribe('gated', { policy: 'wait' });
  await d;
  assert.equal(paused.active, true);
  const first = await reader.next();
  assert.equal(first.done, false);
  assert.equal((first.value as ChannelMessage).value['value'], 1n);

  const dropper = await w.openWriter('dropping', { whenInactive: 'drop' });
  for (let i = 1; i <= 5; i++) assert.equal(dropper.write({ value: BigInt(i) }), true);
  assert.equal(dropper.stats.dropped, 5);
  assert.equal(dropper.stats.written, 0);
  const r2 = r.subscribe('dropping', { policy: 'wait' });
  await dropper.whenActive();
  dropper.write({ value: 6n });
  const m = await r2.next();
  assert.equal((m.value as ChannelMessage).value['value'], 6n);
  // The last reader goes: the writer is told, and pauses / drops again.
  const inactive = new Promise((res) => dropper.once('inactive', res));
  r2.close();
  await inactive;
  assert.equal(dropper.write({ value: 7n }), true);
  assert.equal(dropper.stats.dropped, 6);
});

test('wait: a slow reader holds the writer back through write()/drained(), and loses nothing', async (t0) => {
  const { clients } = await setup(t0);
  const [w, r] = clients as [ChannelClient, ChannelClient];
  await w.createChannel('slow', { type: sampleT });
  const writer = await w.openWriter('slow', { window: 4 });
  const reader = r.subscribe('slow', { queueSize: 2, policy: 'wait' });
  await writer.whenActive();
  let falses = 0;
  const writing = (async () => {
    for (let i = 1; i <= 40; i++) {
      if (!writer.write({ value: BigInt(i) })) {
        falses++;
        await writer.drained();
      }
    }
    await writer.end();
  })();
  const got: number[] = [];
  for await (const m of reader) {
    got.push(Number(m.value['value']));
    // Consume slowly: the writer must wait for room rather than the server queueing without bound.
    if (got.length % 5 === 0) await new Promise((res) => setTimeout(res, 5));
  }
  await writing;
  assert.deepEqual(
    got,
    Array.from({ length: 40 }, (_, i) => i + 1),
  );
  assert.ok(falses > 0, 'write() returned false at least once');
  const info = await w.channelInfo('slow');
  assert.equal(info.messages >= 40, true);
});

test('each overflow policy as a reader that starts reading late sees it; raise fails the writer with the server code', async (t0) => {
  const { clients } = await setup(t0);
  const [w, r] = clients as [ChannelClient, ChannelClient];
  const results = new Map<string, number[]>();
  for (const policy of ['ring', 'clear', 'skip'] as const) {
    const name = `pol-${policy}`;
    await w.createChannel(name, { type: sampleT });
    const writer = await w.openWriter(name, { whenInactive: 'pause' });
    const reader = r.subscribe(name, { queueSize: 4, policy });
    await writer.whenActive();
    await writeAll(writer, 1, 18);
    await writer.end();
    // Only now read: the server's buffer did what the policy says.
    results.set(policy, values(await collect(reader)));
  }
  // The reader's pipeline took a first few values before its server buffer (queue 4) filled: 1..p.
  const prefix = (v: number[]) => v.findIndex((x, i) => x !== i + 1);
  const ring = results.get('ring') as number[];
  const clear = results.get('clear') as number[];
  const skip = results.get('skip') as number[];
  for (const v of [ring, clear]) assert.ok(prefix(v) >= 1, `a first value came at once: ${v.join(',')}`);
  // ring keeps the newest four.
  const p1 = prefix(ring);
  assert.deepEqual(ring.slice(p1), [15, 16, 17, 18], `ring: ${ring.join(',')}`);
  // clear empties the full buffer when one more comes: what remains started at the last clear.
  const p2 = prefix(clear);
  const lastClear = p2 + 1 + Math.floor((18 - (p2 + 1)) / 4) * 4;
  assert.deepEqual(
    clear.slice(p2),
    Array.from({ length: 19 - lastClear }, (_, i) => lastClear + i),
    `clear: ${clear.join(',')}`,
  );
  // skip keeps what found room (the pipeline's few, then the buffer's four) and drops the rest;
  // the end mark (with the writer's last value, 18) squashes into the newest entry.
  const kept = skip.slice(0, -1);
  assert.deepEqual(
    kept,
    Array.from({ length: kept.length }, (_, i) => i + 1),
    `skip: ${skip.join(',')}`,
  );
  assert.ok(kept.length <= 8 && skip.at(-1) === 18, `skip: ${skip.join(',')}`);

  await w.createChannel('pol-raise', { type: sampleT });
  const writer = await w.openWriter('pol-raise');
  const reader = r.subscribe('pol-raise', { queueSize: 2, policy: 'raise' });
  await writer.whenActive();
  const seen: Error[] = [];
  writer.on('error', (e: Error) => seen.push(e));
  let failed: (Error & { serverCode?: string }) | null = null;
  try {
    await writeAll(writer, 1, 40);
    await writer.end();
  } catch (err) {
    failed = err as Error & { serverCode?: string };
  }
  assert.ok(failed, 'the writer failed');
  assert.equal(failed.serverCode, 'ERR_OVERFLOW');
  assert.equal(seen.length, 1);
  reader.close();
});

test('fill rate: the reader gets every n-th value and the last one, the rest counted as gaps in the sequence', async (t0) => {
  const { clients } = await setup(t0);
  const [w, r] = clients as [ChannelClient, ChannelClient];
  await w.createChannel('fill', { type: sampleT });
  const writer = await w.openWriter('fill');
  const reader = r.subscribe('fill', { queueSize: 100, policy: 'wait', fillRate: 5 });
  await writer.whenActive();
  const got = collect(reader);
  await writeAll(writer, 1, 20);
  await writer.end();
  const ms = await got;
  // Every 5th from the first, then the writer's last value with its end mark.
  assert.deepEqual(values(ms), [1, 6, 11, 16, 20]);
  assert.deepEqual(
    ms.map((m) => m.writer.end),
    [false, false, false, false, true],
  );
  assert.equal(reader.stats.gaps, 15);
});

test('a private channel needs its key to read and to write; a wrong key fails with the server code', async (t0) => {
  const { clients } = await setup(t0, ['owner', 'other']);
  const [owner, other] = clients as [ChannelClient, ChannelClient];
  await assert.rejects(owner.createChannel('secret', { public: false }), /needs a key/);
  await owner.createChannel('secret', { type: sampleT, public: false, key: 'k1', multiWriter: true });
  assert.deepEqual(
    (await other.listChannels()).map((c) => c.name),
    [],
  );
  const bad = other.subscribe('secret', { key: 'nope' });
  await assert.rejects(bad.next(), (e: Error) => /key/i.test(e.message) && !e.message.includes('k1'));
  await assert.rejects(
    other.openWriter('secret', { key: 'nope' }),
    (e: Error & { serverCode?: string }) => e.serverCode !== '' && !e.message.includes('k1'),
  );
  const reader = other.subscribe('secret', { key: 'k1', policy: 'wait' });
  const writer = await owner.openWriter('secret', { key: 'k1' });
  await writer.whenActive();
  writer.write({ value: 42n });
  const m = await reader.next();
  assert.equal((m.value as ChannelMessage).value['value'], 42n);
  await writer.end();
});
