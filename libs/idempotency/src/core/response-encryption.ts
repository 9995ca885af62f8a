import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { IdempotencyRecordId } from '../stores/idempotency-store';
import { IdempotencyEncryptionOptions } from '../options/stored-record-options';

/** A sealed record: which key sealed it, and the IV, ciphertext and tag. */
export interface SealedRecord {
  keyId: string;
  /** IV (12 bytes), then the ciphertext, then the GCM tag (16 bytes). */
  sealed: Buffer;
}

const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Key ids travel in every sealed record, before a `:`: short, and nothing a record's framing could confuse. */
const KEY_ID = /^[A-Za-z0-9_.-]{1,32}$/;
const STRICT_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** Names what the additional data binds, so a future format never verifies as this one. */
const AAD_LABEL = 'nest-idempotency/stored-response/v1';

/**
 * AES-256-GCM over stored responses. Each record gets a fresh random 96-bit IV; its additional authenticated data
 * is the record's id (namespace, scope, key) and the stored header, so a ciphertext copied to another record (another
 * tenant's, say) or given another key id fails to open. Keys are checked once, here, at start-up; no message ever
 * shows a key's bytes.
 */
export class ResponseEncryption {
  private readonly keys = new Map<string, Buffer>();
  readonly currentKeyId: string;

  constructor(options: IdempotencyEncryptionOptions) {
    if (typeof options.keys !== 'object' || options.keys === null) {
      throw new Error('Idempotency option "encryption.keys" must be an object of key id to key');
    }
    for (const [id, key] of Object.entries(options.keys)) {
      if (!KEY_ID.test(id)) {
        throw new Error(
          `Idempotency option "encryption.keys" has the key id ${JSON.stringify(id)}: ids must be 1-32 of A-Z a-z 0-9 _ . -`,
        );
      }
      this.keys.set(id, keyBytes(id, key));
    }
    if (this.keys.size === 0) throw new Error('Idempotency option "encryption.keys" must hold at least one key');
    if (typeof options.current !== 'string' || !this.keys.has(options.current)) {
      throw new Error(
        `Idempotency option "encryption.current" must name one of "encryption.keys" (${[...this.keys.keys()].join(', ')}), got ${JSON.stringify(options.current)}`,
      );
    }
    this.currentKeyId = options.current;
  }

  /** Seals `plaintext` for the record `id` with the current key; `header` is bound in as additional data. */
  seal(plaintext: Buffer, id: IdempotencyRecordId, header: (keyId: string) => string): SealedRecord {
    const keyId = this.currentKeyId;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.keys.get(keyId)!, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(additionalData(id, header(keyId)));
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return { keyId, sealed: Buffer.concat([iv, ciphertext, cipher.getAuthTag()]) };
  }

  /** Opens a sealed record of `id`; throws (naming the key id, never the key) when it cannot be trusted. */
  open(record: SealedRecord, id: IdempotencyRecordId, header: string): Buffer {
    const key = this.keys.get(record.keyId);
    if (!key) throw new Error(`sealed with the key "${record.keyId}", which is no longer in "encryption.keys"`);
    if (record.sealed.length < IV_BYTES + TAG_BYTES) throw new Error('sealed record is truncated');
    const iv = record.sealed.subarray(0, IV_BYTES);
    const tag = record.sealed.subarray(record.sealed.length - TAG_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(additionalData(id, header));
    decipher.setAuthTag(tag);
    try {
      return Buffer.concat([decipher.update(record.sealed.subarray(IV_BYTES, -TAG_BYTES)), decipher.final()]);
    } catch {
      // GCM says only that the tag did not match: another key, another record's id, or altered bytes.
      throw new Error(`sealed record does not authenticate with the key "${record.keyId}" for this record's id`);
    }
  }
}

/** Base64 as the library writes it, and nothing else: Node's decoder skips what it does not understand. */
export function strictBase64(text: string, what: string): Buffer {
  if (!STRICT_BASE64.test(text)) throw new Error(`${what} is not valid base64`);
  return Buffer.from(text, 'base64');
}

function keyBytes(id: string, key: unknown): Buffer {
  let bytes: Buffer;
  if (Buffer.isBuffer(key)) bytes = key;
  else if (typeof key === 'string') {
    try {
      bytes = strictBase64(key, 'the key');
    } catch {
      throw new Error(`Idempotency option "encryption.keys.${id}" must be a Buffer or base64, and is not valid base64`);
    }
  } else {
    throw new Error(`Idempotency option "encryption.keys.${id}" must be a Buffer or a base64 string`);
  }
  if (bytes.length !== KEY_BYTES) {
    throw new Error(
      `Idempotency option "encryption.keys.${id}" must be ${KEY_BYTES} bytes (AES-256), got ${bytes.length}`,
    );
  }
  // A copy, so a caller who later zeroes or reuses its buffer does not change the key under the library.
  return Buffer.from(bytes);
}

/** The label, the stored header and the id's parts, each length-prefixed so that no two ids ever run together. */
function additionalData(id: IdempotencyRecordId, header: string): Buffer {
  const parts = [AAD_LABEL, header, id.namespace, id.scope, id.key];
  return Buffer.from(parts.map((part) => `${Buffer.byteLength(part)}:${part}`).join(''));
}
