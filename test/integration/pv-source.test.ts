// The seam between the servers and their PVs: a minimal Source written here (not a SharedPV)
// is served by the pvAccess server and the CA server at once, both on demand (addSource) and by
// name, and read, monitored, written and called by our Client and CaClient over loopback.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { CaClient } from '../../src/ca/client.js';
import { CaServer } from '../../src/ca/server.js';
import type { CaSubscription, CaUpdate } from '../../src/ca/subscription.js';
import { RemoteError } from '../../src/errors.js';
import { PVDirectory } from '../../src/pv/directory.js';
import type { PeerInfo, PutRequest, PVSubscriber, RpcArgs, RpcResult, Source } from '../../src/pv/source.js';
import type { PvaSubscription, MonitorUpdate } from '../../src/pva/client/subscription.js';
import type { PvaServer } from '../../src/pva/server/server.js';
import { BitSet } from '../../src/pvdata/bitset.js';
import { bitOf } from '../../src/pvdata/field-numbering.js';
import { ntscalar } from '../../src/pvdata/nt/index.js';
import { completeStructure, type PVStructure } from '../../src/pvdata/values.js';
import { clientFor, startServer } from '../helpers/net.js';

/** A set point: holds a double, takes puts within limits, answers an RPC with its value doubled. */
class SetPoint implements Source {
  readonly type = ntscalar.type('double');
  value: PVStructure = completeStructure(this.type, { value: 20 });
  posts = 0;
  readonly accessGroup = undefined;
  readonly acceptsPut = true;
  readonly acceptsRpc = true;
  readonly subscribers = new Set<PVSubscriber>();
  readonly puts: { channel: string; value: unknown }[] = [];
  #closeListeners = new Set<() => void>();

  whenOpen(): Promise<void> {
    return Promise.resolve();
  }

  subscribe(s: PVSubscriber): () => void {
    this.subscribers.add(s);
    return () => this.subscribers.delete(s);
  }

  notifyRoom(): void {
    // set() reports room but never waits for it: nobody to wake.
  }

  onClosed(listener: () => void): () => void {
    this.#closeListeners.add(listener);
    return () => this.#closeListeners.delete(listener);
  }

  get closeListeners(): number {
    return this.#closeListeners.size;
  }

  /** Post a new value to every subscriber; false when one of them has no room left. */
  set(x: number): boolean {
    this.value = { ...this.value, value: x };
    this.posts++;
    const changed = BitSet.of(bitOf(this.type, 'value'));
    let room = true;
    for (const s of this.subscribers) {
      s.onPost(this.value, changed);
      if (!s.hasRoom()) room = false;
    }
    return room;
  }

  handlePut(put: PutRequest): void {
    const x = put.value['value'] as number;
    if (x > 100) throw new Error(`${x} is above the limit of 100`);
    this.puts.push({ channel: put.channel, value: x });
    this.set(x);
  }

  handleRpc(args: RpcArgs, peer: PeerInfo): RpcResult {
    const factor = Number((args.value as PVStructure)['factor'] ?? 2);
    return { value: (this.value['value'] as number) * factor, channel: peer.channel };
  }
}

async function serveBoth(t0: TestContext, serve: (pva: PvaServer, ca: CaServer) => void) {
  const { server, port } = await startServer();
  t0.after(() => server.close());
  const ca = new CaServer({ host: '127.0.0.1', tcpPort: 0, udpPort: 0 });
  await ca.listen();
  t0.after(() => ca.close());
  serve(server, ca);
  const client = clientFor(port);
  t0.after(() => client.close());
  const caClient = new CaClient({ env: { EPICS_CA_AUTO_ADDR_LIST: 'NO', EPICS_CA_ADDR_LIST: `127.0.0.1:${ca.udpPort}` }, timeoutMs: 3000 });
  t0.after(() => caClient.close());
  return { server, ca, client, caClient };
}

async function nextPva(sub: PvaSubscription): Promise<MonitorUpdate> {
  const r = await sub.next();
  assert.ok(!r.done, 'pvAccess subscription ended');
  return r.value;
}

async function nextCa(sub: CaSubscription): Promise<CaUpdate> {
  const r = await sub.next();
  assert.ok(!r.done, 'CA subscription ended');
  return r.value;
}

