// UDP discovery over real sockets on 127.0.0.1 with ports picked by the OS. Nothing is sent
// anywhere but loopback and the 224.0.0.128 group on the loopback interface.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once, type EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import { test, type TestContext } from 'node:test';
import {
  SearchFlags,
  originTagMessage,
  parseDatagram,
  safeParseDatagram,
  searchMessage,
  type SearchRequest,
} from '../../src/pva/discovery/messages.js';
import { Searcher, type SearcherOptions } from '../../src/pva/discovery/searcher.js';
import { ServerDiscovery, type ServerDiscoveryOptions } from '../../src/pva/discovery/server-discovery.js';

const LO = '127.0.0.1';
const GUID = Uint8Array.from({ length: 12 }, (_, i) => 0xa0 + i);
const GUID_HEX = Buffer.from(GUID).toString('hex');
const T = { timeout: 10_000 };

async function server(t: TestContext, names: string[], o: Partial<ServerDiscoveryOptions> = {}): Promise<ServerDiscovery> {
  const s = new ServerDiscovery({ guid: GUID, tcpPort: 5999, udpPort: 0, bindAddress: LO, has: (n) => names.includes(n), ...o });
  t.after(() => s.close());
  await s.start();
  return s;
}

async function searcher(t: TestContext, port: number, o: Partial<SearcherOptions> = {}): Promise<Searcher> {
  // No retry within a test unless it asks for one: counts of datagrams must not depend on load.
  const s = new Searcher({ addresses: [{ host: LO, port }], bindAddress: LO, initialRetryMs: 60_000, ...o });
  t.after(() => s.close());
  await s.start();
  return s;
}

async function udpSocket(t: TestContext, port = 0, reuseAddr = false): Promise<dgram.Socket> {
  const s = dgram.createSocket({ type: 'udp4', reuseAddr });
  t.after(() => new Promise<void>((r) => s.close(() => r())).catch(() => undefined));
  s.bind(port, LO);
  await once(s, 'listening');
  return s;
}

/** Resolves when `emitter` has emitted `event` n times (counting from now). */
function times(emitter: EventEmitter, event: string, n: number, onEach?: () => void): Promise<void> {
  return new Promise((resolve) => {
    let k = 0;
    const f = () => {
      onEach?.();
      if (++k === n) {
        emitter.off(event, f);
        resolve();
      }
    };
    emitter.on(event, f);
  });
}

test('a name the server has resolves to its TCP port', T, async (t) => {
  const srv = await server(t, ['TST:a'], { tcpPort: 6123 });
  const cl = await searcher(t, srv.udpPort);
  assert.deepEqual(await cl.lookup('TST:a'), { host: LO, port: 6123, guid: GUID_HEX });
  assert.equal(cl.pending, 0);
  assert.equal(srv.stats.replies, 1);
});

test('an unknown name is retried with growing intervals until aborted', T, async (t) => {
  const srv = await server(t, []);
  const cl = await searcher(t, srv.udpPort, { initialRetryMs: 20, maxRetryMs: 5000 });
  const sentAt: number[] = [];
  const fiveSent = times(cl, 'search', 5, () => sentAt.push(performance.now()));
  const fiveReceived = times(srv, 'search', 5);
  const ac = new AbortController();
  const lookup = cl.lookup('TST:nobody', ac.signal);
  await fiveSent;
  const reason = new Error('gave up');
  ac.abort(reason);
  await assert.rejects(lookup, (e) => e === reason);
  assert.equal(cl.pending, 0);
  assert.equal(cl.stats.datagramsSent, 5);
  // Nominal gaps are 20, 40, 80, 160 ms. A busy machine only lengthens them, except that a timer
  // may fire a little early against performance.now(); without back-off they would stay ~20 ms.
  const gaps = sentAt.slice(1).map((x, i) => x - (sentAt[i] as number));
  gaps.forEach((g, i) => assert.ok(g >= 0.75 * 20 * 2 ** i, `gap ${i} is ${g.toFixed(1)} ms: ${gaps.map((x) => x.toFixed(1))}`));
  await fiveReceived;
  assert.equal(srv.stats.replies, 0); // no MUST_REPLY: the server stays silent
});

