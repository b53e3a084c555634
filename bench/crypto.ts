// Throughput of DataEncryptor and DataDecryptor on NTNDArray frames, in one process, no sockets:
// process() of each, with the EncryptedData objects passed from one to the other as a monitor
// would deliver them (encoded and decoded). Keys: a fresh RSA pair in a temporary directory.
//
//   node dist/bench/crypto.js [--seconds 2] [--nx 128 --ny 128] [--bits 2048]
//
// Cases: the default (a fresh AES key per object), signed and verified, and objectsPerKey 100
// (one RSA unwrap per 100 objects on the decrypting side).
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ntndarray } from '../src/pvdata/nt/index.js';
import { TypeCache } from '../src/pvdata/type-codec.js';
import { decodeValue, encodeValue } from '../src/pvdata/value-codec.js';
import type { PVStructure } from '../src/pvdata/values.js';
import { ByteReader, ByteWriter } from '../src/pvdata/wire.js';
import { DataDecryptor } from '../src/processing/builtin/decryptor.js';
import { DataEncryptor } from '../src/processing/builtin/encryptor.js';
import { encryptedDataT } from '../src/processing/builtin/encrypted-data.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '2' },
    nx: { type: 'string', default: '128' },
    ny: { type: 'string', default: '128' },
    bits: { type: 'string', default: '2048' },
  },
});
const seconds = Number(values.seconds);
const nx = Number(values.nx);
const ny = Number(values.ny);

const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-crypto-'));
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: Number(values.bits) });
const privatePath = join(dir, 'private.pem');
const publicPath = join(dir, 'public.pem');
writeFileSync(privatePath, privateKey.export({ type: 'pkcs8', format: 'pem' }));
writeFileSync(publicPath, publicKey.export({ type: 'spki', format: 'pem' }));

const type = ntndarray.type();
const pixels = new Uint8Array(nx * ny);
for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 31) & 0xff;
const frame = ntndarray.build({ data: pixels, dims: [nx, ny], uniqueId: 1, colorMode: 0 });

/** Encoded EncryptedData, as the encryptor's server would send it. */
function toWire(v: PVStructure): Buffer {
  const w = new ByteWriter(true);
  encodeValue(w, encryptedDataT, v);
  return Buffer.concat(w.take());
}

/** Frames per second of `step` over about `seconds` (after a short warm-up). */
function rate(step: (i: number) => void): number {
  for (let i = 0; i < 50; i++) step(i);
  let n = 0;
  const t0 = performance.now();
  const until = t0 + seconds * 1000;
  while (performance.now() < until) {
    for (let k = 0; k < 20; k++) step(n++);
  }
  return n / ((performance.now() - t0) / 1000);
}

function run(label: string, encArgs: Record<string, unknown>, decArgs: Record<string, unknown>): void {
  const enc = new DataEncryptor(encArgs);
  enc.inputType = type;
  let last: PVStructure | null = null;
  enc.publisher = (v) => (last = v);
  const encRate = rate((i) => enc.process({ ...frame, uniqueId: i + 1 }));

  // A ring of encrypted objects for the decryptor (each decoded anew, as received).
  const ring: Buffer[] = [];
  for (let i = 0; i < 200; i++) {
    enc.process({ ...frame, uniqueId: i + 1 });
    ring.push(toWire(last!));
  }
  const dec = new DataDecryptor(decArgs);
  let out = 0;
  dec.publisher = () => void out++;
  const cache = new TypeCache();
  const decRate = rate((i) => dec.process(decodeValue(new ByteReader(ring[i % ring.length]!, true), encryptedDataT, cache) as PVStructure));
  const bytes = ring[0]!.length;
  console.log(
    `${label.padEnd(34)} encrypt ${Math.round(encRate).toLocaleString('en-US').padStart(7)} frames/s   ` +
      `decrypt ${Math.round(decRate).toLocaleString('en-US').padStart(7)} frames/s   (${bytes} bytes per encrypted frame, ${out > 0})`,
  );
}

console.log(`NTNDArray ${nx}x${ny} ubyte, RSA-${values.bits}, ${seconds} s per measurement, node ${process.version}`);
try {
  run('fresh AES key per object', { publicKeyFilePath: publicPath }, { privateKeyFilePath: privatePath });
  run('signed + verified', { privateKeyFilePath: privatePath, sign: true }, { privateKeyFilePath: privatePath, verify: true });
  run('objectsPerKey 100', { publicKeyFilePath: publicPath, objectsPerKey: 100 }, { privateKeyFilePath: privatePath });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
