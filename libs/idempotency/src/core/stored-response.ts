import { describeError } from './describe-error';

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
 * A stored result read back from the text a store kept: the one place a replay (from the store or the local cache)
 * and an inspection decode it, so a change of the stored form is made here once. Throws when the text is not a
 * stored form (someone wrote to the store by hand).
 */
export function readStoredResponse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`stored response is not valid JSON: ${describeError(error)}`);
  }
}
