// The collector's sorting cache: release order, gaps, late tiles, restarts, time-outs, capacity.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SortingCache, type Released } from '../../src/collector/sorting-cache.js';

function cache(producers: number[], o: { capacity?: number; offset?: number; timeoutMs?: number } = {}) {
  let now = 0;
  const c = new SortingCache<string>({
    capacity: o.capacity ?? 100,
    offset: o.offset ?? 1,
    timeoutMs: o.timeoutMs ?? 1000,
    producers,
    now: () => now,
  });
  return { c, advance: (ms: number) => (now += ms) };
}

const ids = (r: Released<string>[]): number[] => r.map((x) => x.id);

test('two producers out of order: released sorted, each as soon as its predecessors are in', () => {
  const { c } = cache([1, 2]);
  // Start: nothing is released until every producer has said where it is.
  c.add(1, 2, 'a2');
  assert.deepEqual(c.takeReady(), []);
  c.add(2, 1, 'b1');
  assert.deepEqual(ids(c.takeReady()), [1, 2]);
  c.add(2, 4, 'b4'); // 3 is missing: wait
  assert.deepEqual(c.takeReady(), []);
  c.add(1, 3, 'a3');
  assert.deepEqual(ids(c.takeReady()), [3, 4]);
  c.add(1, 5, 'a5'); // the next expected id: at once, without waiting for producer 2
  assert.deepEqual(ids(c.takeReady()), [5]);
  assert.equal(c.nCollected, 5);
  assert.equal(c.nMissed, 0);
  assert.equal(c.size, 0);
});

test('a gap no producer can fill any more is released as missed, without waiting', () => {
  const { c } = cache([1, 2]);
  c.add(1, 1, 'a1');
  c.add(2, 2, 'b2');
  assert.deepEqual(ids(c.takeReady()), [1, 2]);
  c.add(1, 5, 'a5'); // 3 and 4 missing
  assert.deepEqual(c.takeReady(), [], 'producer 2 may still send 3 or 4');
  c.add(2, 6, 'b6'); // both are past 5: 3 and 4 can no longer come
  const r = c.takeReady();
  assert.deepEqual(ids(r), [5, 6]);
  assert.deepEqual(
    r.map((x) => x.missed),
    [2, 0],
  );
  assert.equal(c.nMissed, 2);
});

test('a gap times out when a producer is silent', () => {
  const { c, advance } = cache([1, 2], { timeoutMs: 500 });
  c.add(1, 1, 'a1');
  c.add(2, 2, 'b2');
  c.takeReady();
  c.add(1, 4, 'a4');
  assert.deepEqual(c.takeReady(), []);
  assert.equal(c.nextDeadline(), 500);
  advance(499);
  assert.deepEqual(c.takeReady(), []);
  advance(1);
  const r = c.takeReady();
  assert.deepEqual(ids(r), [4]);
  assert.equal(r[0]!.missed, 1);
  assert.equal(c.nextDeadline(), null);
});

test('the capacity bounds what is held: the oldest goes when full', () => {
  const { c } = cache([1, 2], { capacity: 3 });
  c.add(1, 1, 'a1');
  c.add(2, 2, 'b2');
  c.takeReady();
  c.add(1, 5, 'a5');
  c.add(1, 7, 'a7');
  assert.deepEqual(c.takeReady(), []);
  c.add(1, 9, 'a9'); // 3 objects: full
  assert.deepEqual(ids(c.takeReady()), [5]);
  assert.equal(c.size, 2);
});

test('several objects per id (tiles): released together, a late tile of the last id still goes, older ones are rejected', () => {
  const { c } = cache([1, 2]);
  c.add(1, 1, 't1a');
  c.add(2, 1, 't1b');
  const r = c.takeReady();
  assert.deepEqual(
    r.map((x) => x.items),
    [['t1a', 't1b']],
  );
  c.add(1, 2, 't2a');
  assert.deepEqual(ids(c.takeReady()), [2]);
  assert.equal(c.add(2, 2, 't2b'), 'cached', 'a late tile of the frame just released');
  assert.deepEqual(
    c.takeReady().map((x) => x.items),
    [['t2b']],
  );
  c.add(1, 3, 't3a');
  c.takeReady();
  assert.equal(c.add(2, 2, 'late'), 'rejected', 'older than the last released id');
  assert.equal(c.nRejected, 1);
  assert.equal(c.nCollected, 5);
});

test('a producer whose ids go back on an empty cache restarts the stream; a straggler does not', () => {
  const { c } = cache([1]);
  for (const id of [10, 11, 12]) c.add(1, id, `x${id}`);
  assert.deepEqual(ids(c.takeReady()), [10, 11, 12]);
  assert.equal(c.add(1, 1, 'r1'), 'restart');
  assert.deepEqual(ids(c.takeReady()), [1]);
  assert.equal(c.lastId, 1);
  c.add(1, 2, 'r2');
  assert.deepEqual(ids(c.takeReady()), [2]);

  // Two producers: producer 1 restarts (5 → 3) on an empty cache, producer 2 follows.
  const two = cache([1, 2]).c;
  two.add(1, 5, 'a5');
  two.add(2, 6, 'b6');
  two.takeReady();
  assert.equal(two.add(1, 3, 'a3'), 'restart');
  assert.equal(two.add(2, 2, 'b2'), 'cached');
  assert.deepEqual(ids(two.takeReady()), [2, 3]);

  // A straggler: an old id from a producer whose own ids did not go back is rejected.
  const { c: three, advance } = cache([1, 2], { timeoutMs: 100 });
  three.add(1, 1, 'a1');
  three.add(2, 2, 'b2');
  three.add(1, 4, 'a4');
  assert.deepEqual(ids(three.takeReady()), [1, 2]);
  advance(100); // producer 2 is late with 3: 4 goes without it
  assert.deepEqual(ids(three.takeReady()), [4]);
  assert.equal(three.add(2, 3, 'b3'), 'rejected');
  assert.equal(three.nRejected, 1);
});

test('a restart is a new run: the ids of the new run before the first one that came are missed', () => {
  const { c, advance } = cache([1], { timeoutMs: 100 });
  assert.equal(c.nRuns, 0);
  for (let id = 1; id <= 500; id++) c.add(1, id, `x${id}`);
  c.takeReady();
  assert.deepEqual([c.nMissed, c.nRuns], [0, 1]);
  assert.equal(c.add(1, 53, 'r53'), 'restart'); // ids 1-52 of the new run went while we were away
  advance(100);
  assert.deepEqual(
    c.takeReady().map((r) => [r.id, r.missed]),
    [[53, 52]],
  );
  c.add(1, 54, 'r54');
  assert.deepEqual(ids(c.takeReady()), [54]);
  assert.deepEqual([c.nMissed, c.nRuns], [52, 2]);
});

test('offset > 1: the expected step of the merged stream', () => {
  const { c } = cache([1], { offset: 2 });
  c.add(1, 1, 'a');
  c.add(1, 3, 'b');
  c.add(1, 7, 'c');
  const r = c.takeReady();
  assert.deepEqual(ids(r), [1, 3, 7]);
  assert.deepEqual(
    r.map((x) => x.missed),
    [0, 0, 1],
  );
});

test('takeAll at stop: everything, in order', () => {
  const { c } = cache([1, 2]);
  c.add(1, 9, 'a');
  c.add(1, 4, 'b');
  c.add(1, 6, 'c');
  assert.deepEqual(ids(c.takeAll()), [4, 6, 9]);
  assert.equal(c.size, 0);
});
