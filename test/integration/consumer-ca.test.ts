// A DataConsumer with a Channel Access input (--input-mode ca) and metadata channels of both
// protocols (--metadata-channels ca://…,pva://…), served by our CaServer and pvAccess Server on
// loopback: the processor sees the CA updates as NTScalar and reads both metadata queues; the
// status counts each metadata channel.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CaServer } from '../../src/ca/server.js';
import { DataConsumer } from '../../src/consumer/consumer.js';
import { MetadataChannels, parseMetadataChannels } from '../../src/runtime/metadata.js';
import { SharedPV } from '../../src/pv/shared-pv.js';
import { ntscalar } from '../../src/pvdata/nt/index.js';
import type { PVStructure } from '../../src/pvdata/values.js';
import { UserDataProcessor } from '../../src/processing/user-data-processor.js';
import { pvaEnv, startServer } from '../helpers/net.js';

class Collect extends UserDataProcessor {
  values: number[] = [];
  metadata: Record<string, number[]> = {};
  #want = 0;
  #reached: () => void = () => {};
  override process(value: PVStructure): unknown {
    this.values.push(value['value'] as number);
    for (const [name, q] of this.metadataQueueMap) {
      for (let m = q.shift(); m; m = q.shift()) (this.metadata[name] ??= []).push(m['value'] as number);
    }
    if (this.values.length >= this.#want) this.#reached();
    return undefined;
  }
  until(n: number): Promise<void> {
    return new Promise((resolve) => ((this.#want = n), (this.#reached = resolve), this.values.length >= n && resolve()));
  }
}

test('consumer: ca input mode, and ca:// and pva:// metadata channels', async (t0) => {
  const ca = new CaServer({ host: '127.0.0.1', tcpPort: 0, udpPort: 0 });
  await ca.listen();
  const input = SharedPV.readonly().open(ntscalar.type('double'), { value: 0 });
  const caMeta = SharedPV.readonly().open(ntscalar.type('double'), { value: 100 });
  ca.addPV('in:x', input);
  ca.addPV('meta:ca', caMeta);
  const { server, port } = await startServer();
  const pvaMeta = SharedPV.readonly().open(ntscalar.type('int'), { value: 200 });
  server.addPV('meta:pva', pvaMeta);
  const env = {
    ...pvaEnv(port),
    EPICS_PVAS_SERVER_PORT: '0',
    EPICS_PVAS_BROADCAST_PORT: '0',
    EPICS_CA_AUTO_ADDR_LIST: 'NO',
    EPICS_CA_ADDR_LIST: `127.0.0.1:${ca.udpPort}`,
  };
  const processor = new Collect();
  const consumer = new DataConsumer({
    consumerId: 1,
    inputChannel: 'in:x',
    inputMode: 'ca',
    outputMode: 'pvas',
    inputRequest: '',
    serverQueueSize: 0,
    receiverQueueSize: -1,
    accumulateObjects: 0,
    accumulationTimeoutS: 1,
    objectIdField: 'uniqueId',
    objectIdOffset: 1,
    nSequentialUpdates: 1,
    skipInitialUpdates: 1,
    processor,
    metadata: (client, caClient) =>
      new MetadataChannels(parseMetadataChannels('ca://meta:ca,pva://meta:pva'), {
        client,
        caClient,
        serverQueueSize: 10,
        receiverQueueSize: -1,
      }),
    env,
  });
  t0.after(async () => {
    await server.close();
    await ca.close();
  });
  await consumer.start();
  // Every monitor is in place once each has delivered its initial value (no event: poll).
  const ready = (): boolean =>
    consumer.stats().receiverStats['nReceived']! >= 1 && consumer.stats().metadataStats.every((m) => m.receiverStats['nReceived']! >= 1);
  for (const end = Date.now() + 5000; !ready();) {
    assert.ok(Date.now() < end, 'the monitors connected');
    await new Promise((r) => setTimeout(r, 5));
  }
  for (let i = 1; i <= 5; i++) {
    caMeta.post({ value: 100 + i });
    pvaMeta.post({ value: 200 + i });
  }
  // The metadata travel on other connections than the input: let them arrive before the input.
  for (const end = Date.now() + 5000; consumer.stats().metadataStats.some((m) => m.receiverStats['nReceived']! < 6);) {
    assert.ok(Date.now() < end, 'the metadata arrived');
    await new Promise((r) => setTimeout(r, 5));
  }
  for (let i = 1; i <= 5; i++) input.post({ value: i / 2 });
  await processor.until(5);
  assert.deepEqual(processor.values, [0.5, 1, 1.5, 2, 2.5], 'the CA input, the initial value skipped');
  assert.deepEqual(processor.metadata['meta:ca'], [100, 101, 102, 103, 104, 105]);
  assert.deepEqual(processor.metadata['meta:pva'], [200, 201, 202, 203, 204, 205]);
  const final = await consumer.stop();
  assert.deepEqual(
    final.metadataStats.map((m) => m.channel),
    ['ca://meta:ca', 'pva://meta:pva'],
  );
  assert.deepEqual(
    final.metadataStats.map((m) => m.queueStats.nDelivered),
    [6, 6],
  );
  assert.equal(final.processorStats.nProcessed, 5);
});

test('metadata channel list: bare names are CA, bad protocols and repeats are refused', () => {
  assert.deepEqual(parseMetadataChannels('pva://a, ca://b,c'), [
    { protocol: 'pva', name: 'a' },
    { protocol: 'ca', name: 'b' },
    { protocol: 'ca', name: 'c' },
  ]);
  assert.throws(() => parseMetadataChannels('http://x'), /must be pva:\/\/ or ca:\/\//);
  assert.throws(() => parseMetadataChannels('pva://a,ca://a'), /given twice/);
  assert.throws(() => parseMetadataChannels('pva://'), /has no name/);
});
