import { setTimeout as sleep } from 'node:timers/promises';
import { CallDeadlines } from './call-deadlines';

const timeoutError = () => new Error('timed out');

/** A promise settled from outside, as a store call's reply is. */
function pending<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('CallDeadlines', () => {
  it('settles as the work does when it answers in time', async () => {
    const deadlines = new CallDeadlines(200);
    await expect(deadlines.bound(Promise.resolve('reply'), timeoutError)).resolves.toBe('reply');
    await expect(deadlines.bound(Promise.reject(new Error('refused')), timeoutError)).rejects.toThrow('refused');
  });

  it('rejects a call that does not answer, between its timeout and 1.1 times it, and tells the work first', async () => {
    const deadlines = new CallDeadlines(200);
    const order: string[] = [];
    const started = Date.now();
    const call = deadlines.bound(pending<string>().promise, timeoutError, () => order.push('given up'));
    await expect(call.catch((error: Error) => (order.push('rejected'), Promise.reject(error)))).rejects.toThrow(
      'timed out',
    );
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(195);
    expect(elapsed).toBeLessThan(400);
    expect(order).toEqual(['given up', 'rejected']);
  });

  it('gives up only the calls whose time is over, whatever order the others settle in', async () => {
    const deadlines = new CallDeadlines(300);
    const first = pending<string>();
    const early = deadlines.bound(first.promise, timeoutError);
    await sleep(150);
    const second = pending<string>();
    const third = pending<string>();
    const late = deadlines.bound(second.promise, timeoutError);
    const settledLate = deadlines.bound(third.promise, timeoutError);
    const outcome = (promise: Promise<string>) =>
      promise.then(
        (value) => `ok ${value}`,
        (error: Error) => `error ${error.message}`,
      );
    const outcomes = Promise.all([outcome(early), outcome(late), outcome(settledLate)]);
    // The first is past its deadline at about 300 ms; the other two still have 150 ms left then.
    await sleep(200);
    third.resolve('third');
    await sleep(150);
    second.resolve('too late');
    first.resolve('too late');
    expect(await outcomes).toEqual(['error timed out', 'error timed out', 'ok third']);
  });

  it('keeps no timer once nothing is watched, and starts one again for the next call', async () => {
    const deadlines = new CallDeadlines(100);
    await deadlines.bound(Promise.resolve(1), timeoutError);
    await sleep(150);
    expect((deadlines as unknown as { timer?: unknown }).timer).toBeUndefined();
    await expect(deadlines.bound(pending<number>().promise, timeoutError)).rejects.toThrow('timed out');
  });
});
