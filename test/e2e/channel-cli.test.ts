// `sluice channel create|list|info|write|read|delete` against a channel server on port 0: the
// real CLI, spawned, finding the server through EPICS_PVA_NAME_SERVERS.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startChannelServer } from '../helpers/channel-peer.js';
import { envFor, mailbox, run, start } from '../helpers/cli-session.js';

const TIMEOUT = 60_000;

test('create, list, write, read, info and delete from the command line', { timeout: TIMEOUT }, async (t) => {
  const server = await startChannelServer();
  t.after(() => server.close());
  const env = envFor(server.port);
  const created = await run(t, ['channel', 'create', '--persist', '--multi-writer', '--json', 'demo'], env);
  assert.equal(created.code, 0, created.err);
  const { controlKey } = JSON.parse(created.out) as { controlKey: string };
  assert.ok(controlKey.length > 0);

  const listed = await run(t, ['channel', 'list', '--json'], env);
  assert.equal(listed.code, 0, listed.err);
  assert.deepEqual(
    listed.out
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { name: string }).name),
    ['demo'],
  );

  // The writer first: with no reader it waits (pause); the reader comes and gets all 5 values, then the end mark.
  const writer = start(t, ['channel', 'write', '-n', '5', 'demo', '2.5'], env);
  const reader = start(t, ['channel', 'read', '--policy', 'wait', '--writer', 'demo'], env);
  assert.equal(await writer.exited, 0, writer.stderr());
  assert.match(writer.stderr(), /wrote 5 value/);
  assert.equal(await reader.exited, 0, reader.stderr());
  const lines = reader.stdout().trim().split('\n');
  assert.equal(lines.length, 6, reader.stdout());
  assert.ok(
    lines.slice(0, 5).every((l, i) => new RegExp(`^demo \\[sluice-cli-\\d+#${i + 1}\\] \\d{4}-\\d\\d-\\d\\d [\\d:.]+ +2\\.5 *$`).test(l)),
    reader.stdout(),
  );
  assert.match(lines[5] as string, /#6 end\] .* 2\.5 *$/);
  assert.match(reader.stderr(), /received 5, missing from writer sequences 0/);

  const info = await run(t, ['channel', 'info', 'demo'], env);
  assert.equal(info.code, 0, info.err);
  assert.match(info.out, /^demo\n {2}owner sluice-cli-\d+, public, multi-writer, persists/);
  assert.match(info.out, /5 messages|6 messages/);
  assert.match(info.out, /type: epics:nt\/NTScalar:1\.0/);

  const refused = await run(t, ['channel', 'delete', '--control-key', 'wrong', 'demo'], env);
  assert.equal(refused.code, 1);
  const deleted = await run(t, ['channel', 'delete', '--control-key', controlKey, 'demo'], env);
  assert.equal(deleted.code, 0, deleted.err);
  assert.equal((await run(t, ['channel', 'list', '--json'], env)).out.trim(), '');

  const usage = await run(t, ['channel', 'read', '--policy', 'sometimes', 'x'], env);
  assert.equal(usage.code, 2);
  assert.match(usage.err, /--policy must be one of ring, clear, skip, wait, raise/);
});

test("write --from relays a PV's updates into a channel", { timeout: TIMEOUT }, async (t) => {
  const server = await startChannelServer();
  t.after(() => server.close());
  const source = await mailbox(t, 'src:x=1');
  // The CLI finds the PV through the search (the mailbox) and the channel server by --server.
  const env = envFor(undefined, { EPICS_PVA_NAME_SERVERS: `127.0.0.1:${source.port}` });
  const at = ['--server', `127.0.0.1:${server.port}`];
  assert.equal((await run(t, ['channel', 'create', ...at, '--persist', '--multi-writer', 'relayed'], env)).code, 0);
  const writer = start(t, ['channel', 'write', ...at, '--from', 'src:x', '-n', '3', 'relayed'], env);
  const reader = start(t, ['channel', 'read', ...at, '--policy', 'wait', 'relayed'], env);
  // The first value relayed is the PV's current one; then two puts follow it through.
  await reader.line(/^relayed .* 1 *$/);
  for (const v of ['2', '3']) assert.equal((await run(t, ['put', 'src:x', v], env)).code, 0);
  assert.equal(await writer.exited, 0, writer.stderr());
  assert.equal(await reader.exited, 0, reader.stderr());
  const values = reader
    .stdout()
    .trim()
    .split('\n')
    .map((l) => l.trim().split(/\s+/).at(-1));
  assert.deepEqual(values, ['1', '2', '3'], reader.stdout());
});
