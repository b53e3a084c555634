// A monitor that connects to a PV not open yet waits (as with PVXS) and starts with the first
// value posted after open, even when the producer opens and posts several values in one go.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SharedPV } from '../../src/pv/shared-pv.js';
import { ntscalar } from '../../src/pvdata/nt/index.js';
import { clientFor, startServer } from '../helpers/net.js';

test('a monitor waiting for open gets every value posted from open on, the first one whole', async (t) => {
  const { server, port } = await startServer();
  const client = clientFor(port);
  t.after(async () => {
    client.close();
    await server.close();
  });
  const waiting = new SharedPV();
  server.addPV('later', waiting);
  server.addPV('now', new SharedPV().open(ntscalar.type('int'), { value: 0 }));

  const sub = client.monitor('later', { queueSize: 10 });
  await client.channel('later').whenConnected(5000);
  // Same connection, so the server has taken the monitor's INIT when this answers.
  await client.get('now');
  assert.equal(waiting.subscriberCount, 1, 'the waiting INIT holds the posts');

  waiting.open(ntscalar.type('int'));
  waiting.post({ value: 1 });
  waiting.post({ value: 2 });
  waiting.post({ value: 3 });

  const seen: { value: number; whole: boolean }[] = [];
  for await (const u of sub) {
    seen.push({ value: u.value['value'] as number, whole: u.changed.get(0) });
    if (seen.length === 3) break;
  }
  assert.deepEqual(seen, [
    { value: 1, whole: true },
    { value: 2, whole: false },
    { value: 3, whole: false },
  ]);
  await client.get('now'); // after the monitor's DESTROY
  assert.equal(waiting.subscriberCount, 0, 'the holder left; the monitor that broke out too');
});

test('a monitor whose PV is removed before it opens lets go of the PV once it opens', async (t) => {
  const { server, port } = await startServer();
  const client = clientFor(port);
  t.after(async () => {
    client.close();
    await server.close();
  });
  const waiting = new SharedPV();
  server.addPV('later', waiting);
  server.addPV('now', new SharedPV().open(ntscalar.type('int'), { value: 0 }));
  client.monitor('later', { queueSize: 10 });
  await client.channel('later').whenConnected(5000);
  await client.get('now');
  assert.equal(waiting.subscriberCount, 1);
  server.removePV('later');
  await client.get('now');
  waiting.open(ntscalar.type('int'));
  waiting.post({ value: 1 });
  await client.get('now');
  assert.equal(waiting.subscriberCount, 0);
});
