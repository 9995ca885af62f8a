import { hash } from 'node:crypto';

/** Marks a scope stored as its SHA-256 rather than as itself. */
export const HASHED_SCOPE_PREFIX = 'sha256:';

/** Longest scope, in UTF-8 bytes, stored as itself (stores bound the scope's size; SQL: 255 bytes). */
export const MAX_LITERAL_SCOPE_BYTES = 128;

/**
 * The form a scope is stored in. Principals can be long (a JWT subject, an email), so a scope over 128 bytes is
 * stored as `sha256:<hex>`, which keeps scopes apart without refusing anyone; every other scope is stored as
 * itself, unchanged, except one that begins with `sha256:`, which is hashed too.
 *
 * Why that makes the encoding injective (two different scopes never share a stored form): a scope stored as
 * itself never begins with `sha256:`, and a hashed one always does, so a literal form never equals a hashed
 * form. Two literal forms are equal only when the scopes are. Two hashed forms are equal only when two
 * scopes have the same SHA-256, which no one can produce. Without the second rule, a principal whose id is
 * literally `sha256:` + the hash of a long id would share that principal's records and be replayed its
 * responses.
 */
export function storableScope(scope: string): string {
  if (scope.startsWith(HASHED_SCOPE_PREFIX)) return hashedScope(scope);
  // A UTF-16 unit is at most three UTF-8 bytes, so a short scope (every usual principal id) skips counting bytes.
  if (scope.length * 3 <= MAX_LITERAL_SCOPE_BYTES || Buffer.byteLength(scope) <= MAX_LITERAL_SCOPE_BYTES) return scope;
  return hashedScope(scope);
}

function hashedScope(scope: string): string {
  return `${HASHED_SCOPE_PREFIX}${hash('sha256', scope, 'hex')}`;
}
