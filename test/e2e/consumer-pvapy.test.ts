// `sluice consumer` where a PvaPy user would notice: --input-args and --output-args reach the
// processor's config as PvaPy passes them (the JSON text), and the RPC service of the rpc input
// mode answers pvinfo (GET_FIELD) and pvget with the reply to the last call.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { loopbackEnv, startCli } from '../helpers/cli.js';

test('rpc input mode: config.inputArgs/outputArgs, and sluice info / get / call on the service', { timeout: 60_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-consumer-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'show-config.mjs');
  await writeFile(
    file,
    'export class ShowConfig {\n' +
      '  constructor(c) { console.log("config " + JSON.stringify({ inputArgs: c.inputArgs, outputArgs: c.outputArgs })); }\n' +
      '  process(v) { return v; }\n' +
      '}\n',
  );
  const env = await loopbackEnv();
  const ia = '{"a": 1}';
  const oa = '{"b": [2]}';
  const consumer = startCli(
    t,
    ['consumer', '-ic', 'pvapy:rpc:in', '-im', 'rpc', '-siu', '0', '-ia', ia, '-oa', oa, '-pf', file, '-dc'],
    env,
  );
  const m = await consumer.line(/^config (.*)$/);
  assert.deepEqual(JSON.parse(m[1] as string), { inputArgs: ia, outputArgs: oa }, 'the JSON text, as PvaPy passes it');

  const info = startCli(t, ['info', 'pvapy:rpc:in'], env);
  assert.equal(await info.exited, 0, info.stderr());
  assert.match(info.stdout(), /int status/);
  assert.match(info.stdout(), /string errorMessage/);
  const call = startCli(t, ['call', 'pvapy:rpc:in', 'x=1'], env);
  assert.equal(await call.exited, 0, call.stderr());
  const get = startCli(t, ['get', 'pvapy:rpc:in'], env);
  assert.equal(await get.exited, 0, get.stderr());
  assert.match(get.stdout(), /status/);
  consumer.kill('SIGINT');
  assert.equal(await consumer.exited, 0, consumer.stderr());
  assert.match(consumer.stdout(), /receiverStats: nReceived=1 /);
});
