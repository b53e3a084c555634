// DataEncryptor (PvaPy's DataEncryptor / AdImageDataEncryptor, with our own wire format): every
// input object becomes one `sluice:EncryptedData:1.0` object. Per object: a random AES-256 key and
// 12-byte nonce; the object, serialized as a self-describing pvData value (type, then value,
// little-endian), encrypted with AES-256-GCM; the AES key wrapped with RSA-OAEP (SHA-256) for the
// holder of the private key; optionally the whole signed with RSA-PSS (SHA-256). See
// docs/processors.md for the structure field by field.
//
//   sluice consumer -ic pvapy:image -oc 'enc:*:output' --processor-class DataEncryptor \
//     --processor-args '{"publicKeyFilePath": "keys/public.pem"}'
import { createCipheriv, createSign, constants, publicEncrypt, type KeyObject } from 'node:crypto';
import { ntndarray } from '../../pvdata/nt/ntndarray.js';
import { timeNow } from '../../pvdata/nt/common.js';
import { encodeType } from '../../pvdata/type-codec.js';
import type { ScalarType, StructureDesc } from '../../pvdata/types.js';
import { encodeValue } from '../../pvdata/value-codec.js';
import type { PVStructure } from '../../pvdata/values.js';
import { ByteWriter } from '../../pvdata/wire.js';
import { UserDataProcessor, type ProcessorConfig } from '../user-data-processor.js';
import {
  AES_KEY_BYTES,
  CIPHER_NAME,
  KEY_WRAP_NAME,
  NONCE_BYTES,
  SIGNATURE_NAME,
  associatedData,
  booleanOption,
  bytesOf,
  encryptedDataT,
  loadPrivateKey,
  loadPublicKey,
  messageOf,
  pathOption,
  processorError,
  randomBytesPooled,
  signedParts,
  type RsaKeys,
} from './encrypted-data.js';

const EMPTY: Uint8Array = new Uint8Array(0);
/** Largest accepted objectsPerKey: far below the 2^32 messages per key that random GCM nonces allow. */
const MAX_OBJECTS_PER_KEY = 1_000_000;

interface Session {
  aesKey: Buffer;
  wrapped: Uint8Array;
  uses: number;
}

const typeBytesCache = new WeakMap<StructureDesc, Buffer>();

/** The pvData encoding of a type (little-endian), computed once per type description. */
function typeBytes(type: StructureDesc): Buffer {
  let b = typeBytesCache.get(type);
  if (!b) {
    const w = new ByteWriter(true, 4096);
    encodeType(w, type);
    b = Buffer.concat(w.take());
    typeBytesCache.set(type, b);
  }
  return b;
}

function isTimeStamp(v: unknown): v is PVStructure {
  return typeof v === 'object' && v !== null && typeof (v as PVStructure)['secondsPastEpoch'] === 'bigint';
}

export class DataEncryptor extends UserDataProcessor {
  #keys!: RsaKeys;
  #sign = false;
  #objectsPerKey = 1;
  #session: Session | null = null;
  /** Reused for every object: its chunks are consumed (encrypted) before the next object. */
  readonly #writer = new ByteWriter(true);
  #nextId = 0n;
  #nEncrypted = 0;
  #processingTime = 0;

  constructor(config: ProcessorConfig = {}) {
    super(config);
    this.#apply(config, true);
  }

