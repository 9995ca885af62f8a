import { TextDecoder } from 'node:util';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { describeError } from '../util/describe-error';
import { ResponseEncryption, strictBase64 } from './response-encryption';
import { IdempotencyCompressionOptions, IdempotencyEncryptionOptions } from '../options/stored-record-options';
import {
  IDEMPOTENCY_DEFAULT_COMPRESSION_THRESHOLD_BYTES,
  IDEMPOTENCY_DEFAULT_SEALED_COMPRESSION_THRESHOLD_BYTES,
} from '../options/idempotency.constants';
import { IdempotencyRecordId } from '../stores/idempotency-store';

/*
 * The stored forms. A serialised response is always a JSON object, so it starts with `{`; the others start with
 * `~`, which no JSON text can, so a record written before compression existed (or with it off) still reads as it is.
 *
 *   {…}                 plain JSON
 *   ~d<base64>          deflate-raw of the JSON
 *   ~e<key id>:<base64> AES-256-GCM: IV ‖ ciphertext ‖ tag; the plaintext is `j` + JSON or `d` + deflate-raw
 *
 * Base64 keeps the record text that every store takes (PostgreSQL's TEXT refuses NUL and invalid UTF-8).
 */
const MARKER = '~';
const DEFLATED = 'd';
const ENCRYPTED = 'e';
const PLAIN_PAYLOAD = 0x6a; // 'j'
const DEFLATED_PAYLOAD = 0x64; // 'd'
/** Level 6 (zlib's default): within 5% of brotli's best size at half its time, 2-7% smaller than level 1. */
const DEFLATE_LEVEL = 6;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Turns the stored form of a response into what the store keeps (compressed above the threshold, sealed when
 * `encryption` is set) and back. Encoding happens once per completion; decoding once per replay from the store
 * (the local cache keeps the plain JSON, so its hits skip this).
 */
export class ResponseCodec {
  private readonly threshold: number | undefined;
  private readonly encryption: ResponseEncryption | undefined;

  constructor(compression: IdempotencyCompressionOptions | undefined, encryption?: IdempotencyEncryptionOptions) {
    const defaultThreshold = encryption
      ? IDEMPOTENCY_DEFAULT_SEALED_COMPRESSION_THRESHOLD_BYTES
      : IDEMPOTENCY_DEFAULT_COMPRESSION_THRESHOLD_BYTES;
    this.threshold = compression === false ? undefined : (compression?.threshold ?? defaultThreshold);
    this.encryption = encryption ? new ResponseEncryption(encryption) : undefined;
  }

  /** What the store keeps for the serialised response `json` of the record `id`. */
  encode(json: string, id: IdempotencyRecordId): string {
    const deflated = this.compress(json);
    if (this.encryption) {
      const payload = deflated
        ? Buffer.concat([Buffer.of(DEFLATED_PAYLOAD), deflated.compressed])
        : Buffer.concat([Buffer.of(PLAIN_PAYLOAD), Buffer.from(json)]);
      const { keyId, sealed } = this.encryption.seal(payload, id, encryptedHeader);
      return `${encryptedHeader(keyId)}${sealed.toString('base64')}`;
    }
    if (!deflated) return json;
    const stored = `${MARKER}${DEFLATED}${deflated.compressed.toString('base64')}`;
    // Base64 costs a third: a response that barely compresses is smaller as it is.
    return stored.length < deflated.plainBytes ? stored : json;
  }

  /**
   * The serialised response a store's record holds, whichever form it was written in. Throws, saying why, for a
   * record that is corrupt, sealed with a key no longer configured, bound to another id, or that would inflate
   * past `maxBytes` (so a hostile record cannot take the process's memory).
   */
  decode(stored: string, id: IdempotencyRecordId, maxBytes: number): string {
    if (!stored.startsWith(MARKER)) return stored;
    switch (stored[1]) {
      case DEFLATED:
        return inflate(strictBase64(stored.slice(2), 'compressed record'), maxBytes);
      case ENCRYPTED:
        return this.open(stored, id, maxBytes);
      default:
        throw new Error(`stored response has an unknown format ${JSON.stringify(stored.slice(0, 2))}`);
    }
  }

  /** `json` deflated, or undefined when it is under the threshold, compression is off, or deflate saves nothing. */
  private compress(json: string): { compressed: Buffer; plainBytes: number } | undefined {
    // No response under the threshold pays for a Buffer; UTF-8 takes at most three bytes per UTF-16 unit.
    if (this.threshold === undefined || json.length * 3 < this.threshold) return undefined;
    const bytes = Buffer.from(json);
    if (bytes.length < this.threshold) return undefined;
    const compressed = deflateRawSync(bytes, { level: DEFLATE_LEVEL });
    return compressed.length < bytes.length ? { compressed, plainBytes: bytes.length } : undefined;
  }

  private open(stored: string, id: IdempotencyRecordId, maxBytes: number): string {
    if (!this.encryption) throw new Error('stored response is encrypted, and the "encryption" option is not set');
    const colon = stored.indexOf(':', 2);
    if (colon < 0) throw new Error('encrypted record has no key id');
    const keyId = stored.slice(2, colon);
    const payload = this.encryption.open(
      { keyId, sealed: strictBase64(stored.slice(colon + 1), 'encrypted record') },
      id,
      stored.slice(0, colon + 1),
    );
    const body = payload.subarray(1);
    switch (payload[0]) {
      case PLAIN_PAYLOAD:
        return text(body);
      case DEFLATED_PAYLOAD:
        return inflate(body, maxBytes);
      default:
        throw new Error('encrypted record holds an unknown format');
    }
  }
}

function encryptedHeader(keyId: string): string {
  return `${MARKER}${ENCRYPTED}${keyId}:`;
}

/** Inflates at most `maxBytes`: a small record that would inflate to gigabytes is refused, not expanded. */
function inflate(compressed: Buffer, maxBytes: number): string {
  let bytes: Buffer;
  try {
    bytes = inflateRawSync(compressed, { maxOutputLength: maxBytes });
  } catch (error) {
    // By code, not `instanceof RangeError`: the error may come from another realm (a test runner's).
    if ((error as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new Error(`compressed record inflates past ${maxBytes} bytes (maxResponseBytes)`);
    }
    throw new Error(`compressed record is corrupt: ${describeError(error)}`);
  }
  return text(bytes);
}

function text(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new Error('decoded record is not UTF-8 text');
  }
}
