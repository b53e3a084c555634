// Forwarded searches (ORIGIN_TAG) as pvAccessCPP and PVXS send them, and the interface list
// honoured for UDP. Real sockets; datagrams go to 127.0.0.1, to this host's own interface
// address, or to 224.0.0.128 on the loopback interface, never onto a network.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { networkInterfaces } from 'node:os';
import { test, type TestContext } from 'node:test';
import { LocalAddresses } from '../../src/pva/discovery/local-addresses.js';
import { originTagMessage, parseDatagram, searchMessage, type SearchRequest } from '../../src/pva/discovery/messages.js';
import { ServerDiscovery, type ServerDiscoveryOptions } from '../../src/pva/discovery/server-discovery.js';
import { PvaServer } from '../../src/pva/server/server.js';
import { SharedPV } from '../../src/pv/shared-pv.js';
import { ntscalar } from '../../src/pvdata/nt/index.js';

const LO = '127.0.0.1';
const GROUP = '224.0.0.128';
const GUID = Uint8Array.from({ length: 12 }, (_, i) => 0xb0 + i);
const T = { timeout: 10_000 };
/** This host's first non-loopback IPv4 address: where pvAccessCPP binds its search socket. */
const IFACE = Object.values(networkInterfaces())
  .flat()
  .find((a) => a?.family === 'IPv4' && !a.internal)?.address;
const NO_IFACE = 'this host has no non-loopback IPv4 address';

async function discovery(t: TestContext, o: Partial<ServerDiscoveryOptions> = {}): Promise<ServerDiscovery> {
  const s = new ServerDiscovery({ guid: GUID, tcpPort: 6300, udpPort: 0, has: (n) => n === 'TST:fwd', ...o });
  t.after(() => s.close());
  await s.start();
  return s;
}

async function udpSocket(t: TestContext, host = LO): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  t.after(() => new Promise<void>((r) => s.close(() => r())).catch(() => undefined));
  s.bind(0, host);
  await once(s, 'listening');
  s.setMulticastInterface(LO); // what a forwarding server does: the group on loopback only
  return s;
}

function search(seq: number, replyPort: number, flags = 0): SearchRequest {
  return { sequenceId: seq, flags, replyAddress: LO, replyPort, protocols: ['tcp'], channels: [{ id: seq, name: 'TST:fwd' }] };
}

/** A forward as pvAccessCPP writes it: tag and search in the host's (little-endian) order. */
function forward(origin: string, s: SearchRequest): Buffer {
  return Buffer.concat([originTagMessage(origin, { littleEndian: true }), searchMessage(s, { littleEndian: true })]);
}

function firstReply(sock: dgram.Socket): Promise<{ seq: number; serverAddress: string }> {
  return once(sock, 'message').then(([msg]) => {
    const [m] = parseDatagram(msg as Buffer);
    assert.ok(m?.kind === 'searchResponse' && m.body.found);
    return { seq: m.body.sequenceId, serverAddress: m.body.serverAddress };
  });
}

test('a forward sent from an interface address (pvAccessCPP) is answered', T, async (t) => {
  if (!IFACE) return t.skip(NO_IFACE);
  const srv = await discovery(t);
  if (!srv.fanOut) return t.skip('cannot join 224.0.0.128 on 127.0.0.1 on this machine');
  const client = await udpSocket(t);
  const forwarder = await udpSocket(t, IFACE); // source address: the interface, not 127.0.0.1
  const reply = firstReply(client);
  forwarder.send(forward(IFACE, search(7, client.address().port)), srv.udpPort, GROUP);
  assert.equal((await reply).seq, 7);
  assert.deepEqual([srv.stats.refused, srv.stats.replies, srv.stats.forwarded], [0, 1, 0]);
});

test('a tagged search not received through the group is refused; the server keeps answering', T, async (t) => {
  const refusals: string[] = [];
  const srv = await discovery(t, { bindAddress: LO });
  srv.on('refused', (reason) => refusals.push(reason));
  const client = await udpSocket(t);
  const refused = once(srv, 'refused');
  client.send(forward(LO, search(1, client.address().port)), srv.udpPort, LO);
  await refused;
  const reply = firstReply(client);
  client.send(searchMessage(search(2, client.address().port)), srv.udpPort, LO);
  assert.equal((await reply).seq, 2);
  assert.deepEqual(refusals, ['ORIGIN_TAG not received through 224.0.0.128']);
});

test('a forward from a sender that is not this host is refused', T, async (t) => {
  if (!IFACE) return t.skip(NO_IFACE);
  // This host's addresses as seen by the server: loopback only, so IFACE plays a remote peer.
  const srv = await discovery(t, { localAddresses: new LocalAddresses(() => ({})) });
  if (!srv.fanOut) return t.skip('cannot join 224.0.0.128 on 127.0.0.1 on this machine');
  const forwarder = await udpSocket(t, IFACE);
  const refused = once(srv, 'refused');
  forwarder.send(forward('0.0.0.0', search(3, 9)), srv.udpPort, GROUP);
  assert.deepEqual((await refused)[0], 'sender is not an address of this host');
  assert.equal(srv.stats.replies, 0);
});

test('a forward naming an origin that is not local is refused', T, async (t) => {
  const srv = await discovery(t);
  if (!srv.fanOut) return t.skip('cannot join 224.0.0.128 on 127.0.0.1 on this machine');
  const client = await udpSocket(t);
  const refused = once(srv, 'refused');
  client.send(forward('203.0.113.7', search(4, client.address().port)), srv.udpPort, GROUP);
  assert.deepEqual((await refused)[0], 'origin 203.0.113.7 is not local');
});

test('listening on 127.0.0.1: bound there only, forwards for other interfaces refused', T, async (t) => {
  const srv = await discovery(t, { bindAddresses: [LO] });
  assert.deepEqual(srv.boundAddresses, [LO, GROUP]);
  assert.ok(srv.fanOut);
  const client = await udpSocket(t);
  const port = client.address().port;
  if (IFACE) {
    const refused = once(srv, 'refused');
    client.send(forward(IFACE, search(5, port)), srv.udpPort, GROUP);
    assert.equal((await refused)[0], `origin ${IFACE} is not an address we listen on`);
  }
  for (const [seq, origin] of [
    [6, LO],
    [8, '0.0.0.0'],
  ] as const) {
    const reply = firstReply(client);
    client.send(forward(origin, search(seq, port)), srv.udpPort, GROUP);
    assert.equal((await reply).seq, seq);
  }
});

test('EPICS_PVAS_INTF_ADDR_LIST=127.0.0.1: searches to other interfaces go unanswered', T, async (t) => {
  if (!IFACE) return t.skip(NO_IFACE);
  const env = { EPICS_PVAS_INTF_ADDR_LIST: LO, EPICS_PVAS_AUTO_BEACON_ADDR_LIST: 'NO', EPICS_PVAS_BEACON_ADDR_LIST: '' };
  const server = new PvaServer({ port: 0, udpPort: 0, env });
  server.addPV('TST:fwd', SharedPV.readonly().open(ntscalar.type('double'), { value: 1 }));
  t.after(() => server.close());
  await server.listen();
  const client = await udpSocket(t);
  const port = client.address().port;
  const reply = firstReply(client);
  // Both datagrams travel in order through loopback; a server listening on every address
  // would answer the first one first.
  client.send(searchMessage(search(1, port)), server.udpPort, IFACE);
  client.send(searchMessage(search(2, port)), server.udpPort, LO);
  // The reply names the address TCP listens on, not "any" (which means the packet's source).
  assert.deepEqual(await reply, { seq: 2, serverAddress: LO });
});
