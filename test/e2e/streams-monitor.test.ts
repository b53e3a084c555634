// A tcp stream is an ordinary pvAccess PV: the real `sluice monitor` CLI reads its chunks
// (index, shape, dtype and values) as it would any normative type.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OutputStream } from '../../src/streams/index.js';
import { freeUdpPort, startCli } from '../helpers/cli.js';
import { pvaEnv } from '../helpers/net.js';

test('sluice monitor reads the chunks of a tcp stream', { timeout: 60_000 }, async (t) => {
  const out = new OutputStream();
  await out.configure({ protocol: 'tcp', interface: '127.0.0.1', port: 0, dtype: 'int32', shape: [-1, 2], name: 'e2e:stream' });
  t.after(() => out.close());
  out.send(Int32Array.from([1, 2, 3, 4]), 2);
  const env = { ...process.env, ...pvaEnv(out.params.port as number) };
  const mon = startCli(t, ['monitor', '--json', 'e2e:stream'], env);
  const first = await mon.line(/"index":2,/);
  const v = JSON.parse(first.input as string) as { value: Record<string, unknown> };
  assert.deepEqual(v.value['value'], { intValue: [1, 2, 3, 4] });
  assert.deepEqual(v.value['shape'], [2, 2]);
  assert.equal(v.value['dtype'], 'int32');
  out.send(Int32Array.from([5, 6]), 40);
  await mon.line(/"index":40,"shape":\[1,2\]/);
  mon.kill('SIGINT');
  await mon.exited;
});

test('a discoverable tcp stream is found by UDP search, as base 7 pvmonitor finds PVs', { timeout: 60_000 }, async (t) => {
  // This test file runs in a process of its own: the output's server reads EPICS_PVAS_* from it.
  const udp = String(await freeUdpPort());
  process.env['EPICS_PVAS_BROADCAST_PORT'] = udp;
  process.env['EPICS_PVAS_AUTO_BEACON_ADDR_LIST'] = 'NO';
  process.env['EPICS_PVAS_BEACON_ADDR_LIST'] = '';
  const out = new OutputStream();
  await out.configure({
    protocol: 'tcp',
    interface: '127.0.0.1',
    port: 0,
    dtype: 'uint8',
    shape: [-1],
    name: 'e2e:found',
    discoverable: true,
  });
  t.after(() => out.close());
  out.send(Uint8Array.from([7, 8, 9]));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    EPICS_PVA_AUTO_ADDR_LIST: 'NO',
    EPICS_PVA_ADDR_LIST: '127.0.0.1',
    EPICS_PVA_BROADCAST_PORT: udp,
  };
  delete env['EPICS_PVA_NAME_SERVERS'];
  const mon = startCli(t, ['monitor', '--json', 'e2e:found'], env);
  await mon.line(/"index":3,"shape":\[3\]/);
  mon.kill('SIGINT');
  await mon.exited;
});
