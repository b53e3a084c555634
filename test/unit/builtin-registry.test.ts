// The built-in processor registry: every name and PvaPy class path in it loads its class through
// --processor-class, and the public entry exports exactly the registry's classes.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import * as sluice from '../../src/index.js';
import { loadProcessor } from '../../src/processing/loader.js';
import { BUILTIN_PROCESSORS, builtinProcessor, PVAPY_PROCESSOR_PATHS } from '../../src/processing/builtin/registry.js';
import { DataDecryptor } from '../../src/processing/builtin/decryptor.js';
import { DataEncryptor } from '../../src/processing/builtin/encryptor.js';
import { UserDataProcessor } from '../../src/processing/user-data-processor.js';

const dir = mkdtempSync(join(tmpdir(), 'sluice-registry-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
const privateKeyFilePath = join(dir, 'private.pem');
const publicKeyFilePath = join(dir, 'public.pem');
writeFileSync(privateKeyFilePath, keys.privateKey.export({ type: 'pkcs8', format: 'pem' }));
writeFileSync(publicKeyFilePath, keys.publicKey.export({ type: 'spki', format: 'pem' }));

/** The arguments a processor needs to be constructed: the crypto processors need a key. */
function argsFor(ctor: unknown): Record<string, unknown> {
  if (ctor === DataEncryptor || (ctor as { prototype?: unknown }).prototype instanceof DataEncryptor) return { publicKeyFilePath };
  if (ctor === DataDecryptor || (ctor as { prototype?: unknown }).prototype instanceof DataDecryptor) return { privateKeyFilePath };
  return {};
}

test('every registry name loads its class with --processor-class', async () => {
  const names = Object.keys(BUILTIN_PROCESSORS);
  assert.ok(names.length >= 10, names.join(', '));
  for (const name of names) {
    const ctor = BUILTIN_PROCESSORS[name]!;
    const p = await loadProcessor({ className: name, args: argsFor(ctor) });
    assert.equal(p.constructor, ctor, name);
    assert.ok(p instanceof UserDataProcessor, name);
  }
});

test("every PvaPy class path in the registry loads Sluice's class of that name", async () => {
  const paths = Object.keys(PVAPY_PROCESSOR_PATHS);
  assert.equal(paths.length, 8);
  for (const path of paths) {
    const name = PVAPY_PROCESSOR_PATHS[path]!;
    assert.ok(path.endsWith(`.${name}`), path);
    const ctor = BUILTIN_PROCESSORS[name];
    assert.ok(ctor, `${path} names ${name}, which is not in the registry`);
    const p = await loadProcessor({ className: path, args: argsFor(ctor) });
    assert.equal(p.constructor, ctor, path);
  }
  assert.equal(builtinProcessor('NoSuchProcessor'), undefined);
  assert.equal(builtinProcessor('toString'), undefined, 'names are own keys, not inherited members');
  assert.equal(builtinProcessor('pvapy.hpc.adImageProcessor.AdImageProcessor')?.name, 'AdImageProcessor');
});

test('the public entry exports the processors of the registry, and no other', () => {
  const exported = Object.entries(sluice)
    .filter(([, v]) => v === UserDataProcessor || (typeof v === 'function' && v.prototype instanceof UserDataProcessor))
    .map(([k]) => k)
    .sort();
  assert.deepEqual(exported, Object.keys(BUILTIN_PROCESSORS).sort());
  for (const [name, ctor] of Object.entries(BUILTIN_PROCESSORS)) {
    assert.equal((sluice as Record<string, unknown>)[name], ctor, name);
  }
});
