// PutSession: one put operation, INIT once, many puts in flight; replies settle the puts in the
// order sent (a server answers in order when its put handler completes in order, as here); a
// refused put rejects; a closed session fails its puts in flight.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RemoteError } from '../../src/errors.js';
import { SharedPV } from '../../src/pv/shared-pv.js';
import { t } from '../../src/pvdata/types.js';
import { clientFor, startServer } from '../helpers/net.js';

const valueT = t.struct({ value: t.long, note: t.string }, 'test:Value');

test('many pipelined puts on one operation arrive in order, each answered', async (t0) => {
  const { server, port } = await startServer();
  const seen: bigint[] = [];
  const pv = new SharedPV({
    onPut: async (p, put) => {
      const v = put.value['value'] as bigint;
      await new Promise((r) => setImmediate(r));
      seen.push(v);
      if (v === 13n) throw new Error('13 is refused');
      p.post(put.value);
    },
  }).open(valueT, { value: 0n, note: '' });
  server.addPV('TST:sink', pv);
  const client = clientFor(port);
  t0.after(async () => {
    client.close();
    await server.close();
  });
  const session = client.putSession('TST:sink');
  const type = await session.open(5000);
  assert.equal(type.id, 'test:Value');
  const putsBefore = server.stats.puts;
  const results = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => session.put({ value: BigInt(i) })));
  assert.equal(session.inFlight, 0);
  assert.equal(server.stats.puts - putsBefore, 50);
  results.forEach((r, i) => {
    if (i === 13)
      assert.ok(r.status === 'rejected' && r.reason instanceof RemoteError && /13 is refused/.test((r.reason as Error).message));
    else assert.equal(r.status, 'fulfilled', `put ${i}`);
  });
  assert.equal(seen.length, 50);
  assert.equal((await client.get('TST:sink')).value['value'], 49n);
  // Fields not given keep the value's previous content: the note stays as put once.
  await session.put({ value: 100n, note: 'hello' });
  await session.put({ value: 101n });
  const after = (await client.get('TST:sink')).value;
  assert.deepEqual([after['value'], after['note']], [101n, 'hello']);
});

test('close fails the puts in flight; a read-only PV refuses each put', async (t0) => {
  const { server, port } = await startServer();
  let release: () => void = () => {};
  const held = new Promise<void>((r) => (release = r));
  server.addPV('TST:slow', new SharedPV({ onPut: () => held }).open(valueT, { value: 0n, note: '' }));
  server.addPV('TST:ro', SharedPV.readonly().open(valueT, { value: 0n, note: '' }));
  const client = clientFor(port);
  t0.after(async () => {
    release();
    client.close();
    await server.close();
  });
  const slow = client.putSession('TST:slow');
  await slow.open(5000);
  const pending = [slow.put({ value: 1n }), slow.put({ value: 2n })];
  assert.equal(slow.inFlight, 2);
  slow.close();
  for (const p of pending) await assert.rejects(p, /closed/);
  await assert.rejects(slow.put({ value: 3n }), /closed/);
  const ro = client.putSession('TST:ro');
  await assert.rejects(ro.put({ value: 1n }), (e: unknown) => e instanceof RemoteError && /read-only/.test(e.message));
  await assert.rejects(ro.put({ value: 2n }), (e: unknown) => e instanceof RemoteError && /read-only/.test(e.message));
});
