// Access rules on our Channel Access server, with our CA client announcing different users and
// hosts (CLIENT_NAME, HOST_NAME): ACCESS_RIGHTS per client, writes and reads refused with
// ECA_NOWTACCESS / ECA_NORDACCESS, and new rights sent when the rules are replaced.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { AccessPolicy, parseAcf } from '../../src/access/index.js';
import { CaClient } from '../../src/ca/client.js';
import { CaServer } from '../../src/ca/server.js';
import { SharedPV } from '../../src/pv/shared-pv.js';
import { ntscalar } from '../../src/pvdata/nt/index.js';

const ACF = `
UAG(ops) {alice}
HAG(lab) {ctl1}
ASG(DEFAULT) {
  RULE(1, READ)
  RULE(1, WRITE, TRAPWRITE) { UAG(ops) HAG(lab) }
}
ASG(SECRET) {
  RULE(1, READ) { UAG(ops) }
}
`;

async function setup(t: TestContext) {
  const logs: string[] = [];
  const policy = (text: string) => new AccessPolicy({ acf: parseAcf(text, 'test.acf'), log: (l) => logs.push(l) });
  const server = new CaServer({ host: '127.0.0.1', tcpPort: 0, udpPort: 0, access: policy(ACF) });
  await server.listen();
  t.after(() => server.close());
  const { type, value } = ntscalar.create('double', 1);
  const x = SharedPV.mailbox().open(type, value);
  const secret = SharedPV.mailbox({ accessGroup: 'SECRET' }).open(type, value);
  server.addPV('CA:x', x);
  server.addPV('CA:secret', secret);
  const as = (user: string, host: string) => {
    const c = new CaClient({
      env: { EPICS_CA_AUTO_ADDR_LIST: 'NO', EPICS_CA_ADDR_LIST: `127.0.0.1:${server.udpPort}` },
      identity: { user, host },
      timeoutMs: 3000,
      reconnectDelayMs: 50,
    });
    t.after(() => c.close());
    return c;
  };
  return { server, x, logs, as, policy };
}

test('CA: write access only for the user and host groups of the rule; TRAPWRITE logs the put', async (t) => {
  const { server, x, logs, as } = await setup(t);
  const eve = as('eve', 'ctl1');
  await assert.rejects(eve.put('CA:x', 5), /no write access/);
  assert.equal(x.value?.['value'], 1);
  assert.equal((await eve.get('CA:x')).value['value'], 1, 'eve may read');
  await as('alice', 'CTL1').put('CA:x', 7);
  assert.equal(x.value?.['value'], 7);
  assert.match(logs.at(-1) ?? '', /^put to CA:x by alice@CTL1 \[CA peer 127\.0\.0\.1:\d+\]$/);
  assert.equal(server.stats.denied, 0, 'the client knew from ACCESS_RIGHTS and did not try');
});

test('CA: a read without READ is refused with ECA_NORDACCESS and the reason', async (t) => {
  const { server, logs, as } = await setup(t);
  await assert.rejects(as('eve', 'ws9').get('CA:secret'), /access denied: eve@ws9 may not read CA:secret \(ASG SECRET\)/);
  assert.ok(server.stats.denied >= 1);
  assert.match(logs[0] ?? '', /^access denied: eve@ws9 may not read CA:secret \(ASG SECRET\) \[CA peer 127\.0\.0\.1:\d+\]$/);
  assert.equal((await as('alice', 'ws9').get('CA:secret')).value['value'], 1);
});

test('CA: replacing the rules sends new ACCESS_RIGHTS to connected clients', async (t) => {
  const { server, x, as, policy } = await setup(t);
  const eve = as('eve', 'ws9');
  await assert.rejects(eve.put('CA:x', 5), /no write access/);
  const ch = eve.channel('CA:x');
  const rights = new Promise((resolve) => ch.once('rights', resolve));
  server.access = policy('ASG(DEFAULT) { RULE(1, WRITE) }');
  assert.equal(await rights, 3);
  await eve.put('CA:x', 5);
  assert.equal(x.value?.['value'], 5);
});
