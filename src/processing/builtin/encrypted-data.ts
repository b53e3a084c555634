// What DataEncryptor publishes and DataDecryptor reads: the `sluice:EncryptedData:1.0` structure,
// the algorithm names, the bytes that are authenticated and signed, and RSA keys from PEM files.
// PvaPy's encryptor pickles Python objects; ours encrypts the object as a self-describing pvData
// value (its type, then its value, little-endian: what an `any` field carries), so the decryptor
// restores the exact type and value without being told either, and any language that speaks
// pvData can read it.
import { createHash, createPrivateKey, createPublicKey, randomFillSync, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { SluiceError } from '../../errors.js';
import { timeT } from '../../pvdata/nt/common.js';
import { t, type StructureDesc } from '../../pvdata/types.js';

export const ENCRYPTED_DATA_ID = 'sluice:EncryptedData:1.0';
export const CIPHER_ID = 'sluice:Cipher:1.0';
export const CIPHER_NAME = 'AES-256-GCM';
export const KEY_WRAP_NAME = 'RSA-OAEP-SHA256';
export const SIGNATURE_NAME = 'RSA-PSS-SHA256';
export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;
export const AES_KEY_BYTES = 32;
/** Shorter RSA keys are refused: 1024-bit moduli are no longer considered safe. */
export const MIN_RSA_BITS = 2048;

export const cipherT = t.struct({ name: t.string, keyWrap: t.string, signature: t.string }, CIPHER_ID);

/** The type of every object DataEncryptor publishes (and of DataDecryptor's input). */
export const encryptedDataT: StructureDesc = t.struct(
  {
    objectId: t.ulong,
    data: t.array('ubyte'),
    key: t.array('ubyte'),
    nonce: t.array('ubyte'),
    tag: t.array('ubyte'),
    signature: t.array('ubyte'),
    keyId: t.string,
    cipher: cipherT,
    timeStamp: timeT,
  },
  ENCRYPTED_DATA_ID,
);

export function processorError(message: string, cause?: unknown): SluiceError {
  return new SluiceError('ERR_PROCESSOR', message, cause === undefined ? undefined : { cause });
}

export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

const ID_PREFIX = Buffer.from(`${ENCRYPTED_DATA_ID}\0`, 'latin1');

/**
 * Additional authenticated data of AES-GCM: the structure's type id, a NUL byte and the object id
 * as a little-endian uint64. Changing `objectId` in transit makes decryption fail.
 */
export function associatedData(objectId: bigint): Buffer {
  const aad = Buffer.allocUnsafe(ID_PREFIX.length + 8);
  ID_PREFIX.copy(aad, 0);
  aad.writeBigUInt64LE(BigInt.asUintN(64, objectId), ID_PREFIX.length);
  return aad;
}

/** What the signature covers, in this order: associatedData ‖ key ‖ nonce ‖ tag ‖ data. */
export function signedParts(aad: Uint8Array, key: Uint8Array, nonce: Uint8Array, tag: Uint8Array, data: Uint8Array): Uint8Array[] {
  return [aad, key, nonce, tag, data];
}

/** A view of a Buffer as a plain Uint8Array (what a decoded ubyte[] is), without copying. */
export function bytesOf(b: Uint8Array): Uint8Array {
  return b instanceof Buffer ? new Uint8Array(b.buffer, b.byteOffset, b.byteLength) : b;
}

// Random bytes are taken from 4 KiB blocks filled at once (one system call per ~90 objects rather
// than two per object). A used-up block is replaced, never refilled: published nonces are views of it.
const POOL_BYTES = 4096;
let pool = Buffer.alloc(0);
let poolAt = 0;

/** n fresh random bytes (a view into a block no one else gets these bytes of). */
export function randomBytesPooled(n: number): Buffer {
  if (poolAt + n > pool.length) {
    pool = randomFillSync(Buffer.allocUnsafeSlow(Math.max(POOL_BYTES, n)));
    poolAt = 0;
  }
  const b = pool.subarray(poolAt, poolAt + n);
  poolAt += n;
  return b;
}

/** An RSA key pair as the processors hold it; `privateKey` is absent on an encrypt-only side. */
export interface RsaKeys {
  publicKey: KeyObject;
  privateKey: KeyObject | null;
  /** Modulus size in bytes: the length of wrapped keys and signatures. */
  modulusBytes: number;
  /** `sha256:` and the first 16 bytes, in hex, of the SHA-256 of the public key (DER SubjectPublicKeyInfo). */
  keyId: string;
  /** Where the keys came from, for messages. */
  source: string;
}

function readPem(what: string, path: string): Buffer {
  try {
    return readFileSync(resolve(path));
  } catch (e) {
    const code = (e as { code?: string }).code;
    const why =
      code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a directory' : messageOf(e);
    throw processorError(`${what} '${path}' cannot be read: ${why}`, e);
  }
}

function checkRsa(what: string, path: string, key: KeyObject): number {
  if (key.asymmetricKeyType !== 'rsa') {
    throw processorError(`${what} '${path}' holds ${key.asymmetricKeyType ?? 'a non-asymmetric'} key, not an RSA key`);
  }
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < MIN_RSA_BITS)
    throw processorError(`${what} '${path}' holds a ${bits}-bit RSA key: at least ${MIN_RSA_BITS} bits are required`);
  return Math.ceil(bits / 8);
}

