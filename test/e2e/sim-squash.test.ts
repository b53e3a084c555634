// What the simulator's server could not deliver is in its summary: per client, the frames
// squashed because the client's queue was full and those left unsent, and the total.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PvaClient } from '../../src/pva/client/client.js';
import { loopbackEnv, startCli } from '../helpers/cli.js';

test('sim summary: frames squashed for a client that does not keep up, per client and in total', { timeout: 60_000 }, async (t) => {
  const env = await loopbackEnv();
  const client = new PvaClient({ env, timeoutMs: 10_000, beaconPort: false });
  t.after(() => client.close());
  const sim = startCli(
    t,
    [
      'sim',
      '-cn',
      'img',
      '-nx',
      '16',
      '-ny',
      '16',
      '-fps',
      '200',
      '-rt',
      '1',
      '-std',
      '0.3',
      '--wait-clients',
      '2',
      '-shd',
      '0.5',
      '--json',
    ],
    env,
  );
  // One client takes everything; the other never reads: pipeline credit 4, server queue 4.
  const fast = client.monitor('img', { queueSize: 1000 });
  const stalled = client.monitor('img', { queueSize: 4, pipeline: true });
  let got = 0;
  const reading = (async () => {
    for await (const _ of fast) if (++got === 201) break;
  })();
  assert.equal(await sim.exited, 0, sim.stderr());
  await reading;
  stalled.close();
  const events = sim
    .stdout()
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, any>);
  const total = events.find((e) => e['event'] === 'clients');
  const clients = events.filter((e) => e['event'] === 'client');
  assert.ok(total, sim.stdout());
  assert.equal(clients.length, 2);
  const [a, b] = clients.sort((x, y) => x['squashed'] - y['squashed']);
  assert.deepEqual({ posted: a?.['posted'], sent: a?.['sent'], squashed: a?.['squashed'] }, { posted: 200, sent: 201, squashed: 0 });
  assert.equal(b?.['posted'], 200);
  assert.equal(b?.['sent'], 4, 'the pipeline credit: nothing more was asked for');
  assert.ok(b?.['squashed'] > 150, `squashed ${b?.['squashed']}`);
  assert.equal(b?.['sent'] + b?.['squashed'] + b?.['unsent'], 201, 'every frame due (and the initial value) accounted for');
  assert.equal(total['squashed'], b?.['squashed']);
  assert.match(String(a?.['peer']), /^127\.0\.0\.1:\d+$/);
});
