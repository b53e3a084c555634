// Metadata channels end to end: `sluice sim --metadata-pv` posts metadata PVs (one over pvAccess,
// one over Channel Access) before each frame with the frame's time stamp; `sluice consumer
// --metadata-channels` queues them for the processor; examples/metadata-processor.ts associates
// them with the frames by time stamp. The sim also notifies a CA PV of this test at start.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CaServer } from '../../src/ca/server.js';
import { PvaClient } from '../../src/pva/client/client.js';
import { SharedPV } from '../../src/pv/shared-pv.js';
import { ntscalar } from '../../src/pvdata/nt/index.js';
import { freeUdpPort, loopbackEnv, startCli } from '../helpers/cli.js';
import { untilUpdate } from '../helpers/net.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

test('metadata association: frames get the metadata posted with them, as attributes', async (t) => {
  // The sim's CA server on a free port; this test's own CA server (the notify PV) on another.
  const caPort = await freeUdpPort();
  let resolveTrigger: (v: number) => void = () => {};
  const triggered = new Promise<number>((resolve) => (resolveTrigger = resolve));
  const trigger = new SharedPV({
    onPut: (pv, put) => {
      pv.postChanges(put.value, put.changed);
      resolveTrigger(put.value['value'] as number);
    },
  }).open(ntscalar.type('int'), { value: 0 });
  const ca = new CaServer({ host: '127.0.0.1', tcpPort: 0, udpPort: 0 });
  await ca.listen();
  ca.addPV('md:trigger', trigger);
  t.after(() => ca.close());
  const env = {
    ...(await loopbackEnv()),
    EPICS_CA_AUTO_ADDR_LIST: 'NO',
    EPICS_CA_SERVER_PORT: String(caPort),
    EPICS_CA_ADDR_LIST: `127.0.0.1 127.0.0.1:${ca.udpPort}`,
  };
  const client = new PvaClient({ env, timeoutMs: 10_000, beaconPort: false });
  t.after(() => client.close());
  const N = 40;
  const consumer = startCli(
    t,
    [
      'consumer',
      '-ic',
      'md:image',
      '-oc',
      'md:out',
      '-sc',
      'md:status',
      '-cc',
      'md:control',
      '-sqs',
      '100',
      '--metadata-channels',
      'pva://md:x,ca://md:y',
      '-pf',
      join(root, 'examples/metadata-processor.ts'),
      '-pc',
      'MetadataProcessor',
      '-rt',
      '60',
      '-rp',
      '0.2',
      '-dc',
    ],
    env,
  );
  // The simulator starts when the consumer and this test monitor the image.
  const sim = startCli(
    t,
    [
      'sim',
      '-cn',
      'md:image',
      '--metadata-pv',
      'pva://md:x,md:y',
      '-npv',
      'md:trigger',
      '-nvl',
      '7',
      '-nx',
      '8',
      '-ny',
      '8',
      '-fps',
      '50',
      '-rt',
      String(N / 50),
      '-std',
      '1',
      '--wait-clients',
      '2',
      '-shd',
      '2',
    ],
    env,
  );
  // Watch the metadata PVs and the output from the start; the image watch releases the sim.
  const xs = client.monitor('md:x', { queueSize: 1000 });
  const out = client.monitor('md:out', { queueSize: 1000 });
  await new Promise<void>((resolve) => xs.once('connect', () => resolve()));
  const image = client.monitor('md:image', { queueSize: 4 });
  t.after(() => (xs.close(), out.close(), image.close()));
  assert.equal(await sim.exited, 0, sim.stderr());
  assert.equal(await triggered, 7, 'the notify PV got the value');
  assert.match(sim.stdout(), /^Set notification PV md:trigger to 7$/m);

  // x values by time stamp, as posted.
  const xByTime = new Map<string, number>();
  for (let u = await xs.next(); !u.done; u = await xs.next()) {
    const ts = u.value.value['timeStamp'];
    xByTime.set(`${ts.secondsPastEpoch}.${ts.nanoseconds}`, u.value.value['value'] as number);
    if (xByTime.size === N + 1) break; // the initial value and one per frame
  }
  let checked = 0;
  for (let u = await out.next(); !u.done; u = await out.next()) {
    const v = u.value.value;
    const id = v['uniqueId'] as number;
    if (id === 0) continue; // the output PV's value before the first frame
    const ts = v['timeStamp'];
    const attrs = new Map<string, number>(
      (v['attribute'] as { name: string; value: { value: number } }[]).map((a) => [a.name, a.value?.value]),
    );
    assert.equal(
      attrs.get('md:x'),
      xByTime.get(`${ts.secondsPastEpoch}.${ts.nanoseconds}`),
      `frame ${id}: md:x is the value posted with it`,
    );
    // md:y comes over Channel Access, another connection: it may reach the consumer after its
    // frame (then the frame counts as a frame error); when it matched, it is a value of [0, 1).
    const y = attrs.get('md:y');
    if (y !== undefined) assert.ok(y >= 0 && y < 1, `frame ${id}: md:y ${y}`);
    checked++;
    if (id === N) break;
  }
  assert.ok(checked > 0, 'the output was watched (it appears with the first frame: the first ones may pass before)');
  // The status PV (refreshed every 0.2 s here) once the consumer has processed every frame and
  // received every metadata update (CA's may come after the last frame).
  const status = (await untilUpdate(
    client,
    'md:status',
    (s: Record<string, any>) => s['processorStats'].nProcessed === N && s['metadataStats_2'].receiverStats.nReceived === N + 1,
    20_000,
  )) as Record<string, any>;
  const u = status['userStats'];
  assert.equal(u.nFramesProcessed + u.nFrameErrors, N);
  assert.ok(u.nMetadataProcessed >= N + u.nFramesProcessed, 'every md:x, and md:y for every complete frame');
  assert.equal(status['metadataStats_1'].channel, 'pva://md:x');
  assert.equal(status['metadataStats_2'].channel, 'ca://md:y');
  assert.equal(status['metadataStats_1'].receiverStats.nReceived, N + 1, 'the initial value and one per frame');
  const q2 = status['metadataStats_2'].queueStats;
  assert.equal(q2.nDelivered + q2.nQueued, N + 1, 'every CA update was queued for the processor');
  consumer.kill('SIGINT');
  assert.equal(await consumer.exited, 0, consumer.stderr());
  assert.match(consumer.stdout(), /metadataStats_1 \(pva:\/\/md:x\):\n\s+receiverStats: nReceived=41 /);
});
