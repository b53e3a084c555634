// DataEncryptor and DataDecryptor: round trips that restore the exact type and value, signatures,
// key formats, and a clear error for each way decryption can fail. Keys are made here, in a
// temporary directory.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ProcessingController } from '../../src/runtime/processing-controller.js';
import { ColorMode, ntndarray } from '../../src/pvdata/nt/ntndarray.js';
import { timeNow } from '../../src/pvdata/nt/common.js';
import { TypeCache } from '../../src/pvdata/type-codec.js';
import { formatType, t, type StructureDesc } from '../../src/pvdata/types.js';
import { decodeValue, encodeValue } from '../../src/pvdata/value-codec.js';
import { TYPED_ARRAY, type PVStructure, type PVTypedArray } from '../../src/pvdata/values.js';
import { ByteReader, ByteWriter } from '../../src/pvdata/wire.js';
import { loadProcessor } from '../../src/processing/loader.js';
import { AdImageDataDecryptor, DataDecryptor } from '../../src/processing/builtin/decryptor.js';
import { AdImageDataEncryptor, DataEncryptor } from '../../src/processing/builtin/encryptor.js';
import { encryptedDataT } from '../../src/processing/builtin/encrypted-data.js';
import { AdImageDataDecryptor as FromIndexDecryptor, DataEncryptor as FromIndexEncryptor } from '../../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'sluice-crypto-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Key files of one RSA key pair: private in PKCS#8 and PKCS#1, public in SPKI and PKCS#1. */
function makeKeys(name: string, bits = 2048): { pkcs8: string; pkcs1: string; spki: string; rsaPublic: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: bits });
  const files = {
    pkcs8: privateKey.export({ type: 'pkcs8', format: 'pem' }),
    pkcs1: privateKey.export({ type: 'pkcs1', format: 'pem' }),
    spki: publicKey.export({ type: 'spki', format: 'pem' }),
    rsaPublic: publicKey.export({ type: 'pkcs1', format: 'pem' }),
  };
  const paths = {} as Record<keyof typeof files, string>;
  for (const [k, pem] of Object.entries(files) as [keyof typeof files, string][]) {
    paths[k] = join(dir, `${name}-${k}.pem`);
    writeFileSync(paths[k], pem);
  }
  return paths;
}

const A = makeKeys('a');
const B = makeKeys('b');

/** Encode and decode a value with a type, as a monitor delivers it. */
function wire(type: StructureDesc, value: PVStructure): PVStructure {
  const w = new ByteWriter(true);
  encodeValue(w, type, value);
  return decodeValue(new ByteReader(Buffer.concat(w.take()), true), type, new TypeCache()) as PVStructure;
}

function frame(
  dtype: 'ubyte' | 'short' | 'ushort' | 'int' | 'float' | 'double' | 'long',
  id: number,
  nx = 7,
  ny = 5,
): { type: StructureDesc; value: PVStructure } {
  const Ctor = TYPED_ARRAY[dtype] as unknown as new (n: number) => PVTypedArray;
  const data = new Ctor(nx * ny);
  for (let i = 0; i < data.length; i++)
    (data as unknown as (number | bigint)[])[i] =
      dtype === 'long' ? BigInt(i * 1_000_003 - 7) : dtype === 'float' || dtype === 'double' ? i * 0.25 - 3 : (i * 37 + id) % 200;
  const type = ntndarray.type();
  const value = ntndarray.build({
    data,
    dims: [nx, ny],
    uniqueId: id,
    colorMode: ColorMode.Mono,
    attributes: [{ name: 'Exposure', value: 0.125, descriptor: 'seconds' }],
    dataTimeStamp: timeNow(),
  });
  return { type, value: wire(type, value) };
}

/** A structure that is not an image: unions, any, structure arrays, strings, bigints, booleans. */
const oddT = t.struct(
  {
    uniqueId: t.uint,
    name: t.string,
    flags: t.array('boolean'),
    labels: t.array('string'),
    big: t.ulong,
    choice: t.union({ a: t.double, b: t.string }),
    loose: t.any,
    bounded: t.boundedString(16),
    rows: t.structArray(t.struct({ x: t.short, y: t.array('float') }, 'row_t')),
    nested: t.struct({ deep: t.struct({ v: t.array('long') }) }, 'nested_t'),
  },
  'test:Odd:1.0',
);
const oddValue = wire(oddT, {
  uniqueId: 42,
  name: 'détecteur ✓',
  flags: [true, false, true],
  labels: ['x', '', 'zz'],
  big: 2n ** 63n + 5n,
  choice: { field: 'b', value: 'chosen' },
  loose: { type: t.struct({ k: t.int }), value: { k: 9 } },
  bounded: 'short',
  rows: [{ x: -3, y: new Float32Array([1.5, 2.5]) }, null, { x: 4, y: new Float32Array(0) }],
  nested: { deep: { v: new BigInt64Array([-1n, 2n ** 62n]) } },
});

