// Source.authorize: a PV may refuse an operation as it starts (a per-channel key, say), after the
// server's access rules allowed it. pvAccess asks at the INIT of get, put, monitor and RPC, with
// the pvRequest's options; Channel Access asks for 'get' and 'put' to compute the rights it sends,
// and again at each read, write and subscription. The refusal's message reaches the client.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { AccessPolicy } from '../../src/access/index.js';
import { CaClient } from '../../src/ca/client.js';
import { CaServer } from '../../src/ca/server.js';
import { RemoteError, SluiceError } from '../../src/errors.js';
import { SharedPV } from '../../src/pv/shared-pv.js';
import type { AccessRequest, OperationKind } from '../../src/pv/source.js';
import { ntscalar } from '../../src/pvdata/nt/index.js';
import { clientFor, startServer } from '../helpers/net.js';

/** A mailbox with an RPC that refuses the operations in `refused`, and puts without key=k1. */
class KeyedPV extends SharedPV {
  readonly refused = new Set<OperationKind>();
  readonly asked: AccessRequest[] = [];
  constructor() {
    super({ onPut: (pv, put) => void pv.postChanges(put.value, put.changed), onRpc: () => ({ ok: true }) });
    const { type, value } = ntscalar.create('double', 1);
    this.open(type, value);
  }
  authorize(request: AccessRequest): void {
    this.asked.push(request);
    if (this.refused.has(request.operation)) {
      // A plain Error and a SluiceError both reach the client as their message.
      if (request.operation === 'rpc') throw new Error('calls need an appointment');
      throw new SluiceError('ERR_ACCESS_DENIED', `${request.operation} refused for ${request.account} on ${request.channel}`);
    }
    if (request.operation === 'put' && request.options['key'] !== undefined && request.options['key'] !== 'k1') {
      throw new Error('wrong key');
    }
  }
}

const remote = (re: RegExp) => (e: unknown) => e instanceof RemoteError && re.test(e.message);

async function pvaSetup(t0: TestContext) {
  const logs: string[] = [];
  const { server, port } = await startServer({ access: new AccessPolicy({ log: (l) => logs.push(l) }) });
  t0.after(() => server.close());
  const pv = new KeyedPV();
  server.addPV('K', pv);
  const client = clientFor(port, { identity: { user: 'bob' } });
  t0.after(() => client.close());
  return { server, pv, client, logs };
}

test('pvAccess: authorize refuses each kind of operation at its INIT, with its message', async (t0) => {
  const { server, pv, client, logs } = await pvaSetup(t0);
  // Nothing refused: all four work, each asked once with who asks and the request's options.
  assert.equal((await client.get('K', { request: 'record[key=k1]' })).value['value'], 1);
  await client.put('K', { value: 2 });
  assert.deepEqual((await client.rpc('K', {})).value, { ok: true });
  const sub = client.monitor('K');
  assert.equal((await sub.next()).done, false);
  sub.close();
  assert.deepEqual(
    pv.asked.map((r) => r.operation),
    ['get', 'put', 'rpc', 'monitor'],
  );
  const first = pv.asked[0] as AccessRequest;
  assert.equal(first.channel, 'K');
  assert.equal(first.account, 'bob');
  assert.match(first.peer, /^127\.0\.0\.1:\d+$/);
  assert.deepEqual(first.options, { key: 'k1' });

  pv.refused.add('get');
  await assert.rejects(client.get('K'), remote(/get refused for bob on K/));
  pv.refused.clear();
  pv.refused.add('put');
  await assert.rejects(client.put('K', { value: 3 }), remote(/put refused for bob on K/));
  assert.equal(pv.value?.['value'], 2, 'the refused put did not reach the PV');
  pv.refused.clear();
  pv.refused.add('rpc');
  await assert.rejects(client.rpc('K', {}), remote(/calls need an appointment/));
  pv.refused.clear();
  pv.refused.add('monitor');
  const refusedSub = client.monitor('K');
  await assert.rejects(refusedSub.next(), remote(/monitor refused for bob on K/));
  refusedSub.close();
  assert.equal(server.stats.monitors, 0);
  pv.refused.clear();

  // The put's own options: a wrong key is refused, the right one passes.
  await assert.rejects(client.put('K', { value: 4 }, { request: 'record[key=nope]' }), remote(/wrong key/));
  await client.put('K', { value: 5 }, { request: 'record[key=k1]' });
  assert.equal(pv.value?.['value'], 5);

  assert.equal(server.stats.denied, 5);
  assert.match(logs[0] ?? '', /^K: get refused: get refused for bob on K \[pvAccess peer 127\.0\.0\.1:\d+\]$/);
  assert.equal(logs.length, 5);
});

async function caSetup(t0: TestContext) {
  const logs: string[] = [];
  const server = new CaServer({ host: '127.0.0.1', tcpPort: 0, udpPort: 0, access: new AccessPolicy({ log: (l) => logs.push(l) }) });
  await server.listen();
  t0.after(() => server.close());
  const pv = new KeyedPV();
  server.addPV('CA:K', pv);
  const client = new CaClient({
    env: { EPICS_CA_AUTO_ADDR_LIST: 'NO', EPICS_CA_ADDR_LIST: `127.0.0.1:${server.udpPort}` },
    identity: { user: 'carol', host: 'ws1' },
    timeoutMs: 3000,
  });
  t0.after(() => client.close());
  return { server, pv, client, logs };
}

test('Channel Access: a refused get is no read, with the message; a refused put is no write right', async (t0) => {
  const { server, pv, client, logs } = await caSetup(t0);
  pv.refused.add('get');
  await assert.rejects(client.get('CA:K'), remote(/get refused for carol on CA:K/));
  assert.ok(
    pv.asked.every((r) => r.channel === 'CA:K' && Object.keys(r.options).length === 0),
    'CA has no options',
  );
  assert.match(logs.at(-1) ?? '', /^CA:K: get refused: get refused for carol on CA:K \[CA peer 127\.0\.0\.1:\d+\]$/);
  pv.refused.clear();
  assert.equal((await client.get('CA:K')).value['value'], 1);
  await client.put('CA:K', 6);
  assert.equal(pv.value?.['value'], 6);

  // A put refused when the channel connects: the client is told it has no write access.
  pv.refused.add('put');
  const other = new CaClient({
    env: { EPICS_CA_AUTO_ADDR_LIST: 'NO', EPICS_CA_ADDR_LIST: `127.0.0.1:${server.udpPort}` },
    identity: { user: 'carol', host: 'ws1' },
    timeoutMs: 3000,
  });
  t0.after(() => other.close());
  await assert.rejects(other.put('CA:K', 7), /no write access/);
  assert.equal(pv.value?.['value'], 6);
  // The first client's rights were computed before: its write is refused by the server itself.
  await assert.rejects(client.put('CA:K', 8), (e: unknown) => e instanceof RemoteError);
  assert.equal(pv.value?.['value'], 6);
  assert.match(logs.at(-1) ?? '', /^CA:K: put refused: put refused for carol on CA:K/);
});

test('Channel Access: a refused monitor fails the subscription with the message; reads still work', async (t0) => {
  const { pv, client } = await caSetup(t0);
  pv.refused.add('monitor');
  const sub = client.monitor('CA:K');
  await assert.rejects(sub.next(), remote(/monitor refused for carol on CA:K/));
  sub.close();
  assert.equal((await client.get('CA:K')).value['value'], 1);
  pv.refused.clear();
  const ok = client.monitor('CA:K');
  t0.after(() => ok.close());
  assert.equal((await ok.next()).done, false);
});
