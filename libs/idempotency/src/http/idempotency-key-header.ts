import { parseIdempotencyKey, parseIdempotencyKeyHeader, ParsedIdempotencyKey } from '../core/idempotency-key';
import { rememberLast } from '../util/remember-last';

// An app has one or two header names: each is lower-cased once, not per request.
const lowerCased = rememberLast((name: string) => name.toLowerCase());

/**
 * The key in an HTTP request's header (Express's or Fastify's request), read from the raw header list so that a
 * header sent twice is refused (the parsed headers would have joined or dropped one). One pass and no list of
 * occurrences: the second one is all that matters. Used by every transport that rides on an HTTP request.
 */
export function readIdempotencyKeyHeader(request: any, headerName: string): ParsedIdempotencyKey {
  const raw: string[] | undefined = request.rawHeaders ?? request.raw?.rawHeaders;
  const wanted = lowerCased(headerName);
  if (!raw) {
    const value = request.headers?.[wanted];
    return parseIdempotencyKeyHeader(value === undefined ? [] : Array.isArray(value) ? value : [value]);
  }
  let found: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    // Most clients send header names in lower case (HTTP/2 must): those match without lower-casing.
    if (name === wanted || (name.length === wanted.length && name.toLowerCase() === wanted)) {
      if (found !== undefined) return parseIdempotencyKeyHeader([found, raw[i + 1]]);
      found = raw[i + 1];
    }
  }
  return parseIdempotencyKey(found);
}
