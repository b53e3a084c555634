// A real Server on 127.0.0.1 with a well-behaved Client monitoring and getting all along, while
// raw sockets misbehave: junk, bad headers, absurd sizes, truncation, unknown commands, deep or
// inconsistent types, bad ids, requests before validation, broken segmentation, and a peer that
// floods GETs of a big PV without reading. Each bad connection must be refused for the right
// reason (or answered with an error status and kept), the process must not crash, memory must stay
// bounded, and the good client must see correct values throughout.
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { test } from 'node:test';
import { setImmediate as nextLoop } from 'node:timers/promises';
import { SluiceError } from '../../src/errors.js';
import { BitSet } from '../../src/pvdata/bitset.js';
import { bitOf } from '../../src/pvdata/field-numbering.js';
import { t } from '../../src/pvdata/types.js';
import { encodeBitSet } from '../../src/pvdata/value-codec.js';
import { Cmd, Sub } from '../../src/pva/constants.js';
import type { ServerConnection } from '../../src/pva/server/server-conn.js';
import { SharedPV } from '../../src/pv/shared-pv.js';
import type { PvaServer } from '../../src/pva/server/server.js';
import { headerOf, message, unhex } from '../helpers/messages.js';
import { clientFor, startServer } from '../helpers/net.js';
import { prng, randInt, randomBytes } from '../helpers/random.js';
import {
  build,
  createChannel,
  handshake,
  initReplyType,
  initRequest,
  nextOf,
  opRequest,
  rawConnect,
  replyHead,
  retainedBuffers,
} from '../helpers/raw-client.js';

const MAX_MESSAGE = 1 << 20;
const HARD_LIMIT = 8 << 20;
const BIG = 1 << 20;

const counterT = t.struct({ value: t.double, seq: t.long }, 'epics:nt/NTScalar:1.0');
const bigT = t.struct({ value: t.array('ubyte'), uniqueId: t.int });
const oddT = t.struct({ u: t.union({ a: t.int, b: t.string }), arr: t.array('double'), value: t.int });

/** Which server connection serves a raw socket, and how it ended. */
class Closes {
  readonly #reasons = new Map<ServerConnection, Error | null>();
  readonly #waiters = new Map<ServerConnection, (r: Error | null) => void>();
  constructor(readonly server: PvaServer) {
    server.onConnectionClosed((c, reason) => {
      this.#reasons.set(c, reason);
      this.#waiters.get(c)?.(reason);
    });
  }
  /** The server side of `sock` (call while it is open: its peer name is cached then). */
  of(sock: Socket): ServerConnection {
    const name = `127.0.0.1:${sock.localPort}`;
    const c = [...this.server.connections].find((x) => x.peerName() === name);
    assert.ok(c, `no server connection for ${name}`);
    return c;
  }
  /** Resolves with the close reason (null: the peer hung up). */
  whenClosed(c: ServerConnection, timeoutMs = 5000): Promise<Error | null> {
    if (this.#reasons.has(c)) return Promise.resolve(this.#reasons.get(c) as Error | null);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`connection ${c.peerName()} still open after ${timeoutMs} ms`)), timeoutMs);
      this.#waiters.set(c, (r) => {
        clearTimeout(timer);
        resolve(r);
      });
    });
  }
}

function assertRefused(reason: Error | null, code: string, re: RegExp): void {
  assert.ok(reason instanceof SluiceError, `closed with a SluiceError, got ${String(reason)}`);
  assert.equal(reason.code, code, `code of '${reason.message}'`);
  assert.match(reason.message, re);
}

/** An ECHO round trip: proves the connection is up and the server has handled what came before. */
async function echo(peer: Awaited<ReturnType<typeof rawConnect>>['peer'], tag: number): Promise<void> {
  const payload = new Uint8Array([tag & 0xff, 0xec, 0x40, 0x00]);
  peer.send(message(Cmd.ECHO, 0, payload));
  for (;;) {
    const m = await peer.next(3000);
    if (headerOf(m).command === Cmd.ECHO && m[8] === payload[0] && m[9] === 0xec) return;
  }
}

