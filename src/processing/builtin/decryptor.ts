// DataDecryptor (PvaPy's DataDecryptor / AdImageDataDecryptor, for our EncryptedData format):
// checks the algorithm names, optionally verifies the signature, unwraps the AES key with the RSA
// private key, decrypts and authenticates (AES-256-GCM), decodes the self-describing pvData value
// and publishes the original object: same type, same value. Any failure (wrong key, altered data,
// bad or missing signature) throws from process() with a message naming the cause, and the
// framework counts it as a processing error.
//
// Run it with `--oid-field objectId`: the encrypted objects have no uniqueId.
//   sluice consumer -ic enc:1:output -oc 'dec:*:output' --oid-field objectId \
//     --processor-class DataDecryptor --processor-args '{"privateKeyFilePath": "keys/private.pem"}'
import { createDecipheriv, createVerify, constants, privateDecrypt, type KeyObject } from 'node:crypto';
import { DecodeError } from '../../errors.js';
import { decodeType, TypeCache } from '../../pvdata/type-codec.js';
import { sameType, type ScalarType, type StructureDesc } from '../../pvdata/types.js';
import { decodeValue } from '../../pvdata/value-codec.js';
import type { PVStructure } from '../../pvdata/values.js';
import { ByteReader } from '../../pvdata/wire.js';
import { UserDataProcessor, type ProcessorConfig } from '../user-data-processor.js';
import {
  AES_KEY_BYTES,
  CIPHER_NAME,
  KEY_WRAP_NAME,
  NONCE_BYTES,
  SIGNATURE_NAME,
  TAG_BYTES,
  associatedData,
  booleanOption,
  encryptedDataT,
  loadPrivateKey,
  messageOf,
  pathOption,
  processorError,
  signedParts,
  type RsaKeys,
} from './encrypted-data.js';

/** A decrypted object: the original type and value. */
export interface Decrypted {
  objectId: bigint;
  type: StructureDesc;
  value: PVStructure;
}

/** Types seen recently, by their encoded bytes: decoding (and compiling a decoder for) a type per object would be slow. */
const TYPE_CACHE_SIZE = 8;

function bytesField(enc: PVStructure, name: string, objectId: bigint): Uint8Array {
  const v = enc[name];
  if (!(v instanceof Uint8Array)) throw processorError(`object ${objectId}: field '${name}' is missing or not a ubyte array`);
  return v;
}

function sameBytes(a: Uint8Array, b: Uint8Array, bLength: number): boolean {
  if (a.length < bLength) return false;
  return Buffer.compare(Buffer.from(a.buffer, a.byteOffset, bLength), Buffer.from(b.buffer, b.byteOffset, bLength)) === 0;
}

export class DataDecryptor extends UserDataProcessor {
  #keys!: RsaKeys;
  #verify = false;
  /** The last wrapped key and what it unwrapped to: encryptors with objectsPerKey > 1 reuse keys. */
  #lastWrapped: Uint8Array | null = null;
  #lastKey: Buffer | null = null;
  #types: { bytes: Uint8Array; type: StructureDesc }[] = [];
  /** Type of the output PV, once known. */
  #outputType: StructureDesc | null = null;
  /** The output PV this processor hosts itself when the output type could not be known in advance. */
  #warnedTypes = new WeakSet<StructureDesc>();
  #nDecrypted = 0;
  #processingTime = 0;

  constructor(config: ProcessorConfig = {}) {
    super(config);
    this.#apply(config, true);
  }

  #apply(config: Record<string, unknown>, initial: boolean): void {
    const verify = config['verify'] === undefined ? this.#verify : booleanOption('verify', config['verify']);
    const path = config['privateKeyFilePath'];
    let keys = initial ? null : this.#keys;
    if (path !== undefined) keys = loadPrivateKey(pathOption('privateKeyFilePath', path));
    if (!keys) throw processorError('DataDecryptor needs privateKeyFilePath (a PEM file with the RSA private key; see docs/processors.md)');
    if (keys !== this.#keys) this.#lastWrapped = this.#lastKey = null;
    this.#keys = keys;
    this.#verify = verify;
  }

  /** Runtime changes: `privateKeyFilePath`, `verify`. A bad value throws and changes nothing. */
  override configure(config: Record<string, unknown>): void {
    this.#apply(config, false);
    this.logger.info(`key from '${this.#keys.source}' (${this.#keys.keyId}), verify ${this.#verify}`);
  }

