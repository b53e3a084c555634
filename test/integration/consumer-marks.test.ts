// The marks of an update through a consumer: the passthrough republishes a partial update as
// partial (the same changed bits) and keeps an upstream overrun; after a gap in the input (ids
// missed, a processor error) the next output is a full update; a processor that publishes
// without marks gets the merged update it always got.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { DataConsumer } from '../../src/consumer/consumer.js';
import type { MonitorUpdate } from '../../src/pva/client/subscription.js';
import { SharedPV } from '../../src/pv/shared-pv.js';
import { BitSet } from '../../src/pvdata/bitset.js';
import { bitOf } from '../../src/pvdata/field-numbering.js';
import { t } from '../../src/pvdata/types.js';
import type { PVStructure } from '../../src/pvdata/values.js';
import type { ProcessorContext } from '../../src/processing/processor-context.js';
import type { UserProcessor } from '../../src/processing/processor-adapter.js';
import { UserDataProcessor } from '../../src/processing/user-data-processor.js';
import { clientFor, pvaEnv, startServer } from '../helpers/net.js';

const TYPE = t.struct({ uniqueId: t.int, a: t.double, b: t.string });
const ID = bitOf(TYPE, 'uniqueId');
const A = bitOf(TYPE, 'a');
const B = bitOf(TYPE, 'b');

/** A source PV, a consumer of it running `processor`, and a monitor of the consumer's output. */
async function chain(t0: TestContext, processor: UserProcessor) {
  const { server, port } = await startServer();
  const source = SharedPV.readonly().open(TYPE, { uniqueId: 0, a: 0, b: 'x' });
  server.addPV('marks:in', source);
  const consumer = new DataConsumer({
    consumerId: 1,
    inputChannel: 'marks:in',
    outputChannel: 'marks:out',
    inputMode: 'pva',
    outputMode: 'pvas',
    inputRequest: 'record[queueSize=20]',
    serverQueueSize: 20,
    receiverQueueSize: -1,
    accumulateObjects: 0,
    accumulationTimeoutS: 1,
    objectIdField: 'uniqueId',
    objectIdOffset: 1,
    nSequentialUpdates: 1,
    skipInitialUpdates: 0,
    processor,
    env: { ...pvaEnv(port), EPICS_PVAS_SERVER_PORT: '0', EPICS_PVAS_BROADCAST_PORT: '0' },
  });
  await consumer.start();
  const client = clientFor(consumer.server.tcpPort);
  t0.after(async () => {
    client.close();
    await consumer.stop();
    await server.close();
  });
  const out = client.monitor('marks:out', { queueSize: 20 });
  const first = (await out.next()).value as MonitorUpdate; // the output opens with the first input
  assert.equal(first.value['uniqueId'], 0);
  const next = async (): Promise<MonitorUpdate> => (await out.next()).value as MonitorUpdate;
  const post = (id: number, fields: PVStructure, changed: number[], overrun: number[] = []): void => {
    const v = source.value as PVStructure;
    source.post({ ...v, uniqueId: id, ...fields }, { changed: BitSet.of(ID, ...changed), overrun: BitSet.of(...overrun) });
  };
  return { next, post };
}

test('passthrough: a partial update goes out partial, with the upstream overrun', async (t0) => {
  const { next, post } = await chain(t0, new UserDataProcessor());
  post(1, { a: 1.5 }, [A]);
  const u = await next();
  assert.deepEqual([u.value['a'], u.value['b'], [...u.changed], u.overrun.isEmpty()], [1.5, 'x', [ID, A], true]);
  post(2, { b: 'y' }, [B], [B]);
  const v = await next();
  assert.deepEqual([v.value['a'], v.value['b'], [...v.changed], [...v.overrun]], [1.5, 'y', [ID, B], [B]]);
});

test('passthrough: after missed ids the next update goes out full, then partial again', async (t0) => {
  const { next, post } = await chain(t0, new UserDataProcessor());
  post(1, { a: 1 }, [A]);
  assert.deepEqual([...(await next()).changed], [ID, A]);
  post(3, { a: 3 }, [A], [A]); // 2 never came (a distributor gave it to another consumer, say)
  const full = await next();
  assert.deepEqual([full.value['a'], [...full.changed], [...full.overrun]], [3, [0], [A]], 'full, overrun kept');
  post(4, { b: 'z' }, [B]);
  assert.deepEqual([...(await next()).changed], [ID, B]);
});

test('passthrough: an input whose processing failed breaks continuity', async (t0) => {
  class FailsOnTwo extends UserDataProcessor {
    override process(value: PVStructure): unknown {
      if (value['uniqueId'] === 2) throw new Error('no');
      return super.process(value);
    }
  }
  const { next, post } = await chain(t0, new FailsOnTwo());
  post(1, { a: 1 }, [A]);
  assert.deepEqual([...(await next()).changed], [ID, A]);
  post(2, { b: 'lost' }, [B]);
  post(3, { a: 3 }, [A]);
  const full = await next();
  assert.deepEqual([full.value['uniqueId'], full.value['b'], [...full.changed]], [3, 'lost', [0]], 'b changed unseen: full');
});

test('a processor that publishes without marks is merged as before', async (t0) => {
  let ctx: ProcessorContext | null = null;
  const seen: string[] = [];
  const processor: UserProcessor = {
    start(c) {
      ctx = c;
    },
    process(value) {
      const u = ctx?.update;
      if (u) seen.push(`${[...u.changed].join(',')}`);
      ctx?.publish({ ...value });
    },
  };
  const { next, post } = await chain(t0, processor);
  post(1, { a: 1 }, [A]);
  const u = await next();
  assert.equal(u.value['a'], 1);
  assert.ok(u.changed.get(B) || u.changed.get(0), `the whole value counts as changed: ${[...u.changed].join(',')}`);
  assert.deepEqual(seen.at(-1), `${ID},${A}`, 'ctx.update shows the input marks');
});

test('passthrough: an input a filter did not republish breaks continuity', async (t0) => {
  class DropsTwo extends UserDataProcessor {
    override process(value: PVStructure): unknown {
      return value['uniqueId'] === 2 ? undefined : super.process(value);
    }
  }
  const { next, post } = await chain(t0, new DropsTwo());
  post(1, { a: 1 }, [A]);
  assert.deepEqual([...(await next()).changed], [ID, A]);
  post(2, { b: 'dropped' }, [B]);
  post(3, { a: 3 }, [A]);
  const full = await next();
  assert.deepEqual([full.value['uniqueId'], full.value['b'], [...full.changed]], [3, 'dropped', [0]]);
  post(4, { a: 4 }, [A]);
  assert.deepEqual([...(await next()).changed], [ID, A], 'partial again');
});