function encryptor(args: Record<string, unknown>, inputType?: StructureDesc): { p: DataEncryptor; out: PVStructure[] } {
  const p = new DataEncryptor(args);
  const out: PVStructure[] = [];
  p.publisher = (v) => out.push(v);
  if (inputType) p.inputType = inputType;
  return { p, out };
}

function decryptor(args: Record<string, unknown>): { p: DataDecryptor; out: PVStructure[] } {
  const p = new DataDecryptor({ objectIdField: 'objectId', ...args });
  const out: PVStructure[] = [];
  p.publisher = (v) => out.push(v);
  return { p, out };
}

test('round trip: NTNDArray frames of several dtypes and a non-image structure come back exactly', () => {
  const enc = new DataEncryptor({ publicKeyFilePath: A.spki });
  const dec = new DataDecryptor({ privateKeyFilePath: A.pkcs8 });
  const cases = [
    ...(['ubyte', 'short', 'ushort', 'int', 'float', 'double', 'long'] as const).map((d, i) => frame(d, i + 1)),
    { type: oddT, value: oddValue },
  ];
  for (const { type, value } of cases) {
    const sent = enc.encrypt(value, type);
    const received = wire(encryptedDataT, sent); // the EncryptedData travels over pvAccess
    assert.equal(received['objectId'], BigInt(value['uniqueId']));
    assert.equal(received['cipher'].name, 'AES-256-GCM');
    assert.equal(received['cipher'].keyWrap, 'RSA-OAEP-SHA256');
    assert.equal(received['cipher'].signature, '');
    assert.equal(received['signature'].length, 0);
    assert.equal(received['nonce'].length, 12);
    assert.equal(received['tag'].length, 16);
    assert.equal(received['key'].length, 256);
    assert.match(received['keyId'], /^sha256:[0-9a-f]{32}$/);
    const d = dec.decrypt(received);
    assert.ok(d);
    assert.equal(formatType(d.type), formatType(type));
    assert.equal(d.type.id, type.id);
    assert.deepEqual(d.value, value);
  }
});

test('process(): publishes EncryptedData, then the decryptor publishes the original; stats', () => {
  const { type, value } = frame('ushort', 7, 33, 17);
  const e = encryptor({ privateKeyFilePath: A.pkcs1 }, type);
  assert.equal(e.p.getOutputType(), encryptedDataT);
  e.p.process(value);
  e.p.process(value);
  assert.equal(e.out.length, 2);
  assert.notDeepEqual(e.out[0]!['key'], e.out[1]!['key'], 'a fresh AES key per object');
  assert.notDeepEqual(e.out[0]!['nonce'], e.out[1]!['nonce']);
  const d = decryptor({ privateKeyFilePath: A.pkcs8 });
  const first = wire(encryptedDataT, e.out[0]!);
  assert.equal(formatType(d.p.getOutputType(first)!), formatType(type), 'the output type is learned from the first input');
  for (const o of e.out) d.p.process(wire(encryptedDataT, o));
  assert.deepEqual(d.out, [value, value]);
  assert.equal(e.p.getStats()['nEncrypted'], 2);
  assert.equal(d.p.getStats()['nDecrypted'], 2);
  assert.ok(e.p.getStats()['processingRate']! > 0 && d.p.getStats()['processingTime']! > 0);
  assert.deepEqual(e.p.getStatsTypes(), { nEncrypted: 'uint', processingTime: 'double', processingRate: 'double' });
  assert.deepEqual(d.p.getStatsTypes(), { nDecrypted: 'uint', processingTime: 'double', processingRate: 'double' });
  d.p.resetStats();
  assert.equal(d.p.getStats()['nDecrypted'], 0);
  // The empty record (an encryptor's output PV before its first object) is skipped quietly.
  d.p.process(wire(encryptedDataT, {}));
  assert.equal(d.out.length, 2);
  assert.equal(d.p.getStats()['nDecrypted'], 0);
});

test('objects without the id field are numbered; objectId is authenticated', () => {
  const plain = t.struct({ v: t.double });
  const e = encryptor({ publicKeyFilePath: A.rsaPublic }, plain);
  e.p.process({ v: 1 });
  e.p.process({ v: 2 });
  assert.deepEqual(
    e.out.map((o) => o['objectId']),
    [1n, 2n],
  );
  const d = decryptor({ privateKeyFilePath: A.pkcs1 });
  const moved = { ...wire(encryptedDataT, e.out[0]!), objectId: 5n };
  assert.throws(() => d.p.process(moved), /object 5 fails authentication \(AES-GCM tag mismatch\)/);
});

