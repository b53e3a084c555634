// `sluice dashboard` as a user runs it: against `sluice mailbox` over loopback UDP search, the one
// stdout line, the page API, the web socket, a write with --write, and a clean exit on SIGTERM.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loopbackEnv, startCli } from '../helpers/cli.js';
import { PvwsClient, type Json } from '../helpers/pvws-client.js';

test('sluice dashboard serves the page API and PV Web Socket, writes with --write, exits on SIGTERM', async (t) => {
  const env = await loopbackEnv();
  const box = startCli(t, ['mailbox', '--port', '0', 'D:x=1.5'], env);
  await box.line(/^listening on /);
  const dash = startCli(t, ['dashboard', '--port', '0', '--write', '--max-fps', '20', 'D:x'], env);
  const m = await dash.line(/^dashboard: (http:\/\/127\.0\.0\.1:(\d+)\/)$/);
  const url = m[1] as string;
  assert.equal(dash.stdout().trim().split('\n').length, 1, 'exactly one line on stdout');
  const config = (await (await fetch(`${url}api/config`)).json()) as Json;
  assert.deepEqual([config['pvs'], config['write'], config['maxFps']], [['D:x'], true, 20]);
  const servers = (await (await fetch(`${url}api/servers`)).json()) as Json[];
  assert.ok(
    servers.some((s) => (s['channels'] as string[]).includes('D:x')),
    JSON.stringify(servers),
  );
  const c = await PvwsClient.connect(`${url.replace('http', 'ws')}pvws/pv`);
  t.after(() => c.ws.terminate());
  c.send({ type: 'subscribe', pvs: ['D:x'] });
  const u = await c.json('update', 'D:x');
  assert.deepEqual([u['vtype'], u['value'], u['readonly']], ['VDouble', 1.5, false]);
  c.send({ type: 'write', pv: 'D:x', value: 4 });
  assert.equal((await c.json('write-result', 'D:x'))['ok'], true);
  assert.equal((await c.json('update', 'D:x'))['value'], 4);
  const closed = c.closed;
  dash.kill('SIGTERM');
  assert.equal(await dash.exited, 0);
  assert.equal((await closed).code, 1001, 'clients are told the dashboard is going away');
  assert.match(dash.stderr(), /write to D:x by anonymous@127\.0\.0\.1: 4/);
});