  /** Keys and options from a configuration; nothing changes unless all of it is valid. */
  #apply(config: Record<string, unknown>, initial: boolean): void {
    const priv = config['privateKeyFilePath'];
    const pub = config['publicKeyFilePath'];
    const sign = config['sign'] === undefined ? this.#sign : booleanOption('sign', config['sign']);
    let objectsPerKey = this.#objectsPerKey;
    if (config['objectsPerKey'] !== undefined) {
      const n = config['objectsPerKey'];
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > MAX_OBJECTS_PER_KEY) {
        throw processorError(`objectsPerKey must be an integer from 1 to ${MAX_OBJECTS_PER_KEY}, not ${JSON.stringify(n)}`);
      }
      objectsPerKey = n;
    }
    let keys = initial ? null : this.#keys;
    if (priv !== undefined || pub !== undefined) {
      const fromPrivate = priv !== undefined ? loadPrivateKey(pathOption('privateKeyFilePath', priv)) : null;
      const fromPublic = pub !== undefined ? loadPublicKey(pathOption('publicKeyFilePath', pub)) : null;
      if (fromPrivate && fromPublic && fromPrivate.keyId !== fromPublic.keyId) {
        throw processorError(
          `publicKeyFilePath '${fromPublic.source}' (${fromPublic.keyId}) is not the public key of ` +
            `privateKeyFilePath '${fromPrivate.source}' (${fromPrivate.keyId})`,
        );
      }
      keys = fromPrivate ?? fromPublic;
    }
    if (!keys) {
      throw processorError(
        'DataEncryptor needs privateKeyFilePath or publicKeyFilePath (a PEM file with the RSA key; see docs/processors.md)',
      );
    }
    if (sign && !keys.privateKey) {
      throw processorError(`sign needs the private key: give privateKeyFilePath (the key in use comes from '${keys.source}')`);
    }
    if (keys !== this.#keys || objectsPerKey !== this.#objectsPerKey) this.#session = null;
    this.#keys = keys;
    this.#sign = sign;
    this.#objectsPerKey = objectsPerKey;
  }

  /**
   * Runtime changes: `privateKeyFilePath`, `publicKeyFilePath`, `sign`, `objectsPerKey`. A bad
   * value throws (the control PV shows "Configuration failed: …") and leaves everything unchanged.
   */
  override configure(config: Record<string, unknown>): void {
    this.#apply(config, false);
    this.logger.info(`keys from '${this.#keys.source}' (${this.#keys.keyId}), sign ${this.#sign}, objectsPerKey ${this.#objectsPerKey}`);
  }

  override start(): void {
    this.logger.info(`encrypting for ${this.#keys.keyId} (keys from '${this.#keys.source}'), sign ${this.#sign}`);
  }

  /** Every output object is an EncryptedData structure, whatever the input. */
  override getOutputType(): StructureDesc {
    return encryptedDataT;
  }

  override process(value: PVStructure): void {
    const t0 = performance.now();
    const type = this.inputType;
    if (!type)
      throw processorError('DataEncryptor: the input type is not known (the framework knows it from the first input, before process())');
    this.updateOutputChannel(this.encrypt(value, type));
    this.#nEncrypted += 1;
    this.#processingTime += (performance.now() - t0) / 1000;
  }

  /** The EncryptedData object for `value` of type `type` (what process() publishes). */
  encrypt(value: PVStructure, type: StructureDesc): PVStructure {
    const keys = this.#keys;
    const session = this.#sessionKey(keys.publicKey);
    const nonce = randomBytesPooled(NONCE_BYTES);
    const objectId = this.#objectIdOf(value);
    const aad = associatedData(objectId);

    const w = this.#writer;
    w.bytes(typeBytes(type));
    try {
      encodeValue(w, type, value);
    } catch (e) {
      w.take(); // drop the partial encoding
      throw processorError(`object ${objectId} cannot be serialized with its type: ${messageOf(e)}`, e);
    }
    const chunks = w.take();
    // One contiguous plaintext (pixel arrays were referenced, not copied, by the writer), then one
    // cipher call: the ciphertext comes out as a single buffer that becomes `data` as it is.
    const plain = chunks.length === 1 ? (chunks[0] as Uint8Array) : Buffer.concat(chunks);
    const cipher = createCipheriv('aes-256-gcm', session.aesKey, nonce, { authTagLength: 16 });
    cipher.setAAD(aad);
    const data = bytesOf(cipher.update(plain));
    cipher.final();
    const tag = bytesOf(cipher.getAuthTag());
    const nonceBytes = bytesOf(nonce);

    let signature = EMPTY;
    if (this.#sign) {
      const s = createSign('sha256');
      for (const part of signedParts(aad, session.wrapped, nonceBytes, tag, data)) s.update(part);
      signature = bytesOf(
        s.sign({
          key: keys.privateKey as KeyObject,
          padding: constants.RSA_PKCS1_PSS_PADDING,
          saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
        }),
      );
    }
    const ts = value['timeStamp'];
    return {
      objectId,
      data,
      key: session.wrapped,
      nonce: nonceBytes,
      tag,
      signature,
      keyId: keys.keyId,
      cipher: { name: CIPHER_NAME, keyWrap: KEY_WRAP_NAME, signature: this.#sign ? SIGNATURE_NAME : '' },
      timeStamp: isTimeStamp(ts) ? ts : timeNow(),
    };
  }

  /** A fresh AES key per object (objectsPerKey 1, the default), or one per objectsPerKey objects. */
  #sessionKey(publicKey: KeyObject): Session {
    let s = this.#session;
    if (!s || s.uses >= this.#objectsPerKey) {
      const aesKey = randomBytesPooled(AES_KEY_BYTES);
      const wrapped = bytesOf(publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, aesKey));
      s = this.#session = { aesKey, wrapped, uses: 0 };
    }
    s.uses += 1;
    return s;
  }

  /** The input's id field (uniqueId by default) as a ulong; objects without one are numbered 1, 2, 3… */
  #objectIdOf(value: PVStructure): bigint {
    const raw = value[this.objectIdField];
    if (typeof raw === 'bigint') return BigInt.asUintN(64, raw);
    if (typeof raw === 'number' && Number.isInteger(raw)) return BigInt.asUintN(64, BigInt(raw));
    this.#nextId += 1n;
    return this.#nextId;
  }

  override resetStats(): void {
    this.#nEncrypted = 0;
    this.#processingTime = 0;
  }

  override getStats(): Record<string, number> {
    return {
      nEncrypted: this.#nEncrypted,
      processingTime: this.#processingTime,
      processingRate: this.#processingTime > 0 ? this.#nEncrypted / this.#processingTime : 0,
    };
  }

  override getStatsTypes(): Record<string, ScalarType> {
    return { nEncrypted: 'uint', processingTime: 'double', processingRate: 'double' };
  }
}

/**
 * The encryptor for Area Detector streams. It encrypts exactly like DataEncryptor (the exact type
 * is kept in any case, so no NTNDArray coercion is needed as in PvaPy); the one difference is the
 * NTNDArray input type, so that `--input-mode pvas` can host the input PV.
 */
export class AdImageDataEncryptor extends DataEncryptor {
  override getInputType(): StructureDesc {
    return ntndarray.type();
  }
}
