// `sluice get` against a hostile server that answers every connection with a message split into
// endless 1-byte segments: the CLI drops that connection with the reason (the segment limit) and
// ends with its ordinary time-out error, instead of growing until V8 runs out of heap.
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { test } from 'node:test';
import { Cmd } from '../../src/pva/constants.js';
import { startCli, loopbackEnv } from '../helpers/cli.js';
import { message } from '../helpers/messages.js';

test('sluice get survives a server flooding segments, naming the limit', { timeout: 60_000 }, async (t) => {
  const middle = message(Cmd.CONNECTION_VALIDATION, 0x30, new Uint8Array([0]));
  const flood = Buffer.concat(Array.from({ length: 10_000 }, () => middle));
  const socks = new Set<Socket>();
  let connections = 0;
  const hostile = createServer((sock) => {
    connections++;
    socks.add(sock);
    sock.on('error', () => {});
    sock.write(message(Cmd.CONNECTION_VALIDATION, 0x10, new Uint8Array([0])));
    const pump = (): void => {
      while (!sock.destroyed && sock.write(flood));
      if (!sock.destroyed) sock.once('drain', pump);
    };
    pump();
  });
  await new Promise<void>((resolve) => hostile.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    for (const s of socks) s.destroy();
    hostile.close();
  });
  const port = (hostile.address() as { port: number }).port;
  const env = { ...(await loopbackEnv()), EPICS_PVA_ADDR_LIST: '', EPICS_PVA_NAME_SERVERS: `127.0.0.1:${port}` };
  const cli = startCli(t, ['get', '-w', '3', 'SOME:pv'], env);
  const code = await cli.exited;
  assert.ok(connections >= 1, 'the CLI connected to the hostile server');
  assert.match(cli.stderr(), /split into more than 65536 segments/);
  assert.doesNotMatch(cli.stderr(), /heap|FATAL/i);
  assert.equal(code, 1, `exit code (stderr: ${cli.stderr().slice(-400)})`);
});
