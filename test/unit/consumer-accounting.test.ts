// Missed-frame accounting and consumer option handling against hand-computed cases.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MissedFrameCounter } from '../../src/runtime/missed-frames.js';
import { channelName, checkConfig, formatId, monitorRequest, objectIdOffset, parseIdList } from '../../src/consumer/options.js';
import { ReceiverQueue } from '../../src/runtime/receiver-queue.js';
import { combineStats } from '../../src/consumer/report.js';
import type { ConsumerStats } from '../../src/consumer/consumer.js';
import { ProcessingController } from '../../src/runtime/processing-controller.js';
import { UserDataProcessor } from '../../src/processing/user-data-processor.js';
import type { StructureDesc } from '../../src/pvdata/types.js';

function missedAfter(offset: number, n: number, ids: number[]): number[] {
  const c = new MissedFrameCounter(offset, n);
  return ids.map((id) => c.add(id));
}

test('one consumer, every frame: gaps are counted id by id', () => {
  assert.deepEqual(missedAfter(1, 1, [1, 2, 3, 6, 7, 10]), [0, 0, 0, 2, 0, 2]);
});

test('two consumers alternating (offset 2): 1,3,5 is complete; 1,3,9 missed 5 and 7', () => {
  assert.deepEqual(missedAfter(2, 1, [1, 3, 5, 7]), [0, 0, 0, 0]);
  assert.deepEqual(missedAfter(2, 1, [1, 3, 9, 11]), [0, 0, 2, 0]);
});

test('offset 4 and a jump of one period counts nothing; a jump of 5 periods counts 4', () => {
  assert.deepEqual(missedAfter(4, 1, [1, 5, 25]), [0, 0, 4]);
});

test('two sets of three updates (N 3, offset 4): 1,2,3,7,8,9 is complete', () => {
  assert.deepEqual(missedAfter(4, 3, [1, 2, 3, 7, 8, 9, 13]), [0, 0, 0, 0, 0, 0, 0]);
});

test('two sets of three updates: losses at the end of a group, whole groups and the start of one', () => {
  // expected 1,2,3,7,8,9,13,14,15,19,20,21: after 2 comes 14 → missed 3,7,8,9,13 = 5
  assert.deepEqual(missedAfter(4, 3, [1, 2, 14, 15]), [0, 0, 5, 0]);
  // 3 → 20: missed 7,8,9,13,14,15,19 = 7
  assert.deepEqual(missedAfter(4, 3, [1, 2, 3, 20, 21]), [0, 0, 0, 7, 0]);
});

test('a restart (ids going back to the start) is a new run, counted from its first id', () => {
  const c = new MissedFrameCounter(1, 1);
  for (const id of [10, 11, 12, 1, 2, 4]) c.add(id);
  assert.equal(c.missed, 1);
  assert.equal(c.runs, 2);
});

test('a source restarted while we were away: the ids of its new run before the first we got are missed', () => {
  const c = new MissedFrameCounter(1, 1);
  for (let id = 1; id <= 500; id++) c.add(id);
  assert.equal(c.add(53, true), 52); // ids 1-52 of the new run
  assert.equal(c.add(54), 0);
  assert.deepEqual([c.missed, c.runs], [52, 2]);
  // Without a reconnect a step back that small is not a restart, and counts nothing.
  const d = new MissedFrameCounter(1, 1);
  for (let id = 1; id <= 500; id++) d.add(id);
  assert.deepEqual([d.add(300), d.missed, d.runs], [0, 0, 1]);
});

test("a new run of a distributed stream counts only this consumer's share of the ids it missed", () => {
  // Two consumers alternating (offset 2): the second consumer's share of a new run is 2, 4, 6, …
  const c = new MissedFrameCounter(2, 1);
  for (const id of [2, 4, 6, 8, 10]) c.add(id);
  assert.equal(c.add(2, true), 0);
  for (const id of [4, 6, 8, 10, 12, 14]) c.add(id);
  assert.equal(c.add(10, true), 4); // a second restart: 2, 4, 6 and 8 missed
  assert.equal(c.runs, 3);
  // Two sets of three (N 3, offset 4): set B gets 4,5,6,10,11,12,…; first seen 11 → 4,5,6,10 missed.
  const b = new MissedFrameCounter(4, 3);
  for (const id of [4, 5, 6, 10, 11, 12]) b.add(id);
  assert.equal(b.add(11, true), 4);
});

test('a reconnect to the same run (the current value again) and updates out of order count nothing', () => {
  const c = new MissedFrameCounter(1, 1);
  for (const id of [1, 2, 3]) c.add(id);
  assert.equal(c.add(3, true), 0);
  assert.equal(c.add(4), 0);
  for (const id of [6, 5, 7]) c.add(id);
  assert.deepEqual([c.missed, c.runs], [0, 1]);
});

test('id lists: comma form and Python range()', () => {
  assert.deepEqual(parseIdList('1,3,5'), [1, 3, 5]);
  assert.deepEqual(parseIdList('range(1,5)'), [1, 2, 3, 4]);
  assert.deepEqual(parseIdList('range(2,10,3)'), [2, 5, 8]);
  assert.throws(() => parseIdList('1,x'), /not an id list/);
  assert.throws(() => parseIdList('range(5,1)'), /empty id list/);
});

test('id lists are bounded before anything is allocated: count, id range, duplicates', () => {
  assert.throws(() => parseIdList('range(1,1000000000000)'), /has 999999999999 ids; at most 256 are allowed/);
  assert.throws(() => parseIdList('range(0,1e3)'), /not an id list/);
  assert.equal(parseIdList('range(0,256)').length, 256);
  assert.throws(() => parseIdList(Array.from({ length: 257 }, (_, i) => i).join(',')), /has 257 ids/);
  assert.throws(() => parseIdList('-1,2'), /id -1 .* is not from 0 to 4294967295/);
  assert.throws(() => parseIdList('range(4294967295,4294967297)'), /id 4294967296/);
  assert.throws(() => parseIdList('1,2,1'), /same id twice/);
});