test('hostile peers are refused for the right reason while a good client keeps working', async (t0) => {
  const { server, port } = await startServer({ limits: { maxMessageSize: MAX_MESSAGE, sendHardLimit: HARD_LIMIT } });
  const closes = new Closes(server);
  const counter = SharedPV.readonly().open(counterT, { value: 0, seq: 0n });
  const big = SharedPV.readonly().open(bigT, { value: Uint8Array.from({ length: BIG }, (_, i) => i & 0xff), uniqueId: 7 });
  const odd = SharedPV.mailbox().open(oddT, { u: { field: 'a', value: 1 }, arr: Float64Array.of(1, 2), value: 5 });
  server.addPV('GOOD:counter', counter).addPV('BIG:wave', big).addPV('ODD:pv', odd);
  const client = clientFor(port);
  t0.after(async () => {
    client.close();
    await server.close();
  });

  // The good client: a counter posted every 2 ms, monitored and read in a loop all along.
  let n = 0;
  const ticker = setInterval(() => counter.post({ value: ++n, seq: BigInt(n) }), 2);
  const sub = client.monitor('GOOD:counter');
  const seen: number[] = [];
  let monitorError: unknown = null;
  const awaited: { target: { value: number; resolve: () => void } | null } = { target: null };
  const monitoring = (async () => {
    try {
      for await (const u of sub) {
        const v = u.value['value'] as number;
        seen.push(v);
        if (awaited.target && v >= awaited.target.value) awaited.target.resolve();
      }
    } catch (e) {
      monitorError = e;
    }
  })();
  /** Resolves when the monitor delivers `value` or a later one (at once if it already has). */
  const monitorReaches = (value: number): Promise<void> =>
    (seen[seen.length - 1] ?? -1) >= value ? Promise.resolve() : new Promise((resolve) => (awaited.target = { value, resolve }));
  let gets = 0;
  let stopGets = false;
  const getting = (async () => {
    while (!stopGets) {
      const r = await client.get('GOOD:counter');
      assert.equal(r.value['seq'], BigInt(r.value['value'] as number), 'get sees a consistent value');
      gets++;
    }
  })();
  await client.get('GOOD:counter');
  const baseline = retainedBuffers();
  const rssBefore = process.memoryUsage().rss;
  const seenBefore = seen.length;
  const getsBefore = gets;
  const postsBefore = n;

  await t0.test('random bytes (seeded) after the greeting: refused, no crash', async () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const rng = prng(seed);
      const { sock, peer } = await rawConnect(port);
      await peer.waitCount(2);
      const conn = closes.of(sock);
      const junk = randomBytes(rng, 4096);
      if (junk[0] === 0xca) junk[0] = 0xcb;
      peer.send(junk);
      const reason = await closes.whenClosed(conn);
      assertRefused(reason, 'ERR_PROTOCOL', /bad magic byte 0x[0-9a-f]+/);
      sock.destroy();
    }
  });

  await t0.test('valid headers with random commands and payloads: each refused or survived, never a crash', async () => {
    const rng = prng(42);
    let refused = 0;
    let survived = 0;
    for (let i = 0; i < 60; i++) {
      const { sock, peer } = await rawConnect(port);
      await handshake(peer);
      const conn = closes.of(sock);
      const command = rng() < 0.7 ? randInt(rng, 0, 22) : randInt(rng, 23, 255);
      peer.send(message(command, rng() < 0.2 ? 0x80 : 0, randomBytes(rng, randInt(rng, 0, 200))));
      try {
        await echo(peer, i);
        survived++;
      } catch {
        const reason = await closes.whenClosed(conn);
        assert.ok(reason instanceof SluiceError, `command ${command}: closed with ${String(reason)}`);
        assert.ok(
          ['ERR_DECODE', 'ERR_PROTOCOL', 'ERR_LIMIT'].includes(reason.code),
          `command ${command}: ${reason.code} ${reason.message}`,
        );
        refused++;
      }
      sock.destroy();
    }
    assert.equal(refused + survived, 60);
    assert.ok(refused > 0 && survived > 0, `both outcomes happen (refused ${refused}, survived ${survived})`);
  });

  await t0.test('bad magic byte: refused with ERR_PROTOCOL', async () => {
    const { sock, peer } = await rawConnect(port);
    await peer.waitCount(2);
    const conn = closes.of(sock);
    peer.send('cb 02 00 01 00 00 00 00');
    assertRefused(await closes.whenClosed(conn), 'ERR_PROTOCOL', /bad magic byte 0xcb/);
    await peer.whenEnded();
  });

  await t0.test('a header claiming 4 GB: refused at once, nothing allocated', async () => {
    const before = retainedBuffers();
    for (const flags of [0x00, 0x80]) {
      const { sock, peer } = await rawConnect(port);
      await handshake(peer);
      const conn = closes.of(sock);
      peer.send(message(Cmd.GET, flags).subarray(0, 4));
      peer.send('ff ff ff ff');
      const reason = await closes.whenClosed(conn);
      assertRefused(reason, 'ERR_MESSAGE_TOO_LARGE', /4294967295 bytes/);
      assert.match((reason as Error).message, new RegExp(`limit of ${MAX_MESSAGE}`));
    }
    // One byte over the limit is refused too; exactly the limit is accepted (an unknown command, ignored).
    {
      const { sock, peer } = await rawConnect(port);
      await handshake(peer);
      const conn = closes.of(sock);
      peer.send(unhex(`ca 02 00 0a ${Buffer.from(Uint32Array.of(MAX_MESSAGE + 1).buffer).toString('hex')}`));
      assertRefused(await closes.whenClosed(conn), 'ERR_MESSAGE_TOO_LARGE', new RegExp(`${MAX_MESSAGE + 1} bytes`));
    }
    {
      const { sock, peer } = await rawConnect(port);
      await handshake(peer);
      peer.send(message(0xee, 0, new Uint8Array(MAX_MESSAGE)));
      await echo(peer, 1);
      assert.equal(closes.of(sock).closed, false);
      sock.destroy();
    }
    assert.ok(retainedBuffers() - before < 16 << 20, 'no large allocation for refused sizes');
  });

  await t0.test('truncated messages then close: the connection is dropped cleanly', async () => {
    const cases = [
      'ca 02 00', // half a header
      'ca 02 00 07 64 00 00 00 01 00 41 30', // CREATE_CHANNEL claiming 100 bytes, 4 sent
      'ca 02 10 0a 04 00 00 00 01 00 00 00', // a first segment, never continued
    ];
    for (const bytes of cases) {
      const { sock, peer } = await rawConnect(port);
      await handshake(peer);
      const conn = closes.of(sock);
      peer.send(bytes);
      sock.end();
      assert.equal(await closes.whenClosed(conn), null, `${bytes}: the peer ended, no error`);
      assert.ok(!server.connections.has(conn), 'forgotten by the server');
    }
  });

  await t0.test('unknown commands are ignored and the connection stays usable', async () => {
    const { sock, peer } = await rawConnect(port);
    await handshake(peer);
    for (const cmd of [0xee, 0xff, Cmd.ACL_CHANGE, Cmd.MULTIPLE_DATA, Cmd.BEACON, Cmd.SEARCH_RESPONSE, Cmd.ORIGIN_TAG, 23, 100]) {
      peer.send(message(cmd, 0, '01 02 03 04 05'));
    }
    peer.send('ca 02 01 07 00 00 00 00'); // an unknown control message
    await echo(peer, 3);
    const sid = await createChannel(peer, 'GOOD:counter', 1);
    peer.send(initRequest(Cmd.GET, sid, 10));
    initReplyType(await nextOf(peer, Cmd.GET));
    peer.send(opRequest(Cmd.GET, sid, 10, Sub.DEFAULT));
    const { status } = replyHead(await nextOf(peer, Cmd.GET));
    assert.equal(status.type, 0);
    assert.equal(closes.of(sock).closed, false);
    sock.destroy();
  });

  /** Connect, validate, create ODD:pv; returns the pieces. */
  async function ready(
    name = 'ODD:pv',
  ): Promise<{ sock: Socket; peer: Awaited<ReturnType<typeof rawConnect>>['peer']; conn: ServerConnection; sid: number }> {
    const { sock, peer } = await rawConnect(port);
    await handshake(peer);
    const conn = closes.of(sock);
    const sid = await createChannel(peer, name, 77);
    return { sock, peer, conn, sid };
  }

  await t0.test('a pvRequest 10,000 structures deep: refused with ERR_LIMIT', async () => {
    const { peer, conn, sid } = await ready();
    // structure { structure a { structure a { … } } }: `80 00 01 01 61` 10,000 times.
    const deep = Buffer.concat([...Array.from({ length: 10_000 }, () => unhex('80 00 01 01 61')), unhex('80 00 00')]);
    peer.send(
      build(Cmd.GET, (w) => {
        w.i32(sid);
        w.i32(1);
        w.u8(Sub.INIT);
        w.bytes(deep);
      }),
    );
    assertRefused(await closes.whenClosed(conn), 'ERR_LIMIT', /type nesting deeper than 64/);
  });

  await t0.test("'any' inside 'any' 20,000 deep, and 0xFD chains: refused, no stack overflow", async () => {
    {
      const { peer, conn, sid } = await ready();
      const anys = new Uint8Array(20_000).fill(0x82);
      peer.send(
        build(Cmd.GET, (w) => {
          w.i32(sid);
          w.i32(2);
          w.u8(Sub.INIT);
          w.bytes(anys);
          w.u8(0x22);
          w.i32(0);
        }),
      );
      assertRefused(await closes.whenClosed(conn), 'ERR_LIMIT', /'any' values nested deeper than 64/);
    }
    {
      const { peer, conn, sid } = await ready();
      const chain = Buffer.concat(Array.from({ length: 30_000 }, () => unhex('fd 01 00')));
      peer.send(
        build(Cmd.GET, (w) => {
          w.i32(sid);
          w.i32(3);
          w.u8(Sub.INIT);
          w.bytes(chain);
          w.bytes(unhex('80 00 00'));
        }),
      );
      assertRefused(await closes.whenClosed(conn), 'ERR_DECODE', /type cache definition followed by 0xfd/);
    }
  });

  await t0.test('a type cache id used before its definition: refused with ERR_DECODE', async () => {
    const { peer, conn, sid } = await ready();
    peer.send(
      build(Cmd.GET, (w) => {
        w.i32(sid);
        w.i32(4);
        w.u8(Sub.INIT);
        w.bytes(unhex('fe 07 00'));
      }),
    );
    assertRefused(await closes.whenClosed(conn), 'ERR_DECODE', /type cache id 7 used before it was defined/);
  });

  await t0.test('a union selector out of range, an array count larger than the message: ERR_DECODE', async () => {
    const putData = async (bit: number, body: string, re: RegExp): Promise<void> => {
      const { peer, conn, sid } = await ready();
      peer.send(initRequest(Cmd.PUT, sid, 5));
      initReplyType(await nextOf(peer, Cmd.PUT));
      peer.send(
        opRequest(Cmd.PUT, sid, 5, Sub.DEFAULT, (w) => {
          encodeBitSet(w, BitSet.of(bit));
          w.bytes(unhex(body));
        }),
      );
      assertRefused(await closes.whenClosed(conn), 'ERR_DECODE', re);
    };
    await putData(bitOf(oddT, 'u'), '09 05 00 00 00', /union selector 9 out of range \(2 members\)/);
    await putData(bitOf(oddT, 'arr'), 'fe ff ff ff 0f 00 00 00 00 00 00 f0 3f', /truncated double\[\]/);
    // The PV is unchanged by the refused puts.
    assert.deepEqual(odd.value?.['u'], { field: 'a', value: 1 });
    assert.deepEqual(odd.value?.['arr'], Float64Array.of(1, 2));
  });

  await t0.test('unknown channel or request ids get an error status; the connection stays up', async () => {
    const { sock, peer, sid } = await ready('GOOD:counter');
    const expectError = async (req: Uint8Array, command: number, re: RegExp): Promise<void> => {
      peer.send(req);
      const h = replyHead(await nextOf(peer, command));
      assert.equal(h.status.type, 2, `error status for ${re}`);
      assert.match(h.status.message, re);
    };
    await expectError(initRequest(Cmd.GET, 999, 20), Cmd.GET, /no channel with server id 999/);
    await expectError(opRequest(Cmd.GET, sid, 4242, Sub.DEFAULT), Cmd.GET, /no get request with id 4242/);
    await expectError(opRequest(Cmd.PUT, sid, 4243, Sub.GET), Cmd.PUT, /no put request with id 4243/);
    await expectError(
      opRequest(Cmd.MONITOR, sid, 4244, Sub.ACK, (w) => w.i32(2)),
      Cmd.MONITOR,
      /no monitor request with id 4244/,
    );
    await expectError(
      build(Cmd.GET_FIELD, (w) => {
        w.i32(999);
        w.i32(21);
        w.string('');
      }),
      Cmd.GET_FIELD,
      /no channel with server id 999/,
    );
    // A GET on a request id that is a monitor is refused too, and destroying unknown requests is harmless.
    peer.send(initRequest(Cmd.MONITOR, sid, 30));
    initReplyType(await nextOf(peer, Cmd.MONITOR));
    await expectError(opRequest(Cmd.GET, sid, 30, Sub.DEFAULT), Cmd.GET, /no get request with id 30/);
    await expectError(initRequest(Cmd.GET, sid, 30), Cmd.GET, /request id 30 is already in use/);
    peer.send(
      build(Cmd.DESTROY_REQUEST, (w) => {
        w.i32(sid);
        w.i32(5555);
      }),
    );
    await echo(peer, 4);
    // Still a working connection.
    peer.send(initRequest(Cmd.GET, sid, 31));
    initReplyType(await nextOf(peer, Cmd.GET));
    peer.send(opRequest(Cmd.GET, sid, 31, Sub.DEFAULT));
    assert.equal(replyHead(await nextOf(peer, Cmd.GET)).status.type, 0);
    assert.equal(closes.of(sock).closed, false);
    sock.destroy();
  });

  await t0.test('requests before validation: refused with ERR_PROTOCOL', async () => {
    for (const m of [
      build(Cmd.CREATE_CHANNEL, (w) => {
        w.u16(1);
        w.i32(1);
        w.string('GOOD:counter');
      }),
      initRequest(Cmd.GET, 1, 1),
    ]) {
      const { sock, peer } = await rawConnect(port);
      await peer.waitCount(2);
      const conn = closes.of(sock);
      peer.send(m);
      assertRefused(await closes.whenClosed(conn), 'ERR_PROTOCOL', /before connection validation/);
    }
  });

  await t0.test('broken segmentation: another command in the middle, or a middle without a first', async () => {
    const cases: [string, RegExp][] = [
      ['ca 02 10 0a 04 00 00 00 01 00 00 00 ca 02 30 0b 02 00 00 00 00 00', /segment of command 11 inside a message of command 10/],
      ['ca 02 10 0a 04 00 00 00 01 00 00 00 ca 02 00 0a 02 00 00 00 00 00', /unsegmented message \(command 10\) inside a segmented one/],
      ['ca 02 30 0a 02 00 00 00 00 00', /middle or last segment \(command 10\) without a first one/],
    ];
    for (const [bytes, re] of cases) {
      const { sock, peer } = await rawConnect(port);
      await handshake(peer);
      const conn = closes.of(sock);
      peer.send(bytes);
      assertRefused(await closes.whenClosed(conn), 'ERR_PROTOCOL', re);
    }
    // A well-formed segmented request (control messages may sit between segments) works.
    const { sock, peer, sid } = await ready('GOOD:counter');
    peer.send(initRequest(Cmd.GET, sid, 40));
    initReplyType(await nextOf(peer, Cmd.GET));
    const get = opRequest(Cmd.GET, sid, 40, Sub.DEFAULT).subarray(8); // 9-byte payload
    peer.send(message(Cmd.GET, 0x10, get.subarray(0, 3)));
    peer.send('ca 02 01 03 2a 00 00 00'); // echo request (control)
    peer.send(message(Cmd.GET, 0x30, get.subarray(3, 5)));
    peer.send(message(Cmd.GET, 0x20, get.subarray(5)));
    const ctl = await peer.next();
    assert.deepEqual(headerOf(ctl), { version: 2, flags: 0x41, command: 4, size: 0x2a, control: true }, 'echo response');
    assert.equal(replyHead(await nextOf(peer, Cmd.GET)).status.type, 0);
    assert.equal(closes.of(sock).closed, false);
    sock.destroy();
  });

  await t0.test('a client flooding GETs of a 1 MiB PV without reading is cut off at sendHardLimit', async () => {
    const before = retainedBuffers();
    const { sock, peer, conn, sid } = await ready('BIG:wave');
    peer.send(initRequest(Cmd.GET, sid, 50));
    initReplyType(await nextOf(peer, Cmd.GET));
    sock.pause(); // never read again
    const getReq = opRequest(Cmd.GET, sid, 50, Sub.DEFAULT);
    let sent = 0;
    let maxPending = 0;
    for (let burst = 0; burst < 400 && !conn.closed; burst++) {
      for (let i = 0; i < 4; i++) sock.write(getReq);
      sent += 4;
      await nextLoop();
      maxPending = Math.max(maxPending, conn.pendingOut);
    }
    const reason = await closes.whenClosed(conn);
    assertRefused(reason, 'ERR_LIMIT', /does not read: \d+ bytes unsent/);
    const unsent = Number(/(\d+) bytes unsent/.exec((reason as Error).message)?.[1]);
    assert.ok(unsent > HARD_LIMIT, `closed once more than ${HARD_LIMIT} bytes were unsent (${unsent})`);
    assert.ok(sent < 400 * 4, 'closed before the flood ended');
    assert.ok(retainedBuffers() - before < 32 << 20, 'memory bounded (replies share the PV array, then are dropped)');
    sock.destroy();
  });

  // The good client saw everything through: its monitor moves on by 20 more posts, then the last.
  await monitorReaches(Math.max(n, postsBefore) + 20);
  clearInterval(ticker);
  const final = n;
  stopGets = true;
  await getting;
  const last = await client.get('GOOD:counter');
  assert.equal(last.value['value'], final);
  assert.equal(last.value['seq'], BigInt(final));
  // The last post squashes into the queue's newest entry, so the monitor always delivers it.
  await monitorReaches(final);
  assert.equal(seen[seen.length - 1], final, 'the monitor got the last value');
  for (let i = 1; i < seen.length; i++) assert.ok(seen[i]! > seen[i - 1]!, 'monitor values increase');
  assert.ok(seen.length - seenBefore >= 20, `the monitor kept receiving (${seen.length - seenBefore} updates)`);
  assert.ok(gets - getsBefore >= 5, `gets kept succeeding (${gets - getsBefore})`);
  assert.equal(monitorError, null);
  sub.close();
  await monitoring;
  const grown = retainedBuffers() - baseline;
  assert.ok(grown < 32 << 20, `retained buffers grew by ${grown} bytes`);
  const rssGrowth = process.memoryUsage().rss - rssBefore;
  assert.ok(rssGrowth < 200 << 20, `rss grew by ${rssGrowth >> 20} MiB`);
  assert.ok(server.stats.rejected >= 20, `rejected connections counted (${server.stats.rejected})`);
});

