// DataCollector over loopback: producers are PVs of a Server in this process, posted in a
// scrambled order; the collector's processor must see the ids sorted, gaps counted after the
// time-out, a restarted producer followed, and everything cached processed at stop.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { DataCollector } from '../../src/collector/collector.js';
import { MetadataChannels, parseMetadataChannels } from '../../src/runtime/metadata.js';
import { SharedPV } from '../../src/pv/shared-pv.js';
import { t } from '../../src/pvdata/types.js';
import type { PVStructure } from '../../src/pvdata/values.js';
import { UserDataProcessor } from '../../src/processing/user-data-processor.js';
import { pvaEnv, startServer } from '../helpers/net.js';

const itemT = t.struct({ uniqueId: t.int, value: t.double });

class Recorder extends UserDataProcessor {
  ids: number[] = [];
  waiters: { n: number; resolve: () => void }[] = [];
  constructor(readonly async = false) {
    super();
  }
  override process(value: PVStructure): unknown {
    const record = (): void => {
      this.ids.push(value['uniqueId'] as number);
      for (const w of this.waiters.filter((x) => this.ids.length >= x.n)) w.resolve();
    };
    if (!this.async) return record();
    return new Promise<void>((resolve) => setImmediate(() => (record(), resolve())));
  }
  reached(n: number): Promise<void> {
    return this.ids.length >= n ? Promise.resolve() : new Promise((resolve) => this.waiters.push({ n, resolve }));
  }
}

/** Counters without events: poll. */
async function until(cond: () => boolean, ms = 5000): Promise<void> {
  for (const end = Date.now() + ms; !cond();) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function setup(t0: TestContext, processor: Recorder, receiverQueueSize: number) {
  const { server, port } = await startServer();
  const pvs = [1, 2].map((i) => {
    const pv = SharedPV.readonly().open(itemT, { uniqueId: 0, value: 0 });
    server.addPV(`prod:${i}`, pv);
    return pv;
  });
  const collector = new DataCollector({
    collectorId: 1,
    producers: [
      { id: 1, channel: 'prod:1' },
      { id: 2, channel: 'prod:2' },
    ],
    inputRequest: 'record[queueSize=100]',
    serverQueueSize: 100,
    receiverQueueSize,
    cacheSize: 20,
    cacheTimeoutS: 0.3,
    objectIdField: 'uniqueId',
    objectIdOffset: 1,
    skipInitialUpdates: 1,
    processor,
    env: { ...pvaEnv(port), EPICS_PVAS_SERVER_PORT: '0', EPICS_PVAS_BROADCAST_PORT: '0' },
  });
  t0.after(async () => {
    await server.close();
  });
  await collector.start();
  await until(() => collector.stats().producerStats.every((p) => p.receiverStats['nReceived']! >= 1));
  const post = (producer: number, id: number): void => void pvs[producer - 1]!.post({ uniqueId: id, value: id / 10 });
  return { collector, post };
}

for (const [label, rqs, async] of [
  ['straight into the cache', -1, false],
  ['receiver queues and an async processor', 0, true],
] as const) {
  test(`collector (${label}): sorted, gaps after the time-out, restarts, stop drains`, async (t0) => {
    const rec = new Recorder(async);
    const { collector, post } = await setup(t0, rec, rqs);
    // Producer 2 runs ahead of producer 1.
    for (const [p, id] of [
      [2, 2],
      [2, 4],
      [2, 6],
      [1, 1],
      [1, 3],
      [1, 5],
      [2, 8],
      [1, 7],
    ] as const)
      post(p, id);
    await rec.reached(8);
    assert.deepEqual(rec.ids, [1, 2, 3, 4, 5, 6, 7, 8]);
    // 9 never comes: 10 waits for it until the time-out, then goes, 9 counted missed.
    post(2, 10);
    const t1 = Date.now();
    await rec.reached(9);
    assert.ok(Date.now() - t1 >= 250, 'waited for the gap');
    assert.equal(rec.ids[8], 10);
    assert.equal(collector.stats().collectorStats.nMissed, 1);
    // An old id from a producer that did not go back is rejected.
    post(1, 9);
    await until(() => collector.stats().producerStats[0]!.receiverStats['nRejected'] === 1);
    assert.equal(collector.stats().collectorStats.nRejected, 1);
    // Producer 1 restarts at 1 (its ids went back, the cache is empty): collecting starts over.
    post(1, 1);
    post(2, 2);
    post(1, 3);
    await rec.reached(12);
    assert.deepEqual(rec.ids.slice(9), [1, 2, 3]);
    // Left in the cache (waiting for 4), processed at stop, in order.
    post(2, 6);
    post(2, 5);
    await until(() => collector.cache.size === 2);
    const final = await collector.stop();
    assert.deepEqual(rec.ids.slice(12), [5, 6]);
    assert.equal(final.processorStats.nProcessed, 14);
    assert.equal(final.collectorStats.nCollected, 14);
    assert.equal(final.collectorStats.nCached, 0);
    assert.equal(final.producerStats[1]!.producerId, 2);
    assert.equal(final.producerStats[1]!.channel, 'prod:2');
  });
}

test('collector: metadata channels reach the processor, counted per channel in the status', async (t0) => {
  const { server, port } = await startServer();
  const prod = SharedPV.readonly().open(itemT, { uniqueId: 0, value: 0 });
  const meta = SharedPV.readonly().open(itemT, { uniqueId: 0, value: 0 });
  server.addPV('mprod:1', prod);
  server.addPV('mmeta', meta);
  t0.after(() => server.close());
  const seen: number[] = [];
  class ReadsMetadata extends Recorder {
    override process(value: PVStructure): unknown {
      const q = this.metadataQueueMap.get('mmeta');
      for (let m = q?.shift(); m; m = q?.shift()) seen.push(m['value'] as number);
      return super.process(value);
    }
  }
  const rec = new ReadsMetadata();
  const collector = new DataCollector({
    collectorId: 2,
    producers: [{ id: 1, channel: 'mprod:1' }],
    inputRequest: '',
    serverQueueSize: 0,
    receiverQueueSize: -1,
    cacheSize: 10,
    cacheTimeoutS: 1,
    statusChannel: 'mcol:status',
    objectIdField: 'uniqueId',
    objectIdOffset: 1,
    skipInitialUpdates: 1,
    processor: rec,
    metadata: (client, caClient) =>
      new MetadataChannels(parseMetadataChannels('pva://mmeta'), { client, caClient, serverQueueSize: 0, receiverQueueSize: -1 }),
    env: { ...pvaEnv(port), EPICS_PVAS_SERVER_PORT: '0', EPICS_PVAS_BROADCAST_PORT: '0' },
  });
  await collector.start();
  await until(
    () =>
      collector.stats().producerStats[0]!.receiverStats['nReceived']! >= 1 &&
      collector.stats().metadataStats[0]!.receiverStats['nReceived']! >= 1,
  );
  meta.post({ uniqueId: 1, value: 0.5 });
  await until(() => collector.stats().metadataStats[0]!.receiverStats['nReceived'] === 2);
  prod.post({ uniqueId: 1, value: 1 });
  await rec.reached(1);
  assert.deepEqual(seen, [0, 0.5], 'the initial value and the update');
  const final = await collector.stop();
  assert.equal(final.metadataStats[0]!.channel, 'pva://mmeta');
  assert.deepEqual(final.metadataStats[0]!.queueStats, { nReceived: 2, nRejected: 0, nDelivered: 2, nQueued: 0 });
});
