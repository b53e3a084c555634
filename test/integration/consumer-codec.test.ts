// A DataConsumer fed compressed NTNDArrays by our server over loopback: the processor sees the
// decoded pixels; a frame whose payload is damaged counts as one processing error (ERR_CODEC
// naming the frame) and the frames after it are processed as usual.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DataConsumer } from '../../src/consumer/consumer.js';
import { SharedPV } from '../../src/pv/shared-pv.js';
import { compress } from '../../src/pvdata/nt/codec/index.js';
import { ColorMode, ntndarray } from '../../src/pvdata/nt/ntndarray.js';
import type { PVStructure, PVTypedArray } from '../../src/pvdata/values.js';
import { AdImageProcessor } from '../../src/processing/ad-image-processor.js';
import { pvaEnv, startServer } from '../helpers/net.js';

const NX = 128;
const NY = 64;
const pixels = (id: number) => Uint16Array.from({ length: NX * NY }, (_, i) => (i * id) % 2000);

function frame(id: number, codec: string, damage = false): PVStructure {
  const packed = compress(codec, pixels(id));
  if (damage) packed.fill(0xff, 20, 40);
  return ntndarray.build({
    data: packed,
    dims: [NX, NY],
    uniqueId: id,
    colorMode: ColorMode.Mono,
    codec: { name: codec, uncompressedType: 'ushort' },
  });
}

class Decoded extends AdImageProcessor {
  seen: { id: number; data: PVTypedArray }[] = [];
  errors: string[] = [];
  #want = 0;
  #reached: () => void = () => {};
  override process(value: PVStructure): unknown {
    try {
      const f = this.frameOf(value);
      this.seen.push({ id: f.id, data: f.data });
    } catch (e) {
      this.errors.push(`${(e as { code?: string }).code} ${(e as Error).message}`);
      throw e;
    } finally {
      if (this.seen.length + this.errors.length >= this.#want) this.#reached();
    }
    return undefined;
  }
  until(n: number): Promise<void> {
    return new Promise((resolve) => ((this.#want = n), (this.#reached = resolve), this.seen.length + this.errors.length >= n && resolve()));
  }
}

test('consumer: compressed frames decoded for the processor, a damaged one counted as an error', async (t0) => {
  const { server, port } = await startServer();
  const input = SharedPV.readonly().open(ntndarray.type(), ntndarray.build({ data: new Uint16Array(0), dims: [], uniqueId: 0 }));
  server.addPV('cam:image', input);
  t0.after(async () => {
    await server.close();
  });
  const processor = new Decoded();
  const consumer = new DataConsumer({
    consumerId: 1,
    inputChannel: 'cam:image',
    inputMode: 'pva',
    outputMode: 'pvas',
    inputRequest: 'record[queueSize=20]',
    serverQueueSize: 20,
    receiverQueueSize: 0,
    accumulateObjects: 0,
    accumulationTimeoutS: 1,
    objectIdField: 'uniqueId',
    objectIdOffset: 1,
    nSequentialUpdates: 1,
    skipInitialUpdates: 1,
    processor,
    env: { ...pvaEnv(port), EPICS_PVAS_SERVER_PORT: '0', EPICS_PVAS_BROADCAST_PORT: '0' },
  });
  await consumer.start();
  for (const end = Date.now() + 5000; consumer.stats().receiverStats['nReceived']! < 1;) {
    assert.ok(Date.now() < end, 'the monitor connected');
    await new Promise((r) => setTimeout(r, 5));
  }
  const plan: [string, boolean][] = [
    ['lz4', false],
    ['bslz4', false],
    ['blosc', true],
    ['blosc', false],
    ['zlib', false],
    ['lz4hdf5', false],
  ];
  plan.forEach(([codec, damage], k) => input.post(frame(k + 1, codec, damage)));
  await processor.until(plan.length);
  assert.equal(processor.errors.length, 1);
  assert.match(processor.errors[0] as string, /^ERR_CODEC frame 3: blosc: /);
  assert.deepEqual(
    processor.seen.map((s) => s.id),
    [1, 2, 4, 5, 6],
  );
  for (const s of processor.seen) assert.deepEqual(s.data, pixels(s.id), `frame ${s.id}`);
  const final = await consumer.stop();
  assert.equal(final.processorStats.nProcessed, 5);
  assert.equal(final.processorStats.nErrors, 1);
});
