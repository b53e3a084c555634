// `sluice sim` spawned as a user runs it, on a free port, loopback only: our Client (and
// `sluice get` / `sluice monitor --stats`) find it through EPICS_PVA_NAME_SERVERS. Every test
// waits for events (a printed line, a frame id, the process end), each bounded in time.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { Client } from '../../src/pva/client/client.js';
import type { Subscription } from '../../src/pva/client/subscription.js';
import { ntndarray } from '../../src/pvdata/nt/index.js';
import { startCli, type CliProcess } from '../helpers/cli.js';

const TEST_TIMEOUT = 60_000;

/** No EPICS settings from the caller; no UDP beacons or broadcasts. */
function envFor(port?: number): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('EPICS_')) env[k] = v;
  Object.assign(env, {
    EPICS_PVA_AUTO_ADDR_LIST: 'NO',
    EPICS_PVA_ADDR_LIST: '',
    EPICS_PVAS_AUTO_BEACON_ADDR_LIST: 'NO',
    EPICS_PVAS_BEACON_ADDR_LIST: '',
    EPICS_PVAS_BROADCAST_PORT: '0', // searches answered on a free UDP port: no clashes
  });
  if (port !== undefined) env['EPICS_PVA_NAME_SERVERS'] = `127.0.0.1:${port}`;
  return env;
}

function start(t: TestContext, args: string[], env = envFor()): CliProcess {
  return startCli(t, args, env, 15_000);
}

/** `sluice sim ...` on a free loopback port; resolves once it says where it serves. */
async function sim(t: TestContext, ...args: string[]): Promise<{ p: CliProcess; port: number; channel: string }> {
  const p = start(t, ['sim', '--port', '0', '--host', '127.0.0.1', ...args]);
  const m = await p.line(/^serving (\S+) on 127\.0\.0\.1:(\d+)$/);
  return { p, channel: m[1] as string, port: Number(m[2]) };
}

function client(t: TestContext, port: number): Client {
  const c = new Client({ env: { EPICS_PVA_AUTO_ADDR_LIST: 'NO', EPICS_PVA_ADDR_LIST: '', EPICS_PVA_NAME_SERVERS: `127.0.0.1:${port}` } });
  t.after(() => c.close());
  return c;
}

/** Collects the uniqueIds of a subscription; `reach(id)` resolves once that id has arrived. */
function collect(sub: Subscription): { ids: number[]; reach(id: number, ms?: number): Promise<void> } {
  const ids: number[] = [];
  const waiters = new Set<() => void>();
  void (async () => {
    for await (const u of sub) {
      ids.push(u.value['uniqueId'] as number);
      waiters.forEach((w) => w());
    }
  })().catch(() => {});
  const reach = (id: number, ms = 10_000) =>
    new Promise<void>((resolve, reject) => {
      const check = () => ids.includes(id) && (clearTimeout(timer), waiters.delete(check), resolve());
      const late = () => new Error(`id ${id} not received within ${ms} ms (last ${ids.at(-1)})`);
      const timer = setTimeout(() => (waiters.delete(check), reject(late())), ms);
      waiters.add(check);
      check();
    });
  return { ids, reach };
}

function summaryOf(out: string): { frames: number; fps: number } {
  const m = /Published frames: +(\d+) @ ([\d.]+) fps/.exec(out);
  assert.ok(m, `no summary in:\n${out}`);
  return { frames: Number(m[1]), fps: Number(m[2]) };
}

