/**
 * `Retry-After` in whole seconds: the configured hint, never more than what is left of the lease (a key
 * released sooner is better found by a quick retry), and at least 1, as the header cannot say less.
 */
export function retryAfterSeconds(hintMs: number, leaseLeftMs: number): number {
  return Math.max(1, Math.ceil(Math.min(hintMs, leaseLeftMs) / 1000));
}