test('names asked for together share one datagram', T, async (t) => {
  const srv = await server(t, ['TST:one', 'TST:two'], { tcpPort: 6124 });
  const cl = await searcher(t, srv.udpPort);
  const seen: SearchRequest[] = [];
  srv.on('search', (s, _from, tagged) => tagged || seen.push(s)); // not the forwarded copy
  const [a, b] = await Promise.all([cl.lookup('TST:one'), cl.lookup('TST:two')]);
  assert.equal(a.port, 6124);
  assert.equal(b.port, 6124);
  assert.equal(cl.stats.datagramsSent, 1);
  assert.deepEqual(
    seen.map((s) => s.channels.map((c) => c.name)),
    [['TST:one', 'TST:two']],
  );
  assert.equal(seen[0]?.flags, SearchFlags.UNICAST); // 127.0.0.1 is a unicast target
});

test('many names are split into datagrams under 1400 bytes', T, async (t) => {
  const names = Array.from({ length: 60 }, (_, i) => `TST:${'x'.repeat(40)}:${i}`);
  const srv = await server(t, names);
  const cl = await searcher(t, srv.udpPort);
  const sizes: number[] = [];
  srv.on('search', (s, _from, tagged) => tagged || sizes.push(searchMessage(s).length));
  await Promise.all(names.map((n) => cl.lookup(n)));
  assert.ok(sizes.length >= 2 && sizes.length <= 3, `${sizes.length} datagrams`);
  assert.ok(
    sizes.every((n) => n <= 1400),
    String(sizes),
  );
});

test('a beacon from a new server re-triggers a pending search', T, async (t) => {
  // Reserve a port for the server that does not exist yet; the first search goes there.
  const placeholder = await udpSocket(t);
  const port = placeholder.address().port;
  const cl = await searcher(t, port, { beaconPort: 0 });
  const firstSearch = once(placeholder, 'message');
  const lookup = cl.lookup('TST:late');
  await firstSearch;
  await new Promise<void>((r) => placeholder.close(() => r()));
  const srv = await server(t, ['TST:late'], { udpPort: port, tcpPort: 6125, beaconAddresses: [{ host: LO, port: cl.beaconPort }] });
  // The next retry is a minute away: only the beacon can make this resolve before the timeout.
  assert.deepEqual(await lookup, { host: LO, port: 6125, guid: GUID_HEX });
  assert.equal(cl.stats.beacons, 1);
  assert.equal(cl.stats.datagramsSent, 2);
  assert.equal(srv.stats.beacons, 1);
});

test('garbage datagrams are dropped and the server keeps answering', T, async (t) => {
  const srv = await server(t, ['TST:ok'], { tcpPort: 6126 });
  const sock = await udpSocket(t);
  let seed = 7;
  const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) / (1 << 24);
  const valid = searchMessage({
    sequenceId: 1,
    flags: 0,
    replyAddress: '0.0.0.0',
    replyPort: 0,
    protocols: ['tcp'],
    channels: [{ id: 1, name: 'TST:ok' }],
  });
  const lying = Buffer.from(valid);
  lying.writeUInt16LE(900, 8 + 31); // 900 names claimed
  const garbage = [
    Buffer.alloc(0),
    Buffer.from('hello'),
    Buffer.from('cb0200030000000000', 'hex'),
    valid.subarray(0, valid.length - 3),
    lying,
    ...Array.from({ length: 20 }, () => Buffer.from(Array.from({ length: 1 + Math.floor(rand() * 100) }, () => rand() * 256))),
  ];
  for (const g of garbage) assert.equal(safeParseDatagram(g).ok, g.length === 0); // so nothing can trigger a reply
  const dropped = times(srv, 'dropped', garbage.length - 1); // the empty datagram parses as no messages
  for (const g of garbage) sock.send(g, srv.udpPort, LO);
  await dropped;
  const cl = await searcher(t, srv.udpPort);
  assert.equal((await cl.lookup('TST:ok')).port, 6126);
});