test('sign + verify; unsigned objects are refused with verify on; a bad signature is refused', () => {
  const { type, value } = frame('ubyte', 3);
  const signed = encryptor({ privateKeyFilePath: A.pkcs8, sign: true }, type);
  signed.p.process(value);
  const s = wire(encryptedDataT, signed.out[0]!);
  assert.equal(s['cipher'].signature, 'RSA-PSS-SHA256');
  assert.equal(s['signature'].length, 256);
  const d = decryptor({ privateKeyFilePath: A.pkcs1, verify: true });
  d.p.process(s);
  assert.deepEqual(d.out, [value]);

  const unsigned = encryptor({ publicKeyFilePath: A.spki }, type);
  unsigned.p.process(value);
  assert.throws(() => d.p.process(wire(encryptedDataT, unsigned.out[0]!)), /object 3 is not signed, and verify is on: refused/);

  const badSig = wire(encryptedDataT, signed.out[0]!);
  badSig['signature'][10] ^= 1;
  assert.throws(() => d.p.process(badSig), /object 3: bad signature/);
  // A signature over other data (the tag of another object) does not verify either.
  signed.p.process(value);
  const swapped = { ...wire(encryptedDataT, signed.out[1]!), signature: s['signature'] };
  assert.throws(() => d.p.process(swapped), /bad signature/);
  // Without verify, the same signed object decrypts (the signature is not checked).
  const lax = decryptor({ privateKeyFilePath: A.pkcs1 });
  lax.p.process(badSig);
  assert.deepEqual(lax.out, [value]);
});

test('tampered ciphertext, tag or nonce, wrong key, unknown cipher: clear errors', () => {
  const { type, value } = frame('float', 11);
  const e = encryptor({ publicKeyFilePath: A.spki }, type);
  e.p.process(value);
  const good = () => wire(encryptedDataT, e.out[0]!);
  const d = decryptor({ privateKeyFilePath: A.pkcs8 });
  for (const field of ['data', 'tag', 'nonce']) {
    const bad = good();
    bad[field][0] ^= 0x80;
    assert.throws(
      () => d.p.process(bad),
      /object 11 fails authentication \(AES-GCM tag mismatch\): its data, nonce, tag or objectId were altered/,
    );
  }
  const badKey = good();
  badKey['key'][3] ^= 1;
  assert.throws(() => d.p.process(badKey), /object 11: the AES key cannot be unwrapped .*wrong key, or the key field was altered/);
  const wrong = decryptor({ privateKeyFilePath: B.pkcs8 });
  assert.throws(
    () => wrong.p.process(good()),
    (err: Error & { code?: string }) =>
      err.code === 'ERR_PROCESSOR' &&
      /object 11: the AES key cannot be unwrapped with the private key in '.*b-pkcs8\.pem' \(it was encrypted for sha256:[0-9a-f]+; the key in .* is sha256:[0-9a-f]+\)/.test(
        err.message,
      ),
  );
  const otherCipher = good();
  otherCipher['cipher'] = { ...otherCipher['cipher'], name: 'AES' };
  assert.throws(() => d.p.process(otherCipher), /object 11: cipher 'AES' is not supported \(only AES-256-GCM\)/);
  const short = good();
  short['tag'] = short['tag'].subarray(0, 8);
  assert.throws(() => d.p.process(short), /the tag has 8 bytes, not 16/);
  assert.equal(d.p.getStats()['nDecrypted'], 0);
  d.p.process(good());
  assert.deepEqual(d.out, [value]);
});

test('errors from process() are counted by the framework, which goes on', () => {
  const { type, value } = frame('int', 1);
  const e = encryptor({ publicKeyFilePath: A.spki }, type);
  for (const id of [1, 2, 3]) e.p.process({ ...value, uniqueId: id });
  const d = decryptor({ privateKeyFilePath: A.pkcs8 });
  const c = new ProcessingController(
    d.p,
    { objectIdField: 'objectId', objectIdOffset: 1, nSequentialUpdates: 1, skipInitialUpdates: 0 },
    null,
  ); // d.p publishes into d.out (its stand-in publisher)
  const objects = e.out.map((o) => wire(encryptedDataT, o));
  objects[1]!['data'][5] ^= 1;
  for (const o of objects) c.process(o, encryptedDataT);
  assert.equal(c.nProcessed, 2);
  assert.equal(c.nErrors, 1);
  assert.match(c.lastError!.message, /object 2 fails authentication/);
  assert.deepEqual(
    d.out.map((v) => v['uniqueId']),
    [1, 3],
  );
});