/** The key id of a public key (see RsaKeys.keyId). */
export function keyIdOf(publicKey: KeyObject): string {
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return `sha256:${createHash('sha256').update(der).digest('hex').slice(0, 32)}`;
}

/** An RSA private key from a PEM file: PKCS#1 (BEGIN RSA PRIVATE KEY) or PKCS#8 (BEGIN PRIVATE KEY), unencrypted. */
export function loadPrivateKey(path: string, what = 'privateKeyFilePath'): RsaKeys {
  const pem = readPem(what, path);
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: pem, format: 'pem' });
  } catch (e) {
    const code = (e as { code?: string }).code;
    // PKCS#8 "BEGIN ENCRYPTED PRIVATE KEY", or PKCS#1 with "Proc-Type: 4,ENCRYPTED".
    if (
      code === 'ERR_MISSING_PASSPHRASE' ||
      /-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: *4, *ENCRYPTED/.test(pem.toString('latin1'))
    ) {
      throw processorError(
        `${what} '${path}' is protected by a passphrase: give an unencrypted key (openssl pkey -in KEY -out PLAIN writes one)`,
        e,
      );
    }
    throw processorError(`${what} '${path}' does not hold a PEM private key (PKCS#1 or PKCS#8): ${messageOf(e)}`, e);
  }
  const modulusBytes = checkRsa(what, path, privateKey);
  const publicKey = createPublicKey(privateKey);
  return { publicKey, privateKey, modulusBytes, keyId: keyIdOf(publicKey), source: path };
}

/** An RSA public key from a PEM file: SPKI (BEGIN PUBLIC KEY) or PKCS#1 (BEGIN RSA PUBLIC KEY). */
export function loadPublicKey(path: string, what = 'publicKeyFilePath'): RsaKeys {
  const pem = readPem(what, path);
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: pem, format: 'pem' });
  } catch (e) {
    throw processorError(`${what} '${path}' does not hold a PEM public key (SPKI or PKCS#1): ${messageOf(e)}`, e);
  }
  // A private key file given as the public key works (the public half is derived): keep it public.
  if (publicKey.type !== 'public') publicKey = createPublicKey(publicKey);
  const modulusBytes = checkRsa(what, path, publicKey);
  return { publicKey, privateKey: null, modulusBytes, keyId: keyIdOf(publicKey), source: path };
}

/** A boolean option: true/false, or the strings "true"/"false" and 1/0 that command lines produce. */
export function booleanOption(name: string, v: unknown): boolean {
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === 1 || v === '1') return true;
  if (v === 'false' || v === 0 || v === '0') return false;
  throw processorError(`${name} must be true or false, not ${JSON.stringify(v)}`);
}

/** A path option: a non-empty string. */
export function pathOption(name: string, v: unknown): string {
  if (typeof v === 'string' && v.trim() !== '') return v;
  throw processorError(`${name} must be a path to a PEM file, not ${JSON.stringify(v)}`);
}