test(
  'frames of the requested shape, uniqueIds 1, 2, 3... after the initial 0; sluice get reads them',
  { timeout: TEST_TIMEOUT },
  async (t) => {
    const shape = ['-cn', 'TST:img', '-nx', '32', '-ny', '16', '-dt', 'uint16', '-cm', '2'];
    const { p, port, channel } = await sim(t, ...shape, '-fps', '200', '-rt', '1', '--wait-clients', '1', '-std', '0', '-shd', '0.5');
    assert.equal(channel, 'TST:img');
    await p.line(/^1000 cached frames, recycled: 32x16 uint16 RGB1 \(dimensions \[3,32,16\], 3072 bytes\), values in \[0,65535\]$/);
    const get = start(t, ['get', 'TST:img'], envFor(port));
    assert.equal(await get.exited, 0, get.stderr());
    assert.match(get.stdout(), /^TST:img \S+ \S+ 3x32x16 ushort uniqueId=0\n$/);

    // --wait-clients 1: publishing starts when this monitor subscribes, so it sees every frame.
    const c = collect(client(t, port).monitor('TST:img', { queueSize: 100, pipeline: true }));
    assert.equal(await p.exited, 0, p.stderr());
    const { frames } = summaryOf(p.stdout());
    assert.equal(frames, 200, 'fps x runtime');
    await c.reach(frames);
    assert.deepEqual(
      c.ids,
      Array.from({ length: frames + 1 }, (_, i) => i),
      'initial value 0, then every frame in order',
    );
    assert.match(p.stdout(), /^Published frame id +200 @ [\d.]+s \(frame rate: [\d.]+fps; runtime: [\d.]+s\)$/m);
    assert.match(p.stdout(), /^Server exiting after reaching runtime of [\d.]+ seconds$/m);
  },
);

test('every frame is a spec-conformant NTNDArray with matching time stamps', { timeout: TEST_TIMEOUT }, async (t) => {
  const shape = ['-nx', '8', '-ny', '4', '-dt', 'float32', '-mn', '-1', '-mx', '1', '-cm', '4'];
  const { p, port } = await sim(t, ...shape, '-fps', '100', '-rt', '0.2', '--wait-clients', '1', '-std', '0', '-shd', '0.5');
  const sub = client(t, port).monitor('pvapy:image', { queueSize: 100, pipeline: true });
  const frames: ReturnType<typeof ntndarray.read>[] = [];
  const done = (async () => {
    for await (const u of sub) {
      const r = ntndarray.read(u.value);
      frames.push(r);
      assert.equal(u.value['descriptor'], 'Image generated by Sluice');
      if (r.uniqueId === 20) break;
    }
  })();
  await done;
  assert.equal(await p.exited, 0, p.stderr());
  for (const f of frames) {
    assert.deepEqual(f.dims, [8, 4, 3]);
    assert.equal(f.dtype, 'float');
    assert.equal(f.colorMode, 4);
    assert.equal(f.compressedSize, 8 * 4 * 3 * 4);
    assert.equal(f.uncompressedSize, 8 * 4 * 3 * 4);
    assert.ok([...(f.data as Float32Array)].every((v) => v >= -1 && v <= 1));
    if (f.uniqueId > 0) assert.deepEqual(f.dataTimeStamp, f.timeStamp);
  }
  assert.deepEqual(
    frames.map((f) => f.uniqueId),
    Array.from({ length: 21 }, (_, i) => i),
  );
});

test('-fps 1000 -rt 1 publishes 1000 frames at about 1000 fps', { timeout: TEST_TIMEOUT }, async (t) => {
  const { p, port } = await sim(
    t,
    '-nx',
    '64',
    '-ny',
    '64',
    '-fps',
    '1000',
    '-rt',
    '1',
    '-rp',
    '250',
    '--wait-clients',
    '1',
    '-std',
    '0',
    '-shd',
    '0.5',
  );
  const c = collect(client(t, port).monitor('pvapy:image', { queueSize: 100, pipeline: true }));
  assert.equal(await p.exited, 0, p.stderr());
  const { frames, fps } = summaryOf(p.stdout());
  assert.equal(frames, 1000, 'the schedule has 1000 frames within 1 s');
  assert.ok(fps > 800 && fps < 1250, `measured ${fps} fps`);
  assert.equal(p.stdout().match(/^Published frame id/gm)?.length, 4, 'a report every 250 frames');
  await c.reach(1000);
});

