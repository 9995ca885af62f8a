import { ExpiryEntry, ExpiryWheel } from './expiry-wheel';

interface Entry extends ExpiryEntry {
  name: string;
}
const entry = (name: string): Entry => ({
  name,
  expiryBucket: undefined,
  expiryPrevious: undefined,
  expiryNext: undefined,
});

describe('ExpiryWheel', () => {
  const takeAll = (wheel: ExpiryWheel<Entry>, now: number, maxValues = 1_000, maxBuckets = 1_000) => {
    const taken: string[] = [];
    wheel.takeExpired(now, maxValues, maxBuckets, (value) => taken.push(value.name));
    return taken;
  };

  it('hands out a value once its whole bucket lies in the past, and only once', () => {
    const wheel = new ExpiryWheel<Entry>(1_000);
    const a = entry('a');
    wheel.add(a, 1_500);
    expect(takeAll(wheel, 1_999)).toEqual([]);
    expect(takeAll(wheel, 2_000)).toEqual(['a']);
    expect(a.expiryBucket).toBeUndefined();
    expect(takeAll(wheel, 10_000)).toEqual([]);
  });

  it('empties a large bucket a few values per call, each call taking the next ones', () => {
    const wheel = new ExpiryWheel<Entry>(1_000);
    for (let i = 0; i < 10; i++) wheel.add(entry(`v${i}`), 1_000);
    const taken = [
      takeAll(wheel, 5_000, 3),
      takeAll(wheel, 5_000, 3),
      takeAll(wheel, 5_000, 3),
      takeAll(wheel, 5_000, 3),
    ];
    expect(taken.map((part) => part.length)).toEqual([3, 3, 3, 1]);
    expect(new Set(taken.flat()).size).toBe(10);
  });

  it('moves a value filed again, and forgets a removed one, from the front, middle or end of its bucket', () => {
    const wheel = new ExpiryWheel<Entry>(1_000);
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map(entry);
    for (const value of [a, b, c, d]) wheel.add(value, 1_000);
    wheel.remove(b);
    wheel.remove(d);
    wheel.add(a, 9_000);
    wheel.remove(b);
    expect(takeAll(wheel, 5_000)).toEqual(['c']);
    expect(takeAll(wheel, 9_000)).toEqual(['a']);
  });

  it('visits at most maxBuckets buckets per call, and starts again behind the cursor for a value filed there', () => {
    const wheel = new ExpiryWheel<Entry>(1_000);
    wheel.add(entry('early'), 2_000);
    wheel.add(entry('late'), 50_000);
    expect(takeAll(wheel, 60_000, 100, 10)).toEqual(['early']);
    expect(takeAll(wheel, 60_000, 100, 10)).toEqual([]);
    wheel.add(entry('behind'), 5_000);
    expect(takeAll(wheel, 60_000, 100, 10)).toEqual(['behind']);
    expect(takeAll(wheel, 60_000, 100, 100)).toEqual(['late']);
  });
});
