// Access rules on our pvAccess server, with our client announcing different users and hosts
// over loopback: puts and RPCs refused with a clear status (and logged), allowed for the right
// user and host group, reads refused, and rules replaced while clients are connected.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { AccessPolicy, parseAcf, parsePvList } from '../../src/access/index.js';
import { RemoteError } from '../../src/errors.js';
import { SharedPV } from '../../src/pv/shared-pv.js';
import { ntscalar } from '../../src/pvdata/nt/index.js';
import { clientFor, startServer } from '../helpers/net.js';

const ACF = `
UAG(ops) {alice}
HAG(lab) {ctl1}
ASG(DEFAULT) {
  RULE(1, READ)
  RULE(1, WRITE, TRAPWRITE) { UAG(ops) }
}
ASG(CONTROL) {
  RULE(1, READ)
  RULE(1, WRITE) { UAG(ops) HAG(lab) }
}
ASG(SECRET) {
  RULE(1, READ) { UAG(ops) }
}
`;

async function setup(t: TestContext, acfText = ACF) {
  const logs: string[] = [];
  const policy = (text: string, pvlist?: string): AccessPolicy =>
    new AccessPolicy({
      acf: parseAcf(text, 'test.acf'),
      pvlist: pvlist ? parsePvList(pvlist, 'test.pvlist') : undefined,
      log: (l) => logs.push(l),
    });
  const { server, port } = await startServer({ access: policy(acfText) });
  const { type, value } = ntscalar.create('double', 1);
  const x = SharedPV.mailbox().open(type, value);
  const calls: string[] = [];
  const rpc = new SharedPV({ onRpc: (_pv, _args, peer) => (calls.push(peer.account), { value: 42 }) }).open(type, value);
  const control = SharedPV.mailbox({ accessGroup: 'CONTROL' }).open(type, value);
  const secret = SharedPV.mailbox({ accessGroup: 'SECRET' }).open(type, value);
  server.addPV('TST:x', x).addPV('TST:rpc', rpc).addPV('TST:control', control).addPV('TST:secret', secret);
  const as = (user: string, host: string, timeoutMs = 5000) => {
    const c = clientFor(port, { identity: { user, host }, timeoutMs });
    t.after(() => c.close());
    return c;
  };
  t.after(() => server.close());
  return { server, port, x, control, calls, logs, as, policy };
}

const denied = (re: RegExp) => (err: unknown) => err instanceof RemoteError && re.test(err.message);

test('a put is refused with a clear status for a user outside the rule, and logged with the peer', async (t) => {
  const { server, x, logs, as } = await setup(t);
  const eve = as('eve', 'ws9');
  await assert.rejects(eve.put('TST:x', { value: 5 }), denied(/: access denied: eve@ws9 may not put to TST:x \(ASG DEFAULT\)$/));
  assert.equal(x.value?.['value'], 1, 'nothing was written');
  assert.equal(server.stats.denied, 1);
  assert.equal(server.stats.puts, 0);
  assert.match(logs[0] ?? '', /^access denied: eve@ws9 may not put to TST:x \(ASG DEFAULT\) \[pvAccess peer 127\.0\.0\.1:\d+\]$/);
  // The same client may still read, and its connection is intact.
  assert.equal((await eve.get('TST:x')).value['value'], 1);
  // alice (in UAG ops) may; TRAPWRITE logs her put.
  await as('alice', 'ws9').put('TST:x', { value: 6 });
  assert.equal(x.value?.['value'], 6);
  assert.match(logs[1] ?? '', /^put to TST:x by alice@ws9 \[pvAccess peer 127\.0\.0\.1:\d+\]$/);
});

test('RPC needs WRITE (or RPC): refused for others, the handler never runs', async (t) => {
  const { calls, as } = await setup(t);
  await assert.rejects(
    as('eve', 'ws9').rpc('TST:rpc', {}),
    denied(/: access denied: eve@ws9 may not call RPC on TST:rpc \(ASG DEFAULT\)$/),
  );
  assert.deepEqual(calls, []);
  assert.deepEqual((await as('alice', 'ws9').rpc('TST:rpc', {})).value, { value: 42 });
  assert.deepEqual(calls, ['alice']);
});

test('a CONTROL PV needs both the user group and the host group', async (t) => {
  const { control, as } = await setup(t);
  await assert.rejects(as('alice', 'ws9').put('TST:control', { value: 2 }), denied(/alice@ws9 may not put to TST:control \(ASG CONTROL\)/));
  await assert.rejects(as('eve', 'CTL1').put('TST:control', { value: 2 }), denied(/eve@CTL1 may not put to TST:control/));
  await as('alice', 'CTL1').put('TST:control', { value: 3 });
  assert.equal(control.value?.['value'], 3, 'host names compare without regard to case');
});

test('without READ the channel is refused, and the client says why', async (t) => {
  const { as } = await setup(t);
  await assert.rejects(
    as('eve', 'ws9', 300).get('TST:secret'),
    /not connected after 300 ms \(last error: TST:secret: access denied: eve@ws9 may not read TST:secret \(ASG SECRET\)\)/,
  );
  assert.equal((await as('alice', 'ws9').get('TST:secret')).value['value'], 1);
});

test('replacing the rules applies to open channels: lost READ closes them, new WRITE allows puts', async (t) => {
  const { server, x, as, policy } = await setup(t);
  const alice = as('alice', 'ws9');
  const eve = as('eve', 'ws9');
  const updates = alice.monitor('TST:secret')[Symbol.asyncIterator]();
  assert.equal((await updates.next()).value?.value['value'], 1);
  await assert.rejects(eve.put('TST:x', { value: 9 }), denied(/eve@ws9 may not put/));
  const closed = new Promise((resolve) => alice.channel('TST:secret').once('disconnect', resolve));
  server.access = policy('ASG(DEFAULT) { RULE(1, WRITE) }\nASG(SECRET)');
  assert.match(String(await closed), /the server closed the channel/);
  await eve.put('TST:x', { value: 9 });
  assert.equal(x.value?.['value'], 9);
  await updates.return?.();
});

test('a PV list hides denied names from searches, and refuses them by host', async (t) => {
  const { server, as, policy } = await setup(t);
  server.access = policy('ASG(DEFAULT) { RULE(1, WRITE) }', 'TST:.* ALLOW\nTST:secret DENY\nTST:x DENY FROM ws9');
  assert.equal(server.has('TST:secret'), false);
  assert.equal(server.has('TST:x'), true);
  await assert.rejects(as('eve', 'ws9', 300).get('TST:x'), /access denied: eve@ws9 may not read TST:x: line 3 of test\.pvlist denies it/);
  assert.equal((await as('eve', 'ws1').get('TST:x')).value['value'], 1);
});
