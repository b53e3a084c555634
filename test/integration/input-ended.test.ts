// A pva input whose server closes the PV (the monitor is finished, the channel stays): the
// updates posted before the close all reach the sink, then the host is told that no more come.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PvaClient } from '../../src/pva/client/client.js';
import { PvaServer } from '../../src/pva/server/server.js';
import { SharedPV } from '../../src/pv/shared-pv.js';
import { ntscalar } from '../../src/pvdata/nt/index.js';
import { inputUpstream, UpstreamReceiver } from '../../src/runtime/io.js';

test('a pva input tells its host when the server ends the monitor, after every update before it', async (t) => {
  const server = new PvaServer({ host: '127.0.0.1', port: 0, udpPort: false });
  const port = await server.listen();
  const pv = SharedPV.mailbox().open(ntscalar.type('int'), { value: 0 });
  server.addPV('END:x', pv);
  const client = new PvaClient({ env: { EPICS_PVA_NAME_SERVERS: `127.0.0.1:${port}`, EPICS_PVA_AUTO_ADDR_LIST: 'NO' }, beaconPort: false });
  t.after(async () => {
    client.close();
    await server.close();
  });
  const got: number[] = [];
  let first: () => void = () => {};
  const connected = new Promise<void>((r) => (first = r));
  const notices: string[] = [];
  let noticed: () => void = () => {};
  const ended = new Promise<void>((r) => (noticed = r));
  const rx = new UpstreamReceiver(inputUpstream('pva', client), 'END:x', { queueSize: 0 }, (line) => {
    notices.push(line);
    if (/ended the monitor/.test(line)) noticed();
  });
  rx.start((r) => {
    got.push(r.value['value'] as number);
    first();
    return true;
  });
  await connected;
  for (let i = 1; i <= 5; i++) pv.post({ value: i });
  pv.close();
  await ended;
  assert.deepEqual(got, [0, 1, 2, 3, 4, 5]);
  assert.deepEqual(notices, ['input END:x: the server ended the monitor (its PV was closed): no more updates will come']);
  assert.deepEqual(await rx.stop(), []);
});
