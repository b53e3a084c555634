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

test('a real consumer through the dashboard: its status as VStructure; configure and stop through its control PV', async (t) => {
  const env = await loopbackEnv();
  const consumer = startCli(
    t,
    ['consumer', '-ic', 'nothing:here', '-cc', 'host:control', '-sc', 'host:status', '-rqs', '10', '-dc'],
    env,
    20_000,
  );
  const dash = startCli(t, ['dashboard', '--port', '0', '--write'], env);
  const url = (await dash.line(/^dashboard: (http:\/\/\S+)$/))[1] as string;
  const c = await PvwsClient.connect(`${url.replace('http', 'ws')}pvws/pv`);
  t.after(() => c.ws.terminate());
  c.send({ type: 'subscribe', pvs: ['host:status', 'host:control'] });
  const status = await c.json('update', 'host:status', 20_000);
  assert.equal(status['vtype'], 'VStructure');
  assert.ok('processorStats' in (status['value'] as Json), JSON.stringify(status));
  assert.equal((await c.json('update', 'host:control', 20_000))['readonly'], false);
  c.send({ type: 'write', pv: 'host:control', value: { command: 'configure', args: '{"receiverQueueSize":-99}' } });
  const bad = await c.json('write-result', 'host:control', 20_000);
  assert.equal(bad['ok'], false);
  assert.match(String(bad['message']), /Configuration failed: receiverQueueSize must be an integer/);
  assert.match(String((bad['value'] as Json)['statusMessage']), /^Configuration failed/);
  c.send({ type: 'write', pv: 'host:control', value: { command: 'reset_stats' } });
  const reset = await c.json('write-result', 'host:control', 20_000);
  assert.deepEqual([reset['ok'], (reset['value'] as Json)['statusMessage']], [true, 'Stats reset successful']);
  c.send({ type: 'write', pv: 'host:control', value: { command: 'stop' } });
  assert.equal((await c.json('write-result', 'host:control', 20_000))['ok'], true);
  assert.equal(await consumer.exited, 0, consumer.stderr());
  // The control PV's own updates (each command's statusMessage) come first, then the loss.
  await c.next((m) => m.kind === 'json' && m.json['pv'] === 'host:control' && m.json['connected'] === false, 20_000, 'host:control lost');
  dash.kill('SIGTERM');
  assert.equal(await dash.exited, 0);
});