test('configure: the framework keys are checked, all before any is applied', () => {
  const keys = ['skipInitialUpdates', 'objectIdOffset', 'nSequentialUpdates', 'receiverQueueSize'];
  checkConfig({ receiverQueueSize: 5, skipInitialUpdates: 0, other: 'the processor takes it' }, keys);
  assert.throws(() => checkConfig({ receiverQueueSize: -99 }, keys), /receiverQueueSize must be an integer from 0 to 1000000, not -99/);
  assert.throws(() => checkConfig({ objectIdOffset: 0 }, keys), /objectIdOffset must be an integer from 1/);
  assert.throws(() => checkConfig({ nSequentialUpdates: 1.5 }, keys), /nSequentialUpdates must be an integer/);
  assert.throws(() => checkConfig({ skipInitialUpdates: '3' }, keys), /skipInitialUpdates must be an integer .*, not "3"/);
  checkConfig({ collectorCacheSize: -1 }, keys); // not this host's key: left to the processor
});

test('id format specs and channel names', () => {
  assert.equal(formatId(7, '03d'), '007');
  assert.equal(formatId(7, undefined), '7');
  assert.equal(formatId(255, 'x'), 'ff');
  assert.equal(formatId(5, '>3'), '  5');
  assert.equal(channelName('consumer:*:status', 'consumer', 'status', 2, '02d'), 'consumer:02:status');
  assert.equal(channelName('_', 'consumer', 'output', 3), 'pvapy:consumer:3:output');
  assert.equal(channelName(undefined, 'consumer', 'output', 3), undefined);
});

test('the monitor request: server queue, fields with the id field, or the distributor', () => {
  const none = { pluginName: 'pydistributor' };
  assert.equal(monitorRequest(0, '', 'uniqueId', none), '');
  assert.equal(monitorRequest(100, 'field(value,dimension)', 'uniqueId', none), 'record[queueSize=100]field(uniqueId,value,dimension)');
  assert.equal(
    monitorRequest(10, 'value', 'uniqueId', { pluginName: 'pydistributor', set: 'A', updates: 3, trigger: 'uniqueId' }),
    'record[queueSize=10]field(_[pydistributor=set:A;trigger:uniqueId;updates:3])',
  );
});

test('the automatic object-id offset', () => {
  assert.equal(objectIdOffset(5, 2, 1, 1), 5);
  assert.equal(objectIdOffset(0, 2, 1, 1), 2);
  assert.equal(objectIdOffset(0, 2, 2, 3), 4);
  assert.equal(objectIdOffset(0, 3, 1, undefined), 1);
});

test('the receiver queue refuses what does not fit and counts it', () => {
  const q = new ReceiverQueue<number>(2);
  assert.equal(q.push(1), true);
  assert.equal(q.push(2), true);
  assert.equal(q.push(3), false);
  assert.equal(q.shift(), 1);
  assert.deepEqual(q.stats(), { nReceived: 2, nRejected: 1, nDelivered: 1, nQueued: 1 });
});

test('combined statistics sum counters and take the extremes of ids and times', () => {
  const one = (id: number, first: number, last: number, n: number, runs = 1): ConsumerStats => ({
    consumerId: id,
    inputChannel: 'x',
    receiverStats: { nReceived: n, nOverruns: 0 },
    publisherStats: { nPublished: n },
    queueStats: { nReceived: 0, nRejected: 0, nDelivered: 0, nQueued: 0 },
    processorStats: {
      runtime: 10,
      startTime: 100,
      endTime: 110,
      receivingTime: 5,
      firstObjectTime: 101 + id,
      lastObjectTime: 106 + id,
      firstObjectId: first,
      lastObjectId: last,
      nProcessed: n,
      processedRate: n / 5,
      nErrors: 0,
      errorRate: 0,
      nMissed: 1,
      missedRate: 0.2,
      nSkipped: 1,
      nRuns: runs,
    },
    userStats: {},
    metadataStats: [],
  });
  const c = combineStats([one(1, 1, 99, 50, 2), one(2, 2, 100, 50, 2)]);
  assert.equal(c.processorStats.nRuns, 2, 'every consumer saw the same two runs of the source');
  assert.equal(c.processorStats.nProcessed, 100);
  assert.equal(c.processorStats.nMissed, 2);
  assert.equal(c.processorStats.firstObjectId, 1);
  assert.equal(c.processorStats.lastObjectId, 100);
  assert.equal(c.processorStats.receivingTime, 108 - 102);
  assert.equal(c.receiverStats['nReceived'], 100);
  assert.equal(c.processorStats.nSkipped, 2);
});

test('skipped initial updates are counted; inputs without ids report firstObjectId 0, not NaN', () => {
  const pc = new ProcessingController(
    new UserDataProcessor(),
    { objectIdField: 'uniqueId', objectIdOffset: 1, nSequentialUpdates: 1, skipInitialUpdates: 2 },
    null,
  );
  const type = { kind: 'structure', id: '', fields: [] } as unknown as StructureDesc;
  for (let i = 0; i < 5; i++) pc.process({ value: i }, type);
  const s = pc.stats();
  assert.equal(s.nSkipped, 2);
  assert.equal(s.nProcessed, 3);
  assert.equal(s.firstObjectId, 0);
  assert.equal(s.nMissed, 0);
  pc.resetStats();
  assert.equal(pc.stats().nSkipped, 0);
});
