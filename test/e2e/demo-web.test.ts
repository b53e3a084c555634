// `sluice demo --web`: the demo with the dashboard on it. The dashboard lists the demo's image and
// each consumer's status and control PVs, finds them all, and serves them through its web socket;
// Ctrl-C ends the demo (which runs until then) with the usual summary.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import WebSocket from 'ws';
import { artifactPath, chromiumPath, docImagePath, launchBrowser } from '../helpers/browser.js';
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
    'sluice:demo:sim:status',
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
  const seen = new Promise<{ status: any; simStatus: any; image: boolean }>((resolve) => {
    let status: any;
    let simStatus: any;
    let image = false;
    ws.on('message', (data, binary) => {
      if (binary) image = true;
      else {
        const m = JSON.parse(String(data));
        if (m.type === 'update' && m.pv === 'sluice:demo:consumer:2:status' && m.value) status = m;
        if (m.type === 'update' && m.pv === 'sluice:demo:sim:status' && m.value) simStatus = m;
      }
      if (status && simStatus && image) resolve({ status, simStatus, image });
    });
  });
  ws.send(JSON.stringify({ type: 'subscribe', pvs: ['sluice:demo:image', 'sluice:demo:consumer:2:status', 'sluice:demo:sim:status'] }));
  const { status, simStatus } = await seen;
  assert.equal(status.vtype, 'VStructure');
  assert.equal(status.value.consumerId, 2);
  assert.equal(simStatus.value.channelName, 'sluice:demo:image');
  assert.equal(typeof simStatus.value.simStats.publishedRate, 'number');

  // In a browser (where there is one): every PV gets its panel; screenshots for the documentation.
  const executable = chromiumPath();
  if (executable) {
    const browser = await launchBrowser(t, executable);
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    await page.goto(url);
    const image = page.locator('article.image-card');
    await image.locator('canvas.image[data-unique-id]').waitFor();
    await image.getByLabel('Colour map').selectOption('viridis');
    await page.locator('article.status-card[data-pv="sluice:demo:sim:status"][data-points]').waitFor();
    for (const id of [1, 2]) {
      await page.locator(`article.status-card[data-pv="sluice:demo:consumer:${id}:status"][data-points]`).waitFor();
      await page.locator(`article.control-card[data-pv="sluice:demo:consumer:${id}:control"]`).waitFor();
    }
    // Zoomed in, the pointer on a pixel: the readout names it.
    const box = (await image.locator('canvas.image').boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    for (let i = 0; i < 4; i++) await page.mouse.wheel(0, -300);
    await page.mouse.move(box.x + box.width / 2 + 3, box.y + box.height / 2 + 3);
    assert.match((await image.locator('output.readout').textContent()) ?? '', /^x \d+, y \d+: \d+$/);
    await page.waitForFunction(`document.querySelectorAll('article.status-card[data-points]').length === 3 &&
      [...document.querySelectorAll('article.status-card')].every((c) => Number(c.dataset.points) >= 4)`);
    for (const path of [artifactPath('dashboard-demo.png'), docImagePath('dashboard-demo.png')]) {
      if (path) await page.screenshot({ path });
    }
    for (const path of [artifactPath('dashboard-demo-image.png'), docImagePath('dashboard-image.png')]) {
      if (path) await image.screenshot({ path });
    }
  }

  demo.kill('SIGINT');
  assert.equal(await demo.exited, 0, demo.stderr());
  assert.match(demo.stdout(), /demo: 2 consumers processed \d+ of \d+ frames/);
});
