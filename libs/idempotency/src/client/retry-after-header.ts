/**
 * The wait a `Retry-After` header asks for, in ms: whole seconds (`120`) or an HTTP date (RFC 9110 §10.2.3), a date
 * in the past being no wait. `undefined` when absent or unreadable, so the backoff decides instead.
 */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // Only a date: Date.parse also reads "1" or "2026" as dates, which the digits above have already taken.
  if (!/^[A-Za-z]{3},? /.test(text) && !/^[A-Za-z]+day, /.test(text)) return undefined;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