test('key files: missing, not PEM, not RSA, too short, public/private mismatch; sign needs the private key', () => {
  assert.throws(() => new DataDecryptor({}), /DataDecryptor needs privateKeyFilePath/);
  assert.throws(() => new DataEncryptor({}), /DataEncryptor needs privateKeyFilePath or publicKeyFilePath/);
  assert.throws(
    () => new DataDecryptor({ privateKeyFilePath: join(dir, 'nope.pem') }),
    (err: Error & { code?: string }) =>
      err.code === 'ERR_PROCESSOR' && /privateKeyFilePath '.*nope\.pem' cannot be read: no such file/.test(err.message),
  );
  const junk = join(dir, 'junk.pem');
  writeFileSync(junk, 'not a key\n');
  assert.throws(() => new DataDecryptor({ privateKeyFilePath: junk }), /does not hold a PEM private key \(PKCS#1 or PKCS#8\)/);
  assert.throws(() => new DataEncryptor({ publicKeyFilePath: junk }), /does not hold a PEM public key \(SPKI or PKCS#1\)/);
  assert.throws(() => new DataDecryptor({ privateKeyFilePath: A.spki }), /does not hold a PEM private key/);
  const locked = join(dir, 'locked.pem');
  const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
  writeFileSync(locked, pair.privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'x' }));
  assert.throws(() => new DataDecryptor({ privateKeyFilePath: locked }), /is protected by a passphrase: give an unencrypted key/);
  writeFileSync(locked, pair.privateKey.export({ type: 'pkcs1', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'x' }));
  assert.throws(() => new DataDecryptor({ privateKeyFilePath: locked }), /is protected by a passphrase/);
  const ec = join(dir, 'ec.pem');
  writeFileSync(ec, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
  assert.throws(() => new DataDecryptor({ privateKeyFilePath: ec }), /holds ec key, not an RSA key/);
  const small = makeKeys('small', 1024);
  assert.throws(() => new DataEncryptor({ publicKeyFilePath: small.spki }), /1024-bit RSA key: at least 2048 bits are required/);
  assert.throws(
    () => new DataEncryptor({ privateKeyFilePath: A.pkcs8, publicKeyFilePath: B.spki }),
    /is not the public key of privateKeyFilePath/,
  );
  assert.throws(() => new DataEncryptor({ publicKeyFilePath: A.spki, sign: true }), /sign needs the private key/);
  assert.throws(() => new DataEncryptor({ publicKeyFilePath: A.spki, sign: 'yes' }), /sign must be true or false/);
  // Both files of one pair are fine; a private key file given as the public key too.
  new DataEncryptor({ privateKeyFilePath: A.pkcs1, publicKeyFilePath: A.rsaPublic });
  new DataEncryptor({ publicKeyFilePath: A.pkcs8 });
});

test('built-in processors load by class name; a bad key path is a load error naming the class', async () => {
  const p = await loadProcessor({ className: 'DataEncryptor', args: { publicKeyFilePath: A.spki } });
  assert.ok(p instanceof DataEncryptor);
  const ad = await loadProcessor({ className: 'AdImageDataEncryptor', args: { publicKeyFilePath: A.spki } });
  assert.ok(ad instanceof AdImageDataEncryptor);
  assert.equal(formatType(ad.getInputType()!), formatType(ntndarray.type()));
  const d = await loadProcessor({
    className: 'AdImageDataDecryptor',
    args: { privateKeyFilePath: A.pkcs8 },
    system: { objectIdField: 'objectId' },
  });
  assert.ok(d instanceof DataDecryptor);
  assert.equal(d.objectIdField, 'objectId');
  assert.equal(d.getInputType(), encryptedDataT);
  assert.equal(FromIndexDecryptor, AdImageDataDecryptor);
  assert.equal(FromIndexEncryptor, DataEncryptor);
  await assert.rejects(
    loadProcessor({ className: 'DataDecryptor', args: { privateKeyFilePath: join(dir, 'missing.pem') } }),
    (err: Error & { code?: string }) =>
      err.code === 'ERR_PROCESSOR' &&
      /constructing 'DataDecryptor' from sluice failed: privateKeyFilePath '.*missing\.pem' cannot be read/.test(err.message),
  );
});

test('configure(): keys and sign/verify change at run time; a bad change leaves everything as it was', () => {
  const { type, value } = frame('ubyte', 21);
  const e = encryptor({ publicKeyFilePath: A.spki }, type);
  const d = decryptor({ privateKeyFilePath: A.pkcs8 });
  assert.throws(() => e.p.configure({ sign: true }), /sign needs the private key/);
  assert.throws(() => e.p.configure({ publicKeyFilePath: join(dir, 'gone.pem') }), /cannot be read/);
  e.p.process(value);
  d.p.process(wire(encryptedDataT, e.out[0]!)); // still A, still unsigned
  e.p.configure({ privateKeyFilePath: B.pkcs1, sign: true });
  e.p.process(value);
  const forB = wire(encryptedDataT, e.out[1]!);
  assert.equal(forB['cipher'].signature, 'RSA-PSS-SHA256');
  assert.throws(() => d.p.process(forB), /cannot be unwrapped/);
  assert.throws(() => d.p.configure({ privateKeyFilePath: join(dir, 'gone.pem'), verify: true }), /cannot be read/);
  d.p.configure({ privateKeyFilePath: B.pkcs8, verify: true });
  d.p.process(forB);
  assert.throws(() => d.p.process(wire(encryptedDataT, e.out[0]!)), /not signed, and verify is on/);
  e.p.configure({ sign: false });
  e.p.process(value);
  assert.throws(() => d.p.process(wire(encryptedDataT, e.out[2]!)), /not signed/);
  d.p.configure({ verify: false });
  d.p.process(wire(encryptedDataT, e.out[2]!));
  assert.deepEqual(d.out, [value, value, value]);
});

test('objectsPerKey: one wrapped key for several objects, each with its own nonce', () => {
  const { type, value } = frame('double', 1);
  const e = encryptor({ publicKeyFilePath: A.spki, objectsPerKey: 3 }, type);
  for (let id = 1; id <= 4; id++) e.p.process({ ...value, uniqueId: id });
  const keys = e.out.map((o) => Buffer.from(o['key']).toString('hex'));
  assert.equal(new Set(keys.slice(0, 3)).size, 1);
  assert.notEqual(keys[3], keys[0]);
  assert.equal(new Set(e.out.map((o) => Buffer.from(o['nonce']).toString('hex'))).size, 4);
  const d = decryptor({ privateKeyFilePath: A.pkcs8 });
  for (const o of e.out) d.p.process(wire(encryptedDataT, o));
  assert.deepEqual(
    d.out.map((v) => v['uniqueId']),
    [1, 2, 3, 4],
  );
  assert.throws(() => new DataEncryptor({ publicKeyFilePath: A.spki, objectsPerKey: 0 }), /objectsPerKey must be an integer/);
});

test('output type: learned from the first input, or made with the first decrypted object when the first input is empty', () => {
  const { type, value } = frame('short', 4);
  const extended = t.struct([...type.fields, { name: 'tileIndexX', type: t.int }], type.id);
  const e = encryptor({ publicKeyFilePath: A.spki }, extended);
  e.p.process({ ...value, tileIndexX: 3 });
  e.p.process({ ...value, uniqueId: 5, tileIndexX: 4 });
  const empty = wire(encryptedDataT, {});
  // A first input that decrypts gives the type at once.
  const direct = new DataDecryptor({ privateKeyFilePath: A.pkcs8 });
  assert.equal(formatType(direct.getOutputType(wire(encryptedDataT, e.out[0]!)) as StructureDesc), formatType(extended));
  // An empty first input: no type yet; the framework's factory makes the output channel with the
  // exact type of the first object decrypted, once.
  const d = new DataDecryptor({ privateKeyFilePath: A.pkcs8 });
  const opened: StructureDesc[] = [];
  const published: PVStructure[] = [];
  d.outputFactory = (type) => (opened.push(type), (v) => void published.push(v));
  assert.equal(d.getOutputType(empty), undefined);
  d.process(wire(encryptedDataT, e.out[0]!));
  d.process(wire(encryptedDataT, e.out[1]!));
  assert.equal(opened.length, 1);
  assert.equal(formatType(opened[0]!), formatType(extended));
  assert.deepEqual(published, [
    { ...value, tileIndexX: 3 },
    { ...value, uniqueId: 5, tileIndexX: 4 },
  ]);
  // Without a framework (no output channel) nothing is published and nothing fails.
  const bare = new DataDecryptor({ privateKeyFilePath: A.pkcs8 });
  assert.equal(bare.getOutputType(empty), undefined);
  bare.process(wire(encryptedDataT, e.out[0]!));
  assert.equal(bare.openOutputChannel(extended), false);
});
