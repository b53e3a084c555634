// `sluice demo --web`: the demo with the dashboard on it. The dashboard lists the demo's image and
// each consumer's status and control PVs, finds them all, and serves them through its web socket;
// Ctrl-C ends the demo (which runs until then) with the usual summary.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import WebSocket from 'ws';
import { loopbackEnv, startCli } from '../helpers/cli.js';

test('sluice demo --web serves the dashboard on the demo: its PVs listed, found and served', async (t) => {
  const demo = startCli(
    t,
    ['demo', '--web', '--web-port', '0', '--consumers', '2', '--rate', '20', '--disable-curses'],
    await loopbackEnv(),
    20_000,
  );
  const url = (await demo.line(/^demo: dashboard (http\S+)$/))[1] as string;
  const config = (await (await fetch(new URL('api/config', url))).json()) as { write: boolean; pvs: string[] };
  const pvs = [
    'sluice:demo:image',
    'sluice:demo:consumer:1:status',
    'sluice:demo:consumer:2:status',
    'sluice:demo:consumer:1:control',
    'sluice:demo:consumer:2:control',
  ];
  assert.deepEqual(config.pvs, pvs);
  assert.equal(config.write, true, 'the control buttons work on the demo');

  const servers = (await (await fetch(new URL('api/servers', url))).json()) as { channels: string[] }[];
  assert.deepEqual(servers.flatMap((s) => s.channels).sort(), [...pvs].sort(), JSON.stringify(servers));

  // Through the web socket: a status PV's structure, and frames of the image.
  const ws = new WebSocket(new URL('pvws/pv', url.replace(/^http/, 'ws')));
  t.after(() => ws.close());
  await new Promise((resolve, reject) => (ws.once('open', resolve), ws.once('error', reject)));
  const seen = new Promise<{ status: any; image: boolean }>((resolve) => {
    let status: any;
    let image = false;
    ws.on('message', (data, binary) => {
      if (binary) image = true;
      else {
        const m = JSON.parse(String(data));
        if (m.type === 'update' && m.pv === 'sluice:demo:consumer:2:status' && m.value) status = m;
      }
      if (status && image) resolve({ status, image });
    });
  });
  ws.send(JSON.stringify({ type: 'subscribe', pvs: ['sluice:demo:image', 'sluice:demo:consumer:2:status'] }));
  const { status } = await seen;
  assert.equal(status.vtype, 'VStructure');
  assert.equal(status.value.consumerId, 2);

  demo.kill('SIGINT');
  assert.equal(await demo.exited, 0, demo.stderr());
  assert.match(demo.stdout(), /demo: 2 consumers processed \d+ of \d+ frames/);
});
