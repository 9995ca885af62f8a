import { describeError } from '../util/describe-error';
import { ResponseCodec } from './response-codec';
import { IdempotencyRecordId } from '../stores/idempotency-store';

/** The stored form of a result, or why it cannot be stored. */
export function serialise(value: unknown, maxBytes: number): string | { reason: string } {
  let json: string;
  try {
    json = JSON.stringify(value);
  } catch (error) {
    return { reason: `not JSON-serialisable: ${describeError(error)}` };
  }
  // UTF-8 needs at most three bytes per UTF-16 unit, so most responses skip counting their bytes.
  if (json.length * 3 > maxBytes) {
    const bytes = Buffer.byteLength(json);
    if (bytes > maxBytes) return { reason: `${bytes} bytes is over maxResponseBytes (${maxBytes})` };
  }
  return json;
}

/**
 * The stored form of a result back from what a store's record holds: decoded (inflated, opened) by `codec` for the
 * record `id`, inflating at most `maxBytes`, then parsed. Throws, saying why, for a record that cannot be read; the
 * caller treats that as a store failure (503, fail closed).
 */
export function readStoredResponse(
  text: string,
  codec: ResponseCodec,
  id: IdempotencyRecordId,
  maxBytes: number,
): unknown {
  let json: string;
  try {
    json = codec.decode(text, id, maxBytes);
  } catch (error) {
    throw new Error(`stored response cannot be decoded: ${describeError(error)}`);
  }
  try {
    return JSON.parse(json);
  } catch (error) {
    throw new Error(`stored response is not valid JSON: ${describeError(error)}`);
  }
}
