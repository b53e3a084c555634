// The consumer's `ca` input: an UpstreamReceiver of a CA upstream monitors a CA channel (served
// here by our CaServer) and hands each update to the sink as a normative type, every field
// marked changed and none overrun (CA has no marks), with received/overrun statistics.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CaClient } from '../../src/ca/client.js';
import { CaServer } from '../../src/ca/server.js';
import { inputUpstream, UpstreamReceiver, type Received } from '../../src/runtime/io.js';
import { SharedPV } from '../../src/pv/shared-pv.js';
import { ntscalar } from '../../src/pvdata/nt/index.js';

test('a CA input delivers { value, type, changed, overrun } updates and counts them; stop() ends the monitor', async (t0) => {
  const server = new CaServer({ host: '127.0.0.1', tcpPort: 0, udpPort: 0 });
  await server.listen();
  const pv = SharedPV.mailbox().open(ntscalar.type('double'), { value: 0.5 });
  server.addPV('RCV:x', pv);
  const client = new CaClient({
    env: { EPICS_CA_AUTO_ADDR_LIST: 'NO', EPICS_CA_ADDR_LIST: `127.0.0.1:${server.udpPort}` },
    timeoutMs: 3000,
  });
  t0.after(async () => {
    client.close();
    await server.close();
  });

  const got: Received[] = [];
  let want = 0;
  let reached: () => void = () => {};
  const until = (n: number) => new Promise<void>((r) => ((want = n), (reached = r), got.length >= n && r()));
  const rx = new UpstreamReceiver(inputUpstream('ca', client), 'ca://RCV:x', { queueSize: 0 });
  rx.start((r) => {
    got.push(r);
    if (got.length >= want) reached();
    return true;
  });
  await until(1);
  assert.equal(got[0]!.type.id, 'epics:nt/NTScalar:1.0');
  assert.equal(got[0]!.value['value'], 0.5);
  assert.deepEqual([...got[0]!.changed], [0], 'a CA update is complete: everything changed');
  assert.ok(got[0]!.overrun.isEmpty());
  pv.post({ value: 1.5 });
  pv.post({ value: 2.5 });
  await until(3);
  assert.deepEqual(
    got.map((r) => r.value['value']),
    [0.5, 1.5, 2.5],
  );
  assert.deepEqual(rx.stats(), { nReceived: 3, nRejected: 0, nErrors: 0, nOverruns: 0 });
  rx.resetStats();
  assert.equal(rx.stats().nReceived, 0);
  pv.post({ value: 3.5 });
  await until(4);
  assert.equal(rx.stats().nReceived, 1);
  assert.deepEqual(
    got.map((r) => [...r.changed]),
    [[0], [0], [0], [0]],
  );
  assert.deepEqual(await rx.stop(), [], 'nothing was left undelivered');
  await client.get('RCV:x'); // the cancel has reached the server
  assert.equal(pv.subscriberCount, 0);
});