test('headers claiming large (allowed) sizes do not make the server allocate before the bytes arrive', async (t0) => {
  const { server, port } = await startServer(); // default maxMessageSize (256 MiB)
  t0.after(() => server.close());
  const closes = new Closes(server);
  const before = retainedBuffers();
  const socks: Socket[] = [];
  const conns: ServerConnection[] = [];
  for (let i = 0; i < 8; i++) {
    const { sock, peer } = await rawConnect(port);
    await handshake(peer);
    const conn = closes.of(sock);
    const received = conn.bytesIn;
    const h = new Uint8Array(8 + 10);
    h.set([0xca, 2, 0, Cmd.GET]);
    new DataView(h.buffer).setUint32(4, 200 << 20, true);
    peer.send(h);
    socks.push(sock);
    conns.push(conn);
    // No event says the server has read them: poll its byte counter (bounded).
    for (let k = 0; k < 400 && conn.bytesIn < received + h.length; k++) await new Promise((r) => setTimeout(r, 5));
    assert.equal(conn.bytesIn, received + h.length);
  }
  const grown = retainedBuffers() - before;
  assert.ok(conns.every((c) => !c.closed));
  for (const s of socks) s.destroy();
  assert.ok(grown < 64 << 20, `server holds ${grown >> 20} MiB for 8 x 10 bytes received`);
});
