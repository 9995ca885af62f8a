/**
 * The wait before retry number `retry` (1 for the first retry): "full jitter" (AWS Architecture Blog, "Exponential
 * Backoff And Jitter"), a uniform draw below `min(maxDelayMs, baseDelayMs * 2^(retry-1))`. The jitter spreads
 * the retries of many clients that failed together, so they do not come back together.
 */
export function fullJitterBackoff(
  retry: number,
  baseDelayMs: number,
  maxDelayMs: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** Math.max(0, retry - 1));
  return Math.floor(random() * ceiling);
}
