// The dashboard page in a real browser (headless Chromium): spawned `sluice sim`, `sluice
// consumer` and `sluice dashboard`, then the page loads, shows a frame whose pixels are the
// served frame's, plots the consumer's status as it changes, and its Stop button stops the
// consumer. Screenshots are kept in test-artifacts/.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { PvaClient } from '../../src/pva/client/client.js';
import type { PVStructure } from '../../src/pvdata/values.js';
import { artifactPath, chromiumPath, docImagePath, launchBrowser, SKIP_REASON } from '../helpers/browser.js';
import { consumerArgs, simArgs } from '../helpers/cli-args.js';
import { loopbackEnv, startCli } from '../helpers/cli.js';

const executable = chromiumPath();
const W = 40;
const H = 24;

/** Screenshot as a test artifact, and as a documentation image when asked. */
async function shoot(page: Page, name: string, selector?: string, doc = true): Promise<void> {
  const paths = [artifactPath(`${name}.png`), doc ? docImagePath(`${name}.png`) : undefined].filter((p) => p !== undefined);
  for (const path of paths) {
    if (selector) await page.locator(selector).screenshot({ path });
    else await page.screenshot({ path, fullPage: true });
  }
}

test('the page shows the served frame, plots the status and stops a consumer', { skip: executable ? false : SKIP_REASON }, async (t) => {
  const env = await loopbackEnv();
  const start = (args: string[]) => startCli(t, args, env, 20_000);
  // A few distinct frames at 4 per second: the page and the test see the same ids.
  const sim = start(simArgs({ channel: 'page:image', nx: W, ny: H, dtype: 'uint8', fps: 4, nFrames: 3, runtime: 120, startDelay: 0.2 }));
  // A colour source sent plane by plane (RGB3): the dashboard sends it as RGB1, the page shows it.
  start(simArgs({ channel: 'page:rgb', nx: 16, ny: 8, dtype: 'uint8', fps: 4, nFrames: 3, runtime: 120, startDelay: 0.2 }, '-cm', '4'));
  const consumer = start(
    consumerArgs({ input: 'page:image', id: 1, status: 'page:c:*:status', control: 'page:c:*:control', reportPeriod: 0.25, runtime: 120 }),
  );
  const dashboard = start(['dashboard', '--port', '0', '--write', 'page:image', 'page:rgb', 'page:c:1:status', 'page:c:1:control']);
  const url = (await dashboard.line(/^dashboard: (http\S+)/))[1] as string;

  // The served frames, by unique id, as a pvAccess client sees them.
  const client = new PvaClient({ env, timeoutMs: 10_000, beaconPort: false });
  t.after(() => client.close());
  const collect = (pv: string) => {
    const frames = new Map<number, Uint8Array>();
    const watch = client.monitor(pv, { queueSize: 8 });
    t.after(() => watch.close());
    void (async () => {
      for await (const u of watch) frames.set(Number(u.value['uniqueId']), (u.value['value'] as PVStructure)['value'] as Uint8Array);
    })();
    return frames;
  };
  const served = collect('page:image');
  const servedRgb = collect('page:rgb');

  const browser = await launchBrowser(t, executable as string);
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(url);
  await page.getByRole('heading', { name: 'Sluice dashboard' }).waitFor();

  // The image: a fixed range 0..255 on the grey map shows each uint8 pixel as its own grey level.
  /** The frame drawn for `pv` with the fixed range 0..255: its id and RGBA bytes. */
  const shownFrame = async (pv: string) => {
    const card = page.locator(`article.image-card[data-pv="${pv}"]`);
    await card.locator('canvas.image[data-unique-id]').waitFor({ timeout: 20_000 });
    await card.getByLabel('Auto contrast').uncheck();
    await card.getByLabel('Min').fill('0');
    await card.getByLabel('Max').fill('255');
    return page.evaluate((name) => {
      const view = (globalThis as any).sluiceDashboard.panels.get(name);
      const c = view.imageCanvas as HTMLCanvasElementLike;
      const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      return { uniqueId: view.drawn.header.uniqueId, width: c.width, height: c.height, rgba: Array.from(data as ArrayLike<number>) };
    }, pv);
  };
  const rgb = await shownFrame('page:rgb');
  const rgbFrame = servedRgb.get(rgb.uniqueId);
  assert.ok(rgbFrame, `colour frame ${rgb.uniqueId} was served`);
  assert.deepEqual([rgb.width, rgb.height], [16, 8]);
  for (let y = 0; y < 8; y++) {
    for (let x = 0; x < 16; x++) {
      const want: number[] = [0, 1, 2].map((c): number => rgbFrame[c * 16 * 8 + y * 16 + x] as number).concat(255);
      const o = (y * 16 + x) * 4;
      if (rgb.rgba.slice(o, o + 4).join() !== want.join()) assert.fail(`colour pixel ${x},${y}: ${rgb.rgba.slice(o, o + 4)} for ${want}`);
    }
  }

  const card = page.locator('article.image-card[data-pv="page:image"]');
  const shown = await shownFrame('page:image');
  assert.equal(shown.width, W);
  assert.equal(shown.height, H);
  const frame = served.get(shown.uniqueId);
  assert.ok(frame, `frame ${shown.uniqueId} was served (served: ${[...served.keys()].join(', ')})`);
  for (let i = 0; i < W * H; i++) {
    const v = frame[i] as number;
    const got = shown.rgba.slice(i * 4, i * 4 + 4);
    if (got.join() !== `${v},${v},${v},255`) assert.fail(`pixel ${i % W},${Math.floor(i / W)} of frame ${shown.uniqueId}: ${got} for ${v}`);
  }
  // Paused, the pointer on image pixel (10, 5) reads that pixel's served value; keys zoom and fit.
  await card.getByLabel('Pause').check();
  const view = async () =>
    page.evaluate(() => {
      const v = (globalThis as any).sluiceDashboard.panels.get('page:image');
      return { uniqueId: v.drawn.header.uniqueId as number, ...(v.view as { scale: number; x: number; y: number }) };
    });
  const fitted = await view();
  const box = (await card.locator('canvas.image').boundingBox())!;
  const dpr = await page.evaluate(() => (globalThis as any).devicePixelRatio as number);
  await page.mouse.move(box.x + (fitted.x + 10.5 * fitted.scale) / dpr, box.y + (fitted.y + 5.5 * fitted.scale) / dpr);
  const pixel = served.get(fitted.uniqueId)![5 * W + 10];
  assert.equal(await card.locator('output.readout').textContent(), `x 10, y 5: ${pixel}`);
  await card.locator('canvas.image').focus();
  await page.keyboard.press('+');
  assert.ok(Math.abs((await view()).scale - fitted.scale * 1.25) < 1e-9, 'the + key zooms in');
  await page.keyboard.press('0');
  assert.equal((await view()).scale, fitted.scale, '0 fits again');
  await card.getByLabel('Pause').uncheck();

  // The status plot gains points as the consumer's status PV refreshes.
  const status = page.locator('article.status-card[data-pv="page:c:1:status"]');
  const points = `Number(document.querySelector('article.status-card[data-pv="page:c:1:status"]')?.dataset.points ?? 0)`;
  await page.waitForFunction(`${points} >= 2`, undefined, { timeout: 20_000 });
  const before = Number(await status.getAttribute('data-points'));
  await page.waitForFunction(`${points} > ${before}`, undefined, { timeout: 20_000 });
  // ... and its lines move: the processed rate plotted becomes positive.
  const processedRate = `(globalThis.sluiceDashboard.panels.get('page:c:1:status').plots
    .flatMap((p) => p.series.map((s, i) => [s.key, p.data[i + 1]]))
    .find(([k]) => k === 'processorStats.processedRate')?.[1] ?? []).some((v) => v > 0)`;
  await page.waitForFunction(processedRate, undefined, { timeout: 20_000 });
  assert.ok((await status.locator('.uplot').count()) >= 2, 'rate and loss plots are drawn');
  // The documentation's page and image pictures come from the demo (demo-web.test.ts).
  await shoot(page, 'dashboard-page', undefined, false);
  await shoot(page, 'dashboard-page-image', 'article.image-card[data-pv="page:image"]', false);
  await shoot(page, 'dashboard-page-rgb', 'article.image-card[data-pv="page:rgb"]', false);
  await shoot(page, 'dashboard-status', 'article.status-card');

  // A read-only dashboard (no --write) shows the buttons disabled and says why.
  const readOnly = start(['dashboard', '--port', '0', 'page:c:1:control']);
  const readOnlyPage = await browser.newPage();
  await readOnlyPage.goto((await readOnly.line(/^dashboard: (http\S+)/))[1] as string);
  const locked = readOnlyPage.locator('article.control-card[data-pv="page:c:1:control"]');
  await locked.getByText('Read-only: the dashboard was started without --write').waitFor();
  assert.equal(await locked.getByRole('button', { name: 'Stop' }).isDisabled(), true);
  assert.equal(await readOnlyPage.locator('#write-mode').textContent(), 'read-only');

  // Stop: the consumer answers, the page shows its status message, and the process ends.
  const control = page.locator('article.control-card[data-pv="page:c:1:control"]');
  await control.getByRole('button', { name: 'Stop' }).click();
  await control.locator('p.answer', { hasText: /stop: done/ }).waitFor({ timeout: 10_000 });
  assert.equal(await consumer.exited, 0, consumer.stderr());
  assert.match((await control.locator('output.status-message').textContent()) ?? '', /\S/);
  await shoot(page, 'dashboard-control', 'article.control-card');
  assert.deepEqual(errors, [], 'no errors in the page');
  sim.kill('SIGINT');
});

/** What the page's canvas offers (the test's tsconfig has no DOM types). */
interface HTMLCanvasElementLike {
  width: number;
  height: number;
  getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: ArrayLike<number> } };
}
