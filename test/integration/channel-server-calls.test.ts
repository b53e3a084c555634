// The channel server's RPC between clients (routing, argument checks, time-outs, remote errors,
// a target leaving), hostile RPC input, and the statistics channel.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { encodeChannelType } from '../../src/channels/protocol.js';
import { t as types } from '../../src/pvdata/types.js';
import type { PVStructure } from '../../src/pvdata/values.js';
import { RemoteCallError } from '../../src/rpc/errors.js';
import { decodeValue } from '../../src/rpc/wire.js';
import { ChannelPeer, codeOf, startChannelServer } from '../helpers/channel-peer.js';

async function setup(t: TestContext, options = {}) {
  const server = await startChannelServer(options);
  const callee = new ChannelPeer(server);
  await callee.register('calc', ['add', 'fail', 'sum'], [['a', 'b'], [], ['...xs']], [2, 0, 0]);
  const caller = new ChannelPeer(server);
  await caller.register('user');
  t.after(async () => {
    callee.close();
    caller.close();
    await server.close();
  });
  return { server, callee, caller };
}

/** Answer the callee's inbox calls with `answer` (until its inbox ends). */
function serve(peer: ChannelPeer, answer: (method: string, args: unknown[]) => unknown): void {
  void (async () => {
    for (;;) {
      let m: PVStructure;
      try {
        m = await peer.next();
      } catch {
        return;
      }
      if (m['kind'] !== 'call') continue;
      const args = (m['args'] as never[]).map((a) => decodeValue(a, { fromRef: () => null }));
      try {
        const v = await answer(m['method'] as string, args);
        await peer.call('reply', m['callId'], true, v, '', '', '');
      } catch (err) {
        const e = err as Error;
        await peer.call('reply', m['callId'], false, null, e.name, e.message, e.stack ?? '').catch(() => {});
      }
    }
  })();
}

test('callClient routes a call to the target and its reply back; the caller is named', async (t) => {
  const { callee, caller } = await setup(t);
  const callers: string[] = [];
  void (async () => {
    const m = await callee.next();
    callers.push(m['caller'] as string);
    const [a, b] = (m['args'] as never[]).map((x) => decodeValue(x, { fromRef: () => null })) as number[];
    await callee.call('reply', m['callId'], true, (a as number) + (b as number), '', '', '');
  })().catch(() => {}); // the reply's own answer may come after the test closed the peers
  assert.equal(await caller.call('callClient', 'calc', 'add', [2, 3], 2000), 5);
  assert.deepEqual(callers, ['user']);
});

test('callClient checks the method and its arguments before sending', async (t) => {
  const { caller, callee } = await setup(t);
  serve(callee, (_m, args) => args.length);
  assert.equal(await codeOf(caller.call('callClient', 'nobody', 'add', [1, 2], 1000)), 'ERR_INVALID_ARGUMENT');
  assert.equal(await codeOf(caller.call('callClient', 'calc', 'mul', [1, 2], 1000)), 'ERR_INVALID_ARGUMENT');
  await assert.rejects(caller.call('callClient', 'calc', 'add', [1], 1000), /needs at least 2 argument/);
  await assert.rejects(caller.call('callClient', 'calc', 'add', [1, 2, 3], 1000), /takes at most 2 argument/);
  assert.equal(await caller.call('callClient', 'calc', 'sum', [1, 2, 3, 4], 1000), 4);
});

test('a remote error reaches the caller with its name, message and stack', async (t) => {
  const { caller, callee } = await setup(t);
  serve(callee, () => {
    throw new RangeError('out of range here');
  });
  try {
    await caller.call('callClient', 'calc', 'fail', [], 2000);
    assert.fail('no error');
  } catch (err) {
    assert.ok(err instanceof RemoteCallError);
    assert.equal(err.remoteName, 'RangeError');
    assert.equal(err.remoteMessage, 'out of range here');
    assert.match(err.remoteStack, /RangeError: out of range here/);
    assert.equal(err.remoteCode, 'ERR_REMOTE');
  }
});

