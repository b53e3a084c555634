// `sluice server` spawned as a user runs it: a client registers, creates a channel and writes to
// it, `sluice monitor` reads it with a reader buffer, `sluice call` reaches the channel service,
// the statistics channel is readable, the plain table is printed, and SIGTERM stops it cleanly.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_PREFIX, encodeChannelType } from '../../src/channels/protocol.js';
import { t as types } from '../../src/pvdata/types.js';
import { ChannelPeer } from '../helpers/channel-peer.js';
import { envFor, run, start } from '../helpers/cli-session.js';

test('sluice server serves channels to our client and to sluice monitor, and stops on SIGTERM', async (t) => {
  const server = start(
    t,
    ['server', '--port', '0', '--host', '127.0.0.1', '--stats-channel', 'load', '--stats-period', '0.1', '--report-period', '0.2'],
    envFor(),
  );
  const port = Number((await server.line(/^listening on 127\.0\.0\.1:(\d+)$/))[1]);
  await server.line(/^channel service on sluice:server:rpc, statistics on load$/);
  const env = envFor(port);
  const peer = new ChannelPeer({ port, prefix: DEFAULT_PREFIX });
  t.after(() => peer.close());
  await peer.register('writer');
  await peer.call('createChannel', { name: 'demo', typeBytes: encodeChannelType(types.struct([['value', types.double]])) });
  await peer.call('openWriter', 'demo', null, null);

  const monitor = start(t, ['monitor', '-r', 'record[queueSize=10,policy=ring]', 'demo'], env);
  await monitor.line(/^demo /);
  await server.line(/^demo\s+writer\s+1\s+1\s/);
  for (let i = 1; i <= 3; i++) await peer.client.put('demo', { value: i });
  await monitor.line(/^demo .*value 3|^demo .*3/);

  const listed = await run(t, ['call', `${DEFAULT_PREFIX}:rpc`, 'method=server.channelInfo', 'name=demo'], env);
  assert.equal(listed.code, 0, listed.err);
  assert.match(listed.out, /demo/);
  assert.match(listed.out, /writer/);

  const stats = await run(t, ['get', 'load'], env);
  assert.equal(stats.code, 0, stats.err);
  assert.match(stats.out, /demo/);

  monitor.kill('SIGINT');
  await monitor.exited;
  server.kill('SIGTERM');
  assert.equal(await server.exited, 0);
  assert.match(server.stdout(), /client writer registered/);
  assert.match(server.stdout(), /stopping the channel server/);
});

test('sluice server refuses bad options with status 2', async (t) => {
  const bad = await run(t, ['server', '--port', '0', '--stats-channel', 'a b'], envFor());
  assert.equal(bad.code, 2);
  assert.match(bad.err, /--stats-channel must be 1-200 letters/);
  const prefix = await run(t, ['server', '--port', '0', '--prefix', 'x y'], envFor());
  assert.equal(prefix.code, 2);
  assert.match(prefix.err, /--prefix must be/);
});
