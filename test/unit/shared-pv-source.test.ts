// SharedPV seen through the Source interface, as the servers see it: puts and RPCs reach its
// handlers, a PV without them refuses, and subscribers get the changed marks of each post.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SharedPV } from '../../src/pv/shared-pv.js';
import type { PVSubscriber, Source } from '../../src/pv/source.js';
import { BitSet } from '../../src/pvdata/bitset.js';
import { bitOf } from '../../src/pvdata/field-numbering.js';
import { ntscalar } from '../../src/pvdata/nt/index.js';
import type { PVStructure } from '../../src/pvdata/values.js';

const peer = { peer: '127.0.0.1:1', account: 'tester', channel: 'x' };

test('puts and RPCs go to the handlers; a readonly SharedPV accepts neither', async () => {
  const type = ntscalar.type('double');
  const mailbox: Source = SharedPV.mailbox({ onRpc: (pv, args) => ({ echo: args.value, at: pv.value?.['value'] ?? null }) }).open(type, {
    value: 1,
  });
  assert.equal(mailbox.acceptsPut, true);
  assert.equal(mailbox.acceptsRpc, true);
  const changed = BitSet.of(bitOf(type, 'value'));
  await mailbox.handlePut({ ...peer, value: { ...(mailbox.value as PVStructure), value: 2 }, changed, options: {} });
  assert.equal(mailbox.value?.['value'], 2);
  assert.equal(mailbox.posts, 1);
  assert.deepEqual(await mailbox.handleRpc({ type: null, value: { a: 1 } }, peer), { echo: { a: 1 }, at: 2 });

  const readonly: Source = SharedPV.readonly().open(type, { value: 1 });
  assert.equal(readonly.acceptsPut, false);
  assert.equal(readonly.acceptsRpc, false);
  assert.throws(() => readonly.handlePut({ ...peer, value: {}, changed, options: {} }), /read-only/);
  const untyped = { onPut: () => assert.fail('a readonly PV took a put handler') } as Parameters<typeof SharedPV.readonly>[0];
  assert.equal(SharedPV.readonly(untyped).acceptsPut, false);
});

test('subscribers get each post with its changed marks; close tells them and the close listeners', () => {
  const type = ntscalar.type('int');
  const pv = SharedPV.readonly().open(type, { value: 1 });
  const source: Source = pv;
  const got: { value: unknown; bits: number[] }[] = [];
  let closed = 0;
  const sub: PVSubscriber = {
    onPost: (v, c) => got.push({ value: v['value'], bits: [...c] }),
    onClose: () => closed++,
    hasRoom: () => got.length < 2,
  };
  const unsubscribe = source.subscribe(sub);
  let gone = 0;
  source.onClosed(() => gone++);
  assert.equal(pv.post({ value: 2 }), true);
  assert.equal(pv.post({ value: 3 }), false, 'the subscriber has no room left: the producer is told');
  assert.deepEqual(got, [
    { value: 2, bits: [bitOf(type, 'value')] },
    { value: 3, bits: [bitOf(type, 'value')] },
  ]);
  pv.close();
  assert.deepEqual([closed, gone, source.type, source.value], [1, 1, null, null]);
  unsubscribe();
});

test('post(value, { changed, overrun }) hands subscribers the given marks, by reference; without overrun, none', () => {
  const type = ntscalar.type('int');
  const pv = SharedPV.readonly().open(type, { value: 1 });
  const got: { value: unknown; changed: BitSet; overrun: BitSet | undefined }[] = [];
  pv.subscribe({ onPost: (v, changed, overrun) => got.push({ value: v['value'], changed, overrun }), onClose() {}, hasRoom: () => true });
  const valueBit = bitOf(type, 'value');
  const changed = BitSet.of(valueBit);
  const overrun = BitSet.of(valueBit);
  const next = { ...(pv.value as PVStructure), value: 7 };
  pv.post(next, { changed, overrun });
  assert.equal(pv.value, next, 'a complete value is kept as it is, not merged');
  assert.equal(got[0]?.changed, changed, 'changed is not rebuilt or copied');
  assert.equal(got[0]?.overrun, overrun);
  pv.post({ ...next, value: 8 }, { changed, overrun: new BitSet() });
  pv.post({ ...next, value: 9 }, { changed });
  assert.deepEqual(
    got.map((g) => [g.value, [...g.changed], g.overrun && [...g.overrun]]),
    [
      [7, [valueBit], [valueBit]],
      [8, [valueBit], undefined],
      [9, [valueBit], undefined],
    ],
    'an empty overrun is passed as none',
  );
  // postChanges still copies its set: the caller may reuse it.
  pv.postChanges({ ...next, value: 10 }, changed);
  assert.notEqual(got[3]?.changed, changed);
  assert.deepEqual([...(got[3]?.changed ?? [])], [valueBit]);
});

test('SharedPV.whenSubscribers: true once the n-th subscriber came (distributor members count), false when aborted first', async () => {
  const pv = new SharedPV();
  const sub = { onPost() {}, onClose() {}, hasRoom: () => true };
  const two = pv.whenSubscribers(2, new AbortController().signal);
  let done = false;
  void two.then(() => (done = true));
  pv.subscribe(sub);
  await Promise.resolve();
  assert.equal(done, false);
  pv.subscribe({ ...sub }, { group: 'g', set: 'default', trigger: 'uniqueId', updates: 1, mode: 'one' });
  assert.equal(await two, true);
  const stop = new AbortController();
  const three = pv.whenSubscribers(3, stop.signal);
  stop.abort();
  assert.equal(await three, false);
});
