import { fullJitterBackoff } from './backoff';

describe('fullJitterBackoff', () => {
  it('doubles its ceiling per retry up to the cap', () => {
    const top = (retry: number) => fullJitterBackoff(retry, 100, 1_000, () => 0.999999);
    expect([1, 2, 3, 4, 5, 10].map(top)).toEqual([99, 199, 399, 799, 999, 999]);
  });

  it('may wait nothing at all (full jitter draws from zero)', () => {
    expect(fullJitterBackoff(3, 100, 1_000, () => 0)).toBe(0);
  });

  it('stays within [0, min(cap, base * 2^(retry-1))) for any draw', () => {
    for (let retry = 1; retry <= 40; retry++) {
      const ceiling = Math.min(5_000, 250 * 2 ** (retry - 1));
      for (let i = 0; i < 50; i++) {
        const delay = fullJitterBackoff(retry, 250, 5_000);
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThan(ceiling);
        expect(Number.isInteger(delay)).toBe(true);
      }
    }
  });

  it('spreads the waits of clients that failed together', () => {
    const delays = new Set(Array.from({ length: 100 }, () => fullJitterBackoff(5, 250, 5_000)));
    expect(delays.size).toBeGreaterThan(50);
  });
});