test('MUST_REPLY gets an explicit "not found"', T, async (t) => {
  const srv = await server(t, ['TST:x']);
  const sock = await udpSocket(t);
  const reply = once(sock, 'message');
  const ping = {
    sequenceId: 42,
    flags: SearchFlags.MUST_REPLY,
    replyAddress: '0.0.0.0',
    replyPort: sock.address().port,
    protocols: ['tcp'],
    channels: [{ id: 9, name: 'TST:y' }],
  };
  sock.send(searchMessage(ping, { littleEndian: false }), srv.udpPort, LO);
  const [msg] = (await reply) as [Buffer];
  const [m] = parseDatagram(msg);
  assert.equal(m?.kind, 'searchResponse');
  if (m?.kind !== 'searchResponse') return;
  assert.deepEqual(
    { ...m.body, guid: Buffer.from(m.body.guid).toString('hex') },
    {
      guid: GUID_HEX,
      sequenceId: 42,
      serverAddress: '0.0.0.0',
      serverPort: 5999,
      protocol: 'tcp',
      found: false,
      ids: [],
    },
  );
});

test('close() rejects pending lookups and leaves nothing running', T, async (t) => {
  const srv = await server(t, []);
  const cl = await searcher(t, srv.udpPort);
  const lookup = cl.lookup('TST:never');
  await cl.close();
  await assert.rejects(lookup, { code: 'ERR_CONNECTION_CLOSED' });
  await assert.rejects(cl.lookup('TST:later'), { code: 'ERR_CONNECTION_CLOSED' });
  assert.equal(cl.pending, 0);
});

// Multicast on loopback: several servers sharing one UDP port.

async function sharedPair(t: TestContext): Promise<[ServerDiscovery, ServerDiscovery] | null> {
  // The group is only received by sockets bound to the wildcard address.
  const a = await server(t, ['TST:onA'], { bindAddress: '0.0.0.0', tcpPort: 6201 });
  if (!a.fanOut) return null;
  const b = await server(t, ['TST:onB'], { bindAddress: '0.0.0.0', tcpPort: 6202, udpPort: a.udpPort });
  return b.fanOut ? [a, b] : null;
}

test('a unicast search reaches every server sharing the port (ORIGIN_TAG fan-out)', T, async (t) => {
  const pair = await sharedPair(t);
  if (!pair) return t.skip('cannot join 224.0.0.128 on 127.0.0.1 on this machine');
  const [a, b] = pair;
  const cl = await searcher(t, a.udpPort);
  const [ra, rb] = await Promise.all([cl.lookup('TST:onA'), cl.lookup('TST:onB')]);
  assert.equal(ra.port, 6201);
  assert.equal(rb.port, 6202);
  assert.equal(cl.stats.datagramsSent, 1);
  // The kernel gave the datagram to one socket only; that server forwarded it, and the name
  // held only by the other server was found through the forwarded copy.
  assert.equal(a.stats.forwarded + b.stats.forwarded, 1);
  const [receiver, other] = a.stats.forwarded === 1 ? [a, b] : [b, a];
  assert.equal(other.stats.forwarded, 0);
  assert.equal(other.stats.replies, 1);
  assert.equal(receiver.stats.replies, 1); // it answers its own forwarded copy, not the original
});

test('a search tagged by another local server is answered and never forwarded again', T, async (t) => {
  const srv = await server(t, ['TST:onA'], { bindAddress: '0.0.0.0', tcpPort: 6203 });
  if (!srv.fanOut) return t.skip('cannot join 224.0.0.128 on 127.0.0.1 on this machine');
  const sock = await udpSocket(t);
  sock.setMulticastInterface(LO);
  const reply = once(sock, 'message');
  // Even with the unicast flag left set, a tagged search is handled as received directly.
  const search = {
    sequenceId: 5,
    flags: SearchFlags.UNICAST,
    replyAddress: LO,
    replyPort: sock.address().port,
    protocols: ['tcp'],
    channels: [{ id: 3, name: 'TST:onA' }],
  };
  const searched = times(srv, 'search', 1, () => assert.equal(srv.stats.forwarded, 0));
  sock.send(Buffer.concat([originTagMessage(LO, { littleEndian: false }), searchMessage(search)]), srv.udpPort, '224.0.0.128');
  const [msg] = (await reply) as [Buffer];
  await searched;
  const [m] = parseDatagram(msg);
  assert.ok(m?.kind === 'searchResponse' && m.body.found && m.body.ids[0] === 3 && m.body.serverPort === 6203);
  assert.equal(srv.stats.forwarded, 0);
  assert.equal(srv.stats.searches, 1);
});
