// A tcp stream is an ordinary pvAccess PV: the real `sluice monitor` CLI reads its chunks
// (index, shape, dtype and values) as it would any normative type.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OutputStream } from '../../src/streams/index.js';
import { startCli } from '../helpers/cli.js';
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