test('a custom Source served on demand by both servers: get, monitor, put, RPC', async (t0) => {
  const sp = new SetPoint();
  const asked: string[] = [];
  const source = (name: string): Source | undefined => {
    asked.push(name);
    return name === 'SP:1' ? sp : undefined;
  };
  const { client, caClient } = await serveBoth(t0, (pva, ca) => {
    pva.addSource(source);
    ca.addSource(source);
  });

  assert.equal((await client.get('SP:1')).value['value'], 20);
  assert.equal((await caClient.get('SP:1')).value['value'], 20);
  assert.ok(asked.includes('SP:1'));
  await assert.rejects(client.get('SP:none', { timeoutMs: 300 }));

  const pvaSub = client.monitor('SP:1');
  const caSub = caClient.monitor('SP:1');
  t0.after(() => pvaSub.close());
  t0.after(() => caSub.close());
  assert.equal((await nextPva(pvaSub)).value['value'], 20);
  assert.equal((await nextCa(caSub)).value['value'], 20);
  assert.equal(sp.subscribers.size, 2, 'one subscriber per server');

  sp.set(21.5);
  const u = await nextPva(pvaSub);
  assert.equal(u.value['value'], 21.5);
  assert.ok(u.changed.get(bitOf(sp.type, 'value')), 'the changed marks of the post reach the client');
  assert.equal((await nextCa(caSub)).value['value'], 21.5);

  // Puts go to the Source's handler, from either protocol, and come back through the monitors.
  await client.put('SP:1', { value: 30 });
  assert.equal((await nextPva(pvaSub)).value['value'], 30);
  assert.equal((await nextCa(caSub)).value['value'], 30);
  await caClient.put('SP:1', 40);
  assert.equal((await nextPva(pvaSub)).value['value'], 40);
  assert.equal((await nextCa(caSub)).value['value'], 40);
  assert.deepEqual(sp.puts, [
    { channel: 'SP:1', value: 30 },
    { channel: 'SP:1', value: 40 },
  ]);
  // A handler that throws is an error for the client, on both protocols.
  await assert.rejects(client.put('SP:1', { value: 500 }), /above the limit/);
  await assert.rejects(caClient.put('SP:1', 500), (e: unknown) => e instanceof RemoteError);
  assert.equal(sp.value['value'], 40);

  const result = await client.rpc('SP:1', { factor: 3 });
  assert.deepEqual(result.value, { value: 120, channel: 'SP:1' });

  pvaSub.close();
  caSub.close();
});

test('a Source without close(): removePV drops its channels on both servers', async (t0) => {
  const sp = new SetPoint();
  const { server, ca, client, caClient } = await serveBoth(t0, (pva, caServer) => {
    pva.addPV('SP:2', sp);
    caServer.addPV('SP:2', sp);
  });
  assert.equal((await client.get('SP:2')).value['value'], 20);
  assert.equal((await caClient.get('SP:2')).value['value'], 20);
  assert.equal(sp.closeListeners, 2, 'each server listens for the PV closing');
  assert.equal(server.stats.channels, 1);

  assert.equal(server.removePV('SP:2'), true);
  assert.equal(server.stats.channels, 0, 'the pvAccess channel is dropped at once');
  assert.equal(ca.removePV('SP:2'), true);
  assert.equal(sp.closeListeners, 0, 'both servers let go of the PV');
  await assert.rejects(client.get('SP:2', { timeoutMs: 300 }));
});

test('PVDirectory: PVs by name first, then on-demand sources in the order added', () => {
  const a = new SetPoint();
  const b = new SetPoint();
  const d = new PVDirectory();
  d.add('A', a);
  assert.throws(() => d.add('A', b), /already served/);
  d.addSource((name) => (name.startsWith('B') ? b : undefined));
  d.addSource((name) => (name === 'A' || name === 'BX' ? a : undefined));
  assert.equal(d.lookup('A'), a);
  assert.equal(d.lookup('BX'), b);
  assert.equal(d.lookup('C'), undefined);
  assert.equal(d.get('BX'), undefined, 'get() does not ask the sources');
  assert.deepEqual(d.names, ['A']);
  assert.equal(d.remove('A'), a);
  assert.equal(d.lookup('A'), a, 'the second source has it');
  assert.deepEqual(d.names, []);
});