test('a call without a reply fails with ERR_TIMEOUT; a late reply is refused', async (t) => {
  const { caller, callee } = await setup(t);
  const started = Date.now();
  const failing = codeOf(caller.call('callClient', 'calc', 'add', [1, 2], 150));
  const m = await callee.next();
  assert.equal(await failing, 'ERR_TIMEOUT');
  assert.ok(Date.now() - started >= 140);
  assert.equal(await codeOf(callee.call('reply', m['callId'], true, 3, '', '', '')), 'ERR_INVALID_ARGUMENT');
});

test('only the target may answer a call; a target that leaves fails its pending calls', async (t) => {
  const { caller, callee } = await setup(t);
  const pending = codeOf(caller.call('callClient', 'calc', 'add', [1, 2], 5000));
  const m = await callee.next();
  assert.equal(await codeOf(caller.call('reply', m['callId'], true, 3, '', '', '')), 'ERR_ACCESS_DENIED');
  callee.close();
  assert.equal(await pending, 'ERR_CONNECTION_CLOSED');
});

test('hostile RPC input gets clear errors and the server keeps serving', async (t) => {
  const { caller, server } = await setup(t);
  const bad: [string, unknown[]][] = [
    ['createChannel', [null]],
    ['createChannel', [{ name: 5 }]],
    ['createChannel', [{ name: 'x'.repeat(500) }]],
    ['createChannel', [{ name: 'ok', typeBytes: new Uint8Array([0xfd, 0xff, 0xff, 0x7f]) }]],
    ['createChannel', [{ name: 'ok2', typeBytes: 'not bytes' }]],
    ['createChannel', [{ name: 'ok3', multiWriter: 'yes' }]],
    ['channelInfo', [{ evil: true }]],
    ['openWriter', ['../../etc', null, null]],
    ['callClient', ['calc', 'add', 'not a list', 100]],
    ['callClient', ['calc', 'add', [1, 2], -5]],
    ['callClient', ['calc', 'add', [1, 2], 'soon']],
    ['reply', ['x', true, 1, '', '', '']],
    ['reply', [1.5, true, 1, '', '', '']],
    ['hello', [['list'], 1, 2, 3]],
    ['constructor', []],
  ];
  for (const [method, args] of bad) {
    const code = await codeOf(caller.call(method, ...args));
    assert.ok(/^ERR_/.test(code) || code === '', `${method}: ${code}`);
  }
  await assert.rejects(caller.call('__proto__'), /not reachable|not a function/);
  // Still serving.
  assert.deepEqual(await caller.call('listChannels'), []);
  assert.equal(server.channels.size, 0);
});

test('the statistics channel posts channel, reader and client counters', async (t) => {
  const { caller, server } = await setup(t, { statsChannel: 'load', statsIntervalMs: 50 });
  const vt = encodeChannelType(types.struct([['value', types.double]]));
  await caller.call('createChannel', { name: 'data', typeBytes: vt });
  await caller.call('openWriter', 'data', null, null);
  const reader = caller.client.monitor('data', { request: 'record[queueSize=8,policy=ring]' });
  t.after(() => reader.close());
  await reader.next();
  for (let i = 0; i < 5; i++) await caller.client.put('data', { value: i });
  const stats = caller.client.monitor('load', { request: 'record[queueSize=2,policy=ring]' });
  t.after(() => stats.close());
  for (;;) {
    const v = (await stats.next()).value.value as Record<string, Record<string, ArrayLike<number> & string[]>>;
    const channels = v['channels'] as Record<string, ArrayLike<number> & string[]>;
    const i = Array.from(channels['name'] ?? []).indexOf('data');
    if (i < 0 || (channels['messages'] as ArrayLike<number>)[i] !== 5) continue;
    assert.equal((channels['readers'] as ArrayLike<number>)[i], 1);
    const clients = v['clients'] as Record<string, ArrayLike<number> & string[]>;
    const u = Array.from(clients['name'] ?? []).indexOf('user');
    assert.ok((clients['bytesIn'] as ArrayLike<number>)[u] ?? 0 > 0);
    const readers = v['readers'] as Record<string, ArrayLike<number> & string[]>;
    assert.ok(Array.from(readers['channel'] ?? []).includes('data'));
    break;
  }
  assert.ok(server.channels.has('load'));
  assert.equal(await codeOf(caller.call('deleteChannel', 'load', '')), 'ERR_ACCESS_DENIED');
});
