import { hash } from 'node:crypto';
import { configure } from 'safe-stable-stringify';

/** The parts of a request that make it "the same request" for one idempotency key. */
export interface FingerprintInput {
  method: string;
  /** The request target as received (path and query), so one key sent to another resource is another request. */
  path: string;
  /** The parsed body (object keys are sorted before hashing) or a raw string/Buffer body. */
  body: unknown;
  /** Header names (lower case) and values that take part, in any order. */
  headers?: Record<string, string | undefined>;
}

// Deterministic (sorted object keys); circular references and BigInts hash instead of throwing. Only a body
// nested thousands deep overflows it (a RangeError the interceptor answers with 400).
const canonicalJson = configure({ deterministic: true, circularValue: '[Circular]', bigint: true });

/** Canonical JSON of a value: object keys sorted at every depth, array order kept. */
export function canonicalize(value: unknown): string {
  if (value === undefined) return '';
  if (Buffer.isBuffer(value)) return `buffer:${value.toString('base64')}`;
  return canonicalJson(value) ?? '';
}

/**
 * SHA-256 (hex) over method, path, canonical body and the chosen headers. The parts are hashed as one JSON
 * array, so no choice of values can make two different requests concatenate to the same input.
 */
export function fingerprintRequest(input: FingerprintInput): string {
  const headers = input.headers ? sortedHeaders(input.headers) : NO_HEADERS;
  const material = JSON.stringify([input.method.toUpperCase(), input.path, canonicalize(input.body), headers]);
  // The one-shot hash: no Hash object per request.
  return hash('sha256', material, 'hex');
}

/**
 * SHA-256 (hex) over a message's pattern (or subject) and its canonical payload, so the same key sent with
 * another payload, or to another pattern, is another message. Tagged so no message hashes like a request.
 */
export function fingerprintMessage(pattern: string, payload: unknown): string {
  return hash('sha256', JSON.stringify(['message', pattern, canonicalize(payload)]), 'hex');
}

const NO_HEADERS: never[] = [];

function sortedHeaders(headers: Record<string, string | undefined>): Array<readonly [string, string | null]> {
  const names = Object.keys(headers);
  if (names.length === 0) return NO_HEADERS;
  return names
    .map((name) => [name.toLowerCase(), headers[name] ?? null] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}
