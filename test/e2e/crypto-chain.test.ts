// End to end, with the real CLI: `sluice sim` → `sluice consumer` running DataEncryptor (signing)
// → `sluice consumer` running DataDecryptor (verifying, --oid-field objectId) → a Client, which
// checks that every frame comes out exactly as the simulator served it.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { PvaClient } from '../../src/pva/client/client.js';
import type { PvaSubscription } from '../../src/pva/client/subscription.js';
import { formatType } from '../../src/pvdata/types.js';
import type { PVStructure } from '../../src/pvdata/values.js';
import { loopbackEnv, startCli } from '../helpers/cli.js';

const FRAMES = 30;

/** Values of a monitor by uniqueId, until the one with id `last` has come. */
async function collectUntil(sub: PvaSubscription, last: number): Promise<{ byId: Map<number, PVStructure>; types: Set<string> }> {
  const byId = new Map<number, PVStructure>();
  const types = new Set<string>();
  for await (const u of sub) {
    const id = u.value['uniqueId'] as number;
    if (id === 0) continue; // the simulator's initial (empty) frame
    byId.set(id, u.value);
    types.add(formatType(u.type));
    if (id >= last) break;
  }
  return { byId, types };
}

test('sim → DataEncryptor (sign) → DataDecryptor (verify) → client: every frame exactly as served', async (t) => {
  const env = await loopbackEnv();
  const dir = mkdtempSync(join(tmpdir(), 'sluice-crypto-e2e-'));
  const client = new PvaClient({ env, timeoutMs: 30_000, beaconPort: false });
  t.after(() => {
    client.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyFile = join(dir, 'private.pem');
  writeFileSync(keyFile, privateKey.export({ type: 'pkcs1', format: 'pem' }));

  // The simulator starts once the encryptor and this test's own monitor are subscribed.
  const sim = startCli(
    t,
    [
      'sim',
      '-cn',
      'crypto:image',
      '-nx',
      '48',
      '-ny',
      '32',
      '-dt',
      'uint16',
      '-fps',
      '100',
      '-rt',
      String(FRAMES / 100),
      '-std',
      '0.2',
      '-shd',
      '1',
      '--wait-clients',
      '2',
    ],
    env,
  );
  const decryptor = startCli(
    t,
    [
      'consumer',
      '-ic',
      'enc:1:output',
      '-oc',
      'dec:*:output',
      '-cc',
      'dec:*:control',
      '--oid-field',
      'objectId',
      '-sqs',
      '1000',
      '-dc',
      '--processor-class',
      'DataDecryptor',
      '--processor-args',
      JSON.stringify({ privateKeyFilePath: keyFile, verify: true }),
    ],
    env,
  );
  const encryptor = startCli(
    t,
    [
      'consumer',
      '-ic',
      'crypto:image',
      '-oc',
      'enc:*:output',
      '-cc',
      'enc:*:control',
      '-sqs',
      '1000',
      '-dc',
      '--processor-class',
      'DataEncryptor',
      '--processor-args',
      JSON.stringify({ privateKeyFilePath: keyFile, sign: true }),
    ],
    env,
  );

  // The decryptor hosts dec:1:output once it has the encryptor's first (empty) value: from then on
  // the chain is subscribed end to end. Monitor it first; the control GET that follows on the same
  // connection is answered after the server has taken the monitor request.
  const decrypted = client.monitor('dec:1:output', { queueSize: 1000, pipeline: true });
  await client
    .channel('dec:1:output')
    .whenConnected(30_000)
    .catch((e: Error) => {
      throw new Error(
        `${e.message}\nencryptor: ${encryptor.stdout()}${encryptor.stderr()}\ndecryptor: ${decryptor.stdout()}${decryptor.stderr()}\nsim: ${sim.stdout()}${sim.stderr()}`,
      );
    });
  await client.get('dec:1:control');
  const served = client.monitor('crypto:image', { queueSize: 1000, pipeline: true });

  const [fromSim, fromChain] = await Promise.all([collectUntil(served, FRAMES), collectUntil(decrypted, FRAMES)]);
  // The encrypted stream in between: EncryptedData, signed, ids copied from uniqueId.
  const enc = (await client.get('enc:1:output')).value;
  // Stopped before the checks, so that a failure shows the consumers' final reports.
  assert.equal(await sim.exited, 0, sim.stderr());
  await client.put('enc:1:control', { command: 'stop' });
  await client.put('dec:1:control', { command: 'stop' });
  assert.equal(await encryptor.exited, 0, encryptor.stderr());
  assert.equal(await decryptor.exited, 0, decryptor.stderr());
  const reports = `encryptor: ${encryptor.stdout()}${encryptor.stderr()}\ndecryptor: ${decryptor.stdout()}${decryptor.stderr()}`;

  assert.equal(fromSim.byId.size, FRAMES);
  assert.equal(fromChain.byId.size, FRAMES, `frames received: ${[...fromChain.byId.keys()].join(',')}\n${reports}`);
  assert.deepEqual([...fromChain.types], [...fromSim.types], 'the output PV has the exact type of the frames');
  for (let id = 1; id <= FRAMES; id++) assert.deepEqual(fromChain.byId.get(id), fromSim.byId.get(id), `frame ${id}`);

  assert.equal(enc['objectId'], BigInt(FRAMES));
  assert.equal(enc['cipher'].signature, 'RSA-PSS-SHA256');
  assert.ok(enc['data'].length > 48 * 32 * 2);

  assert.match(encryptor.stdout(), new RegExp(`final[\\s\\S]*nProcessed=${FRAMES} [\\s\\S]*nErrors=0 [\\s\\S]*nMissed=0 `));
  assert.match(decryptor.stdout(), new RegExp(`final[\\s\\S]*nProcessed=${FRAMES} [\\s\\S]*nErrors=0 [\\s\\S]*nMissed=0 `));
  assert.match(decryptor.stdout(), new RegExp(`nDecrypted=${FRAMES}`));
});