test('-fps 0 --lossless: a pipelined client receives every frame', { timeout: TEST_TIMEOUT }, async (t) => {
  const args = [
    '-nx',
    '128',
    '-ny',
    '128',
    '-fps',
    '0',
    '--lossless',
    '-rt',
    '1',
    '-rp',
    '0',
    '--wait-clients',
    '1',
    '-std',
    '0',
    '-shd',
    '1',
    '--json',
  ];
  const p = start(t, ['sim', '--port', '0', '--host', '127.0.0.1', ...args]);
  const port = Number((await p.line(/^\{"event":"listening","channel":"pvapy:image","host":"127\.0\.0\.1","port":(\d+)/))[1]);
  const c = collect(client(t, port).monitor('pvapy:image', { queueSize: 100, pipeline: true }));
  assert.equal(await p.exited, 0, p.stderr());
  const lines = p
    .stdout()
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(lines[0]?.['event'], 'listening', 'JSON from the first line');
  const summary = lines.find((l) => l['event'] === 'summary') as { frames: number; fps: number; reason: string };
  assert.equal(summary.reason, 'runtime');
  assert.ok(summary.frames > 1000, `only ${summary.frames} frames in 1 s`);
  await c.reach(summary.frames);
  assert.equal(c.ids.length, summary.frames + 1, 'nothing missed, nothing squashed');
  assert.ok(c.ids.every((id, i) => id === i));
});

test('sluice monitor --stats measures the stream; metadata PVs carry the frame time stamps', { timeout: TEST_TIMEOUT }, async (t) => {
  const meta = ['-mpv', 'pva://TST:m1,pva://TST:m2'];
  const { p, port } = await sim(
    t,
    '-nx',
    '64',
    '-ny',
    '64',
    '-fps',
    '200',
    '-rt',
    '0',
    '-rp',
    '200',
    '--wait-clients',
    '1',
    '-std',
    '0',
    ...meta,
  );
  await p.line(/^metadata PVs: TST:m1, TST:m2$/);
  const mon = start(t, ['monitor', '--stats', '--json', '--count', '300', 'pvapy:image'], envFor(port));
  assert.equal(await mon.exited, 0, mon.stderr());
  const final = JSON.parse(mon.stdout().trim().split('\n').at(-1) as string) as {
    final: boolean;
    updates: number;
    missed: number;
    rate: number;
  };
  assert.equal(final.final, true);
  assert.equal(final.updates, 300);
  assert.equal(final.missed, 0);
  assert.ok(final.rate > 50, `rate ${final.rate}`);
  // The metadata value posted just before a frame has the frame's time stamp.
  const c = client(t, port);
  const [m1, img] = await Promise.all([c.get('TST:m1'), c.get('pvapy:image')]);
  assert.ok(typeof m1.value['value'] === 'number' && m1.value['value'] >= 0 && m1.value['value'] < 1);
  const mTime = m1.value['timeStamp'] as { secondsPastEpoch: bigint };
  assert.ok(mTime.secondsPastEpoch > 0n);
  assert.ok((img.value['uniqueId'] as number) > 300);
  // Ctrl-C: the run ends at once with the summary, status 0.
  p.kill('SIGINT');
  assert.equal(await p.exited, 0, p.stderr());
  assert.match(p.stdout(), /^Server was interrupted after publishing \d+ frames, exiting\.\.\.$/m);
  assert.ok(summaryOf(p.stdout()).frames > 300);
});

test('unsupported inputs are refused with a clear message (exit status 2)', { timeout: TEST_TIMEOUT }, async (t) => {
  const cases: [string[], RegExp][] = [
    [['-if', 'frames.h5', '-hcm'], /--hdf-compression-mode: publishing HDF5 chunks still compressed is not supported/],
    [['-hds', '/entry/data/data'], /--hdf-dataset needs HDF5 input files/],
    [['-mpv', 'http://X'], /--metadata-pv: metadata PV 'http:\/\/X': use pva:\/\/NAME or ca:\/\/NAME/],
    [['-mpv', 'pva://X,ca://X'], /--metadata-pv: metadata PV X given twice/],
    [['-dt', 'int64'], /--datatype must be one of int8, uint8/],
    [['-cm', '1'], /colour mode 1 is not one of/],
    [['-mn', '10', '-mx', '5'], /empty value range/],
    [['-fps', 'fast'], /--frame-rate must be a number up to 1000000 \(<= 0: as fast as possible\), not 'fast'/],
  ];
  await Promise.all(
    cases.map(async ([args, re]) => {
      const r = start(t, ['sim', '--port', '0', ...args]);
      assert.equal(await r.exited, 2, `${args.join(' ')}: ${r.stderr()}`);
      assert.match(r.stderr(), re);
    }),
  );
});
