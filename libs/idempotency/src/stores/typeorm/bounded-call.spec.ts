import { setTimeout as sleep } from 'node:timers/promises';
import { boundedCall } from './bounded-call';
import { SqlDialect, StoreCall } from './sql-dialect';

const pooled = {} as SqlDialect;

/** A dialect whose calls take turns: `turnAfter` ms pass before the work runs. */
const takingTurns = (turnAfter: number): SqlDialect =>
  ({ exclusive: async <T>(work: () => Promise<T>) => (await sleep(turnAfter), work()) }) as unknown as SqlDialect;

describe('boundedCall', () => {
  it('answers what the work answers, at once or later, and rejects what it throws or rejects', async () => {
    await expect(boundedCall(pooled, 'acquire', 1000, () => 'now')).resolves.toBe('now');
    await expect(boundedCall(pooled, 'acquire', 1000, async () => (await sleep(10), 'later'))).resolves.toBe('later');
    const thrown = () => {
      throw new Error('refused');
    };
    await expect(boundedCall(pooled, 'acquire', 1000, thrown)).rejects.toThrow('refused');
    await expect(boundedCall(pooled, 'acquire', 1000, () => Promise.reject(new Error('lost')))).rejects.toThrow('lost');
  });

  it('rejects once callTimeout has passed, marking the call abandoned, and leaves no unhandled rejection', async () => {
    let call: StoreCall | undefined;
    let failLate!: (error: Error) => void;
    const started = Date.now();
    const bounded = boundedCall(pooled, 'complete', 100, (given) => {
      call = given;
      return new Promise<never>((_, reject) => (failLate = reject));
    });
    await expect(bounded).rejects.toThrow(
      'TypeOrmIdempotencyStore: complete got no answer from the database within 100 ms',
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(95);
    expect(call!.abandoned).toBe(true);
    const unhandled = vi.fn();
    process.on('unhandledRejection', unhandled);
    try {
      failLate(new Error('the answer came too late'));
      await sleep(10);
      expect(unhandled).not.toHaveBeenCalled();
    } finally {
      process.off('unhandledRejection', unhandled);
    }
  });

  it('keeps no timer once the work answered', async () => {
    const timers = vi.spyOn(global, 'clearTimeout');
    try {
      await boundedCall(pooled, 'release', 60_000, async () => true);
      expect(timers).toHaveBeenCalledTimes(1);
    } finally {
      timers.mockRestore();
    }
  });

  it('runs nothing whose turn came after its caller gave up', async () => {
    const work = vi.fn(() => 'ran');
    await expect(boundedCall(takingTurns(150), 'acquire', 50, work)).rejects.toThrow('within 50 ms');
    await sleep(150);
    expect(work).not.toHaveBeenCalled();
  });

  it('runs at once, with nobody to abandon it, what a free dialect can answer synchronously', async () => {
    const free = { isFree: () => true } as unknown as SqlDialect;
    const timers = vi.spyOn(global, 'setTimeout');
    try {
      await expect(boundedCall(free, 'acquire', 50, (call) => call.abandoned)).resolves.toBe(false);
      expect(timers).not.toHaveBeenCalled();
    } finally {
      timers.mockRestore();
    }
  });
});