  override start(): void {
    this.logger.info(`decrypting with ${this.#keys.keyId} (key from '${this.#keys.source}'), verify ${this.#verify}`);
  }

  /** The `pvas` input mode hosts a PV that encryptors put EncryptedData objects into. */
  override getInputType(): StructureDesc {
    return encryptedDataT;
  }

  /**
   * The output type is the exact type of the decrypted objects. When the first input is an
   * encrypted object, it is decrypted here to learn that type. When it is empty (the initial value
   * of an encryptor's output PV that has published nothing yet), the type is not known: the output
   * PV is then hosted unopened and opened with the type of the first object decrypted.
   */
  override getOutputType(firstInput: PVStructure): StructureDesc | undefined {
    try {
      const first = this.decrypt(firstInput);
      if (first) return (this.#outputType = first.type);
    } catch (e) {
      this.logger.warn(`the first input does not decrypt (${messageOf(e)}): the output type is taken from the first object that does`);
    }
    return undefined;
  }

  override process(value: PVStructure): void {
    const t0 = performance.now();
    const d = this.decrypt(value);
    if (!d) return; // an empty record, not an encrypted object
    this.#publish(d);
    this.#nDecrypted += 1;
    this.#processingTime += (performance.now() - t0) / 1000;
  }

  #publish(d: Decrypted): void {
    if (!this.#outputType) {
      this.#outputType = d.type;
      this.openOutputChannel(d.type);
    } else if (this.#outputType && d.type !== this.#outputType && !this.#warnedTypes.has(d.type)) {
      this.#warnedTypes.add(d.type);
      if (!sameType(d.type, this.#outputType)) {
        this.logger.warn(`object ${d.objectId} has another type than the output PV: only the fields they share are published`);
      }
    }
    this.updateOutputChannel(d.value);
  }

  /**
   * Decrypt an EncryptedData object. Returns null for an empty record (no data, no key, as an
   * encryptor's output PV holds before its first object); throws ERR_PROCESSOR naming the cause.
   */
  decrypt(enc: PVStructure): Decrypted | null {
    const rawId = enc['objectId'];
    const objectId = typeof rawId === 'bigint' ? rawId : typeof rawId === 'number' ? BigInt(rawId) : 0n;
    const what = `object ${objectId}`;
    const data = bytesField(enc, 'data', objectId);
    const wrapped = bytesField(enc, 'key', objectId);
    if (data.length === 0 && wrapped.length === 0) return null;
    const nonce = bytesField(enc, 'nonce', objectId);
    const tag = bytesField(enc, 'tag', objectId);
    const signature = bytesField(enc, 'signature', objectId);
    const cipher = (enc['cipher'] ?? {}) as PVStructure;
    if (cipher['name'] !== CIPHER_NAME) throw processorError(`${what}: cipher '${cipher['name']}' is not supported (only ${CIPHER_NAME})`);
    if (cipher['keyWrap'] !== KEY_WRAP_NAME)
      throw processorError(`${what}: key wrap '${cipher['keyWrap']}' is not supported (only ${KEY_WRAP_NAME})`);
    const sigName = cipher['signature'];
    if (sigName !== '' && sigName !== SIGNATURE_NAME)
      throw processorError(`${what}: signature '${sigName}' is not supported (only ${SIGNATURE_NAME})`);
    if (nonce.length !== NONCE_BYTES) throw processorError(`${what}: the nonce has ${nonce.length} bytes, not ${NONCE_BYTES}`);
    if (tag.length !== TAG_BYTES) throw processorError(`${what}: the tag has ${tag.length} bytes, not ${TAG_BYTES}`);

    const keys = this.#keys;
    const aad = associatedData(objectId);
    if (this.#verify) {
      if (sigName === '' || signature.length === 0) throw processorError(`${what} is not signed, and verify is on: refused`);
      const v = createVerify('sha256');
      for (const part of signedParts(aad, wrapped, nonce, tag, data)) v.update(part);
      const ok = v.verify(
        { key: keys.publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO },
        signature,
      );
      if (!ok) throw processorError(`${what}: bad signature (not signed with the private key of ${keys.keyId}, or altered after signing)`);
    }

    const aesKey = this.#unwrap(wrapped, enc, what);
    const decipher = createDecipheriv('aes-256-gcm', aesKey, nonce, { authTagLength: TAG_BYTES });
    decipher.setAAD(aad);
    decipher.setAuthTag(tag);
    const plain = decipher.update(data);
    try {
      decipher.final();
    } catch (e) {
      throw processorError(`${what} fails authentication (AES-GCM tag mismatch): its data, nonce, tag or objectId were altered`, e);
    }
    return { objectId, ...this.#decode(plain, what) };
  }

  #unwrap(wrapped: Uint8Array, enc: PVStructure, what: string): Buffer {
    const last = this.#lastWrapped;
    if (last && this.#lastKey && last.length === wrapped.length && sameBytes(last, wrapped, last.length)) return this.#lastKey;
    const keys = this.#keys;
    const forKey = typeof enc['keyId'] === 'string' && enc['keyId'] !== '' ? enc['keyId'] : 'an unknown key';
    const wrong = forKey !== keys.keyId ? ` (it was encrypted for ${forKey}; the key in '${keys.source}' is ${keys.keyId})` : '';
    if (wrapped.length !== keys.modulusBytes) {
      throw processorError(
        `${what}: the wrapped key has ${wrapped.length} bytes, the private key needs ${keys.modulusBytes}: wrong key${wrong}`,
      );
    }
    let aesKey: Buffer;
    try {
      aesKey = privateDecrypt(
        { key: keys.privateKey as KeyObject, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
        wrapped,
      );
    } catch (e) {
      throw processorError(
        `${what}: the AES key cannot be unwrapped with the private key in '${keys.source}'${wrong || ' (wrong key, or the key field was altered)'}`,
        e,
      );
    }
    if (aesKey.length !== AES_KEY_BYTES)
      throw processorError(`${what}: the unwrapped key has ${aesKey.length} bytes, not ${AES_KEY_BYTES}`);
    // Keep a copy: the object's array may be a view of a receive buffer that gets reused.
    this.#lastWrapped = Uint8Array.from(wrapped);
    this.#lastKey = aesKey;
    return aesKey;
  }

  /** Type bytes then value bytes; the type is looked up among recent ones before being decoded. */
  #decode(plain: Buffer, what: string): { type: StructureDesc; value: PVStructure } {
    try {
      const r = new ByteReader(plain, true);
      let type: StructureDesc | null = null;
      for (let i = 0; i < this.#types.length; i++) {
        const known = this.#types[i]!;
        if (sameBytes(plain, known.bytes, known.bytes.length)) {
          // Encoded types are self-delimiting: equal leading bytes are the same whole type.
          r.skip(known.bytes.length);
          type = known.type;
          if (i > 0) this.#types.splice(0, 0, ...this.#types.splice(i, 1));
          break;
        }
      }
      if (!type) {
        const decoded = decodeType(r, new TypeCache());
        if (decoded === null || decoded.kind !== 'structure')
          throw new DecodeError(`it holds ${decoded ? `a ${decoded.kind}` : 'no type'}, not a structure`);
        type = decoded;
        this.#types.unshift({ bytes: Uint8Array.from(plain.subarray(0, plain.length - r.remaining)), type });
        if (this.#types.length > TYPE_CACHE_SIZE) this.#types.pop();
      }
      const value = decodeValue(r, type, new TypeCache()) as PVStructure;
      if (r.remaining !== 0) throw new DecodeError(`${r.remaining} bytes left after the value`);
      return { type, value };
    } catch (e) {
      throw processorError(`${what} decrypted but does not decode as a pvData value: ${messageOf(e)}`, e);
    }
  }

  override resetStats(): void {
    this.#nDecrypted = 0;
    this.#processingTime = 0;
  }

  override getStats(): Record<string, number> {
    return {
      nDecrypted: this.#nDecrypted,
      processingTime: this.#processingTime,
      processingRate: this.#processingTime > 0 ? this.#nDecrypted / this.#processingTime : 0,
    };
  }

  override getStatsTypes(): Record<string, ScalarType> {
    return { nDecrypted: 'uint', processingTime: 'double', processingRate: 'double' };
  }
}

/**
 * The decryptor for Area Detector streams: DataDecryptor under PvaPy's name. Decryption restores
 * the exact type (an NTNDArray stays the NTNDArray it was, extra fields included), so there is
 * nothing to coerce; it is the same class.
 */
export const AdImageDataDecryptor = DataDecryptor;
export type AdImageDataDecryptor = DataDecryptor;
