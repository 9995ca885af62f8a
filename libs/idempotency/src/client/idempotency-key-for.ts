import { createHash } from 'node:crypto';
import { parseIdempotencyKey } from '../core/idempotency-key';
import { IDEMPOTENCY_MAX_KEY_LENGTH } from '../options/idempotency.constants';

/** What a key can be derived from: the ids the caller already persists (an order id, a payment's number). */
export type IdempotencyKeyPart = string | number | bigint;

/**
 * The key of one intent, derived from what the caller persists, so the same intent after a crash and restart derives
 * the same key: `idempotencyKeyFor('payment', orderId)` is `payment:<orderId>`. Each part is percent-encoded as
 * `encodeURIComponent` does (so `:` in a part is `%3A` and parts never run into each other) and the parts are joined
 * with `:`; a result longer than 255 characters is `sha256:` and the hex SHA-256 of it. Always a valid key.
 * Numbers must be safe integers, and no part may be empty: an `undefined` id must not become a shared key.
 */
export function idempotencyKeyFor(operation: string, ...ids: [IdempotencyKeyPart, ...IdempotencyKeyPart[]]): string {
  if (ids.length === 0)
    throw new TypeError('idempotencyKeyFor needs the ids of what the key is for, not only its operation');
  const joined = [operation, ...ids].map(encodePart).join(':');
  if (joined.length <= IDEMPOTENCY_MAX_KEY_LENGTH) return joined;
  return `sha256:${createHash('sha256').update(joined).digest('hex')}`;
}

function encodePart(part: IdempotencyKeyPart, index: number): string {
  const name = index === 0 ? 'operation' : `id ${index}`;
  if (typeof part === 'number' && !Number.isSafeInteger(part)) {
    throw new TypeError(`idempotencyKeyFor: the ${name} is a number that is not a safe integer`);
  }
  if (typeof part !== 'string' && typeof part !== 'number' && typeof part !== 'bigint') {
    throw new TypeError(`idempotencyKeyFor: the ${name} is a ${typeof part}, not a string, number or bigint`);
  }
  const text = String(part);
  if (text === '') throw new TypeError(`idempotencyKeyFor: the ${name} is empty`);
  return encodeURIComponent(text);
}

/** The key as the client sends it: refused before anything is sent unless the server would accept it. */
export function checkIdempotencyKey(key: string): string {
  const parsed = parseIdempotencyKey(typeof key === 'string' ? key : undefined);
  if (parsed.status === 'valid') return parsed.key;
  const reason = parsed.status === 'missing' ? 'it is not a string' : parsed.reason;
  throw new TypeError(`Invalid idempotency key: ${reason}`);
}
