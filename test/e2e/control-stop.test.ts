// Stopping a consumer or a collector through its control PV with `sluice put`: the put succeeds
// (exit 0, the reply is sent before the host closes its server) and the host exits with its final
// report. A refused `configure` fails the put with the reason.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { PvaClient } from '../../src/pva/client/client.js';
import { loopbackEnv, startCli, type CliProcess } from '../helpers/cli.js';

const TIMEOUT = 60_000;

async function setup(t: TestContext): Promise<{ env: NodeJS.ProcessEnv; client: PvaClient; start: (args: string[]) => CliProcess }> {
  const env = await loopbackEnv();
  const client = new PvaClient({ env, timeoutMs: 10_000, beaconPort: false });
  t.after(() => client.close());
  return { env, client, start: (args) => startCli(t, args, env, 20_000) };
}

/** The host serves its control PV once a get of it answers (the get waits for the search). */
async function served(client: PvaClient, name: string): Promise<void> {
  await client.get(name);
  client.close(); // leave nothing connected: the stop waits only for the putter
}

for (const [kind, args] of [
  ['consumer', ['consumer', '-ic', 'nothing:here', '-cc', 'host:control', '-dc']],
  ['collector', ['collector', '-ic', 'nothing:*:here', '-pid', '1,2', '-cc', 'host:control', '-dc']],
] as const) {
  test(
    `${kind}: sluice put '{"command":"stop"}' into the control PV exits 0, and the ${kind} stops with its report`,
    { timeout: TIMEOUT },
    async (t) => {
      const { client, start } = await setup(t);
      const host = start([...args]);
      await served(client, 'host:control');
      const put = start(['put', 'host:control', '{"command":"stop"}']);
      assert.equal(await put.exited, 0, `sluice put: ${put.stderr()}`);
      assert.equal(await host.exited, 0, host.stderr());
      assert.match(host.stdout(), new RegExp(`${kind} 1 final`));
    },
  );
}

test('consumer: a configure out of range fails the put with the reason, and changes nothing', { timeout: TIMEOUT }, async (t) => {
  const { client, start } = await setup(t);
  const host = start(['consumer', '-ic', 'nothing:here', '-cc', 'host:control', '-rqs', '10', '-dc']);
  await served(client, 'host:control');
  const bad = start(['put', 'host:control', '{"command":"configure","args":"{\\"receiverQueueSize\\":-99}"}']);
  assert.equal(await bad.exited, 1, bad.stdout());
  assert.match(bad.stderr(), /Configuration failed: receiverQueueSize must be an integer from 0 to 1000000, not -99/);
  const noNumber = start(['put', 'host:control', '{"command":"configure","args":"{\\"skipInitialUpdates\\":\\"x\\"}"}']);
  assert.equal(await noNumber.exited, 1, noNumber.stdout());
  assert.match(noNumber.stderr(), /skipInitialUpdates must be an integer from 0 to 2147483647, not "x"/);
  const good = start(['put', 'host:control', '{"command":"configure","args":"{\\"receiverQueueSize\\":5}"}']);
  assert.equal(await good.exited, 0, good.stderr());
  const stop = start(['put', 'host:control', '{"command":"stop"}']);
  assert.equal(await stop.exited, 0, stop.stderr());
  assert.equal(await host.exited, 0, host.stderr());
});
