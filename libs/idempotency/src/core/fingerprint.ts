import { hash } from 'node:crypto';
import { Buffer } from 'node:buffer';
import { configure } from 'safe-stable-stringify';
import { PayloadSelection } from '../options/payload-paths';
import { selectPayload } from './payload-selection';

/** The parts of a request that make it "the same request" for one idempotency key. */
export interface FingerprintInput {
  method: string;
  /** The request target as received (path and query), so one key sent to another resource is another request. */
  path: string;
  /** The parsed body (object keys are sorted before hashing) or a raw string/Buffer body. */
  body: unknown;
  /** Header names (lower case) and values that take part, in any order. */
  headers?: Record<string, string | undefined>;
  /** Which parts of the body count (`fingerprint.include` / `exclude`); undefined: all of it. */
  selection?: PayloadSelection;
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
 * SHA-256 (hex) over method, path, canonical body (or its selected part) and the chosen headers. The parts are
 * hashed as one JSON array, so no choice of values can make two different requests concatenate to the same input.
 * Throws `UnselectablePayloadError` for a selection on a body that is not an object or an array.
 */
export function fingerprintRequest(input: FingerprintInput): string {
  const headers = input.headers ? JSON.stringify(sortedHeaders(input.headers)) : '[]';
  const body = canonicalPayload(input.body, input.selection);
  // JSON.stringify([METHOD, path, body, headers]), written out: stringifying an array makes V8 look up `toJSON` on it
  // (and on the headers' array) in its runtime, on every request. The same text, so the same digests as ever.
  const material = `[${arrayElement(input.method.toUpperCase())},${arrayElement(input.path)},${arrayElement(body)},${headers}]`;
  // The one-shot hash: no Hash object per request.
  return hash('sha256', material, 'hex');
}

/** A string as JSON.stringify writes it inside an array (where a missing value is `null`). */
function arrayElement(value: string | undefined): string {
  return value === undefined ? 'null' : JSON.stringify(value);
}

/**
 * SHA-256 (hex) over a message's pattern (or subject) and its canonical payload (or its selected part), so the same
 * key sent with another payload, or to another pattern, is another message. Tagged so no message hashes like a
 * request.
 */
export function fingerprintMessage(pattern: string, payload: unknown, selection?: PayloadSelection): string {
  return hash('sha256', JSON.stringify(['message', pattern, canonicalPayload(payload, selection)]), 'hex');
}

/**
 * The payload's part of the fingerprint. What `exclude` leaves is a payload like any other, so a payload that has
 * none of the excluded paths keeps the fingerprint it had without the option. What `include` keeps is a list of
 * paths and values, marked with an `include:` that no payload's canonical form (JSON, or `buffer:` and base64) starts
 * with, so it never equals a whole payload's.
 */
function canonicalPayload(payload: unknown, selection: PayloadSelection | undefined): string {
  if (selection === undefined) return canonicalize(payload);
  const selected = selectPayload(payload, selection);
  return selection.mode === 'include' ? `include:${canonicalize(selected)}` : canonicalize(selected);
}

const NO_HEADERS: never[] = [];

function sortedHeaders(headers: Record<string, string | undefined>): Array<readonly [string, string | null]> {
  const names = Object.keys(headers);
  if (names.length === 0) return NO_HEADERS;
  return names
    .map((name) => [name.toLowerCase(), headers[name] ?? null] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}
