import { DeferredSettlement, DeferredSettlementQueue } from './deferred-settlements';
import { DeferredSettlementResult } from '../options/idempotency.events';

/** A settlement whose attempts answer from `answers` in turn (an Error is thrown), and how it ended. */
function scripted(answers: Array<boolean | Error>, overrides: Partial<DeferredSettlement> = {}) {
  let calls = 0;
  let resolveEnded: (ended: { result: DeferredSettlementResult; attempts: number; lastError?: unknown }) => void;
  const ended = new Promise<{ result: DeferredSettlementResult; attempts: number; lastError?: unknown }>(
    (resolve) => (resolveEnded = resolve),
  );
  const settlement: DeferredSettlement = {
    attempt: async () => {
      const answer = answers[Math.min(calls++, answers.length - 1)];
      if (answer instanceof Error) throw answer;
      return answer;
    },
    retryWhenNotOwned: false,
    deadline: Date.now() + 10_000,
    bytes: 0,
    onSettled: (result, attempts, lastError) => resolveEnded({ result, attempts, lastError }),
    ...overrides,
  };
  return { settlement, ended, calls: () => calls };
}

describe('DeferredSettlementQueue', () => {
  let queue: DeferredSettlementQueue;
  beforeEach(() => (queue = new DeferredSettlementQueue()));
  afterEach(() => queue.stop(0));

  it('retries a call that fails until it takes effect', async () => {
    const down = new Error('Command timed out');
    const { settlement, ended } = scripted([down, down, true]);
    queue.schedule(settlement);
    expect(queue.size).toBe(1);
    expect(await ended).toEqual({ result: 'settled', attempts: 3, lastError: undefined });
    expect(queue.size).toBe(0);
  });

  it('stops at "not owned" when the token cannot come to own the record', async () => {
    const { settlement, ended } = scripted([false, true]);
    queue.schedule(settlement);
    expect(await ended).toMatchObject({ result: 'not_owned', attempts: 1 });
  });

  it('keeps trying after "not owned" when a late acquire may still write the record', async () => {
    const { settlement, ended } = scripted([false, false, true], { retryWhenNotOwned: true });
    queue.schedule(settlement);
    expect(await ended).toMatchObject({ result: 'settled', attempts: 3 });
  });

  it('gives up at the deadline, reporting the last error', async () => {
    const { settlement, ended, calls } = scripted([new Error('ECONNREFUSED')], { deadline: Date.now() + 350 });
    queue.schedule(settlement);
    const { result, attempts, lastError } = await ended;
    expect(result).toBe('gave_up');
    expect(attempts).toBe(calls());
    expect(attempts).toBeGreaterThanOrEqual(2);
    expect(String(lastError)).toContain('ECONNREFUSED');
  });

  it('ends a release that only ever found no record as "not owned" at the deadline', async () => {
    const { settlement, ended } = scripted([false], { retryWhenNotOwned: true, deadline: Date.now() + 250 });
    queue.schedule(settlement);
    expect((await ended).result).toBe('not_owned');
  });

  it('stops after maxAttempts', async () => {
    queue = new DeferredSettlementQueue({ maxPending: 10, maxBytes: 1_000, maxAttempts: 2 });
    const { settlement, ended } = scripted([new Error('down')]);
    queue.schedule(settlement);
    expect(await ended).toMatchObject({ result: 'gave_up', attempts: 2 });
  });

  it('drops what is over its bounds at once, by count and by bytes', async () => {
    queue = new DeferredSettlementQueue({ maxPending: 1, maxBytes: 100, maxAttempts: 16 });
    const first = scripted([new Error('down')]);
    const second = scripted([true]);
    queue.schedule(first.settlement);
    queue.schedule(second.settlement);
    expect(await second.ended).toEqual({ result: 'dropped', attempts: 0, lastError: undefined });
    expect(second.calls()).toBe(0);

    const roomy = new DeferredSettlementQueue({ maxPending: 10, maxBytes: 100, maxAttempts: 16 });
    const big = scripted([true], { bytes: 101 });
    roomy.schedule(big.settlement);
    expect((await big.ended).result).toBe('dropped');
    await roomy.stop(0);
  });

  it('on stop makes one last attempt at once for each pending call, then refuses new ones', async () => {
    const { settlement, ended, calls } = scripted([new Error('down'), true]);
    queue.schedule(settlement);
    // Let the first attempt fail, so the next one waits on a timer that stop() has to bring forward.
    while (calls() < 1) await new Promise((resolve) => setTimeout(resolve, 10));
    await queue.stop(1_000);
    expect(await ended).toMatchObject({ result: 'settled', attempts: 2 });
    const late = scripted([true]);
    queue.schedule(late.settlement);
    expect((await late.ended).result).toBe('dropped');
  });
});
