import { IDEMPOTENCY_MAX_KEY_LENGTH } from '../options/idempotency.constants';

/** The result of reading a key: a valid key, no key, or why the key is refused. */
export type ParsedIdempotencyKey =
  { status: 'valid'; key: string } | { status: 'missing' } | { status: 'invalid'; reason: string };

const VISIBLE_ASCII = /^[\x21-\x7e]+$/;

/**
 * Validates one key value: 1-255 visible ASCII characters (0x21-0x7E). The quoted form the IETF draft
 * writes (a Structured Field sf-string such as `"abc"`) is accepted and unquoted, so `"abc"` and `abc`
 * are the same key; inside quotes only `\"` and `\\` may be escaped, as RFC 8941 allows.
 */
export function parseIdempotencyKey(raw: string | undefined): ParsedIdempotencyKey {
  if (raw === undefined) return { status: 'missing' };
  let key = raw;
  if (raw.length >= 2 && raw.startsWith('"') && raw.endsWith('"')) {
    const unquoted = unquoteSfString(raw.slice(1, -1));
    if (unquoted === undefined) return { status: 'invalid', reason: 'malformed quoted string' };
    key = unquoted;
  }
  if (key.length === 0) return { status: 'invalid', reason: 'it is empty' };
  if (key.length > IDEMPOTENCY_MAX_KEY_LENGTH) {
    return { status: 'invalid', reason: `it is longer than ${IDEMPOTENCY_MAX_KEY_LENGTH} characters` };
  }
  if (!VISIBLE_ASCII.test(key)) {
    return { status: 'invalid', reason: 'only visible ASCII characters (0x21-0x7E) are allowed' };
  }
  return { status: 'valid', key };
}

/**
 * Reads a key from a header's occurrences as the HTTP server saw them. More than one occurrence is refused:
 * two keys for one request is a client bug, and picking either would be a guess.
 */
export function parseIdempotencyKeyHeader(occurrences: readonly string[]): ParsedIdempotencyKey {
  if (occurrences.length === 0) return { status: 'missing' };
  if (occurrences.length > 1) return { status: 'invalid', reason: 'the header was sent more than once' };
  return parseIdempotencyKey(occurrences[0]);
}

function unquoteSfString(inner: string): string | undefined {
  let out = '';
  for (let i = 0; i < inner.length; i++) {
    const char = inner[i];
    if (char === '"') return undefined;
    if (char === '\\') {
      const next = inner[i + 1];
      if (next !== '"' && next !== '\\') return undefined;
      out += next;
      i++;
      continue;
    }
    out += char;
  }
  return out;
}
