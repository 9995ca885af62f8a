/** Median of numbers (null when there are none). */
export function median(values: readonly number[]): number | null {
  const sorted = values.filter((value) => Number.isFinite(value)).sort((a, b) => a - b);
  if (sorted.length === 0) return null;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** The value at quantile `q` (0–1) of values sorted ascending (nearest rank; 0 when there are none). */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/** Smallest and largest value. */
export function range(values: readonly number[]): [number, number] | null {
  const finite = values.filter((value) => Number.isFinite(value));
  return finite.length ? [Math.min(...finite), Math.max(...finite)] : null;
}

/** Median µs per call of `fn` in this process, over 15 batches sized so that each takes a few milliseconds. */
export function microsecondsPerCall(fn: () => unknown): number {
  for (let i = 0; i < 200; i++) fn();
  let perBatch = 1;
  for (;;) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < perBatch; i++) fn();
    if (Number(process.hrtime.bigint() - started) > 5e6) break;
    perBatch *= 2;
  }
  const samples: number[] = [];
  for (let batch = 0; batch < 15; batch++) {
    const started = process.hrtime.bigint();
    for (let i = 0; i < perBatch; i++) fn();
    samples.push(Number(process.hrtime.bigint() - started) / perBatch / 1000);
  }
  return median(samples)!;
}

/**
 * The order of one round: rotated by three from round to round and reversed every other round, so that each variant
 * runs both before and after the one it is compared with.
 */
export function roundOrder<T>(items: readonly T[], round: number): T[] {
  const rotation = (round * 3) % items.length;
  const rotated = [...items.slice(rotation), ...items.slice(0, rotation)];
  return round % 2 ? rotated.reverse() : rotated;
}
