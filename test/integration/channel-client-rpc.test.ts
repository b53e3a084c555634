// remote(): calling another client's exported methods through the channel server, with argument
// checks against the target's signatures before sending, per-call time-outs and remote errors.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ChannelClient } from '../../src/channels/index.js';
import { RemoteCallError } from '../../src/rpc/errors.js';
import { startChannelServer } from '../helpers/channel-peer.js';

class Instrument {
  calls = 0;
  echo(a: unknown, b: unknown = null): unknown[] {
    this.calls++;
    return ['echo', a, b];
  }
  async slow(ms: number): Promise<string> {
    await new Promise((r) => setTimeout(r, ms));
    return 'late';
  }
  fail(why: string): never {
    throw new RangeError(`refused: ${why}`);
  }
  sum(...xs: number[]): number {
    return xs.reduce((a, b) => a + b, 0);
  }
  secret(): string {
    return 'not exported';
  }
}

class Prefixed {
  rpc_scale(x: number, k = 2): number {
    return x * k;
  }
  hidden(): number {
    return 0;
  }
}

async function setup(t0: import('node:test').TestContext) {
  const server = await startChannelServer();
  const address = `127.0.0.1:${server.port}`;
  const instrument = new Instrument();
  const a = await ChannelClient.connect({
    address,
    name: 'daq',
    exports: { object: instrument, methods: ['echo', 'slow', 'fail', 'sum'] },
  });
  const p = await ChannelClient.connect({ address, name: 'calc', exports: { object: new Prefixed(), prefix: 'rpc_' } });
  const b = await ChannelClient.connect({ address, name: 'control' });
  t0.after(async () => {
    await Promise.all([a.close(), p.close(), b.close()]);
    await server.close();
  });
  return { a, b, instrument };
}

test('remote() calls exported methods by name and returns their results', async (t0) => {
  const { b, instrument } = await setup(t0);
  const daq = await b.remote('daq');
  assert.deepEqual([...daq._methods].sort(), ['echo', 'fail', 'slow', 'sum']);
  assert.deepEqual(await daq.echo('hello', { n: 1 }), ['echo', 'hello', { n: 1 }]);
  assert.deepEqual(await daq.echo(Float64Array.of(1, 2)), ['echo', Float64Array.of(1, 2), null]);
  assert.equal(await daq.sum(1, 2, 3, 4), 10);
  assert.equal(instrument.calls, 2);
  const calc = await b.remote('calc');
  assert.deepEqual(calc._methods, ['scale']);
  assert.equal(await calc.scale(3), 6);
  assert.equal(await calc.scale(3, 5), 15);
});

test('wrong argument counts and unknown methods fail before anything is sent', async (t0) => {
  const { b, instrument } = await setup(t0);
  const daq = await b.remote('daq');
  await assert.rejects(daq.echo(), (e: Error & { code?: string }) => e.code === 'ERR_INVALID_ARGUMENT' && /at least 1/.test(e.message));
  await assert.rejects(
    daq.echo(1, 2, 3),
    (e: Error & { code?: string }) => e.code === 'ERR_INVALID_ARGUMENT' && /at most 2/.test(e.message),
  );
  await assert.rejects(
    daq.secret(),
    (e: Error & { code?: string }) => e.code === 'ERR_INVALID_ARGUMENT' && /exports no method secret/.test(e.message),
  );
  await assert.rejects(
    daq.echo(() => 1),
    (e: Error & { code?: string }) => e.code === 'ERR_INVALID_ARGUMENT',
  );
  assert.equal(instrument.calls, 0);
  await assert.rejects(b.remote('nobody'), /nobody/);
});

test('a remote exception arrives with its name, message and stack; a slow target times out per call', async (t0) => {
  const { b } = await setup(t0);
  const daq = await b.remote('daq');
  await assert.rejects(daq.fail('too hot'), (e: unknown) => {
    assert.ok(e instanceof RemoteCallError);
    assert.match(e.message, /refused: too hot/);
    assert.match(e.remoteStack, /RangeError|refused: too hot/);
    return true;
  });
  const t1 = Date.now();
  await assert.rejects(daq._call('slow', [2000], { timeout: 150 }), (e: Error & { code?: string; remoteCode?: string }) =>
    [e.code, e.remoteCode].includes('ERR_TIMEOUT'),
  );
  assert.ok(Date.now() - t1 < 1500, "the time-out was the call's own");
  const quick = daq._options({ timeout: 3000 });
  assert.equal(await quick.slow(10), 'late');
});
