import { Logger } from '@nestjs/common';
import { IdempotencyService } from './idempotency.service';
import { IdempotencyInProgressError, IdempotencyStoreUnavailableError } from './idempotency.errors';
import { IdempotentCall, IdempotentSettlement } from './idempotent-call';
import { IdempotencyStoreTransaction, TransactionalIdempotencyStore } from '../stores/idempotency-store';
import { MemoryIdempotencyStore } from '../stores/memory/memory-idempotency.store';

/** How the fake database ends a transaction. */
type Ending = 'commits' | 'fails_to_commit' | 'fails_to_begin' | 'loses_the_lease';

/** A memory store with a transaction around the work, whose ending the test chooses. */
class TransactionsOnMemory extends MemoryIdempotencyStore implements TransactionalIdempotencyStore {
  ending: Ending = 'commits';

  async runInTransaction<T>(work: (transaction: IdempotencyStoreTransaction) => Promise<T>): Promise<T> {
    if (this.ending === 'fails_to_begin') throw new Error('connection refused');
    const answer = await work({
      complete: (id, token, response, ttlMs) =>
        this.ending === 'loses_the_lease' ? Promise.resolve(false) : this.complete(id, token, response, ttlMs),
    });
    if (this.ending === 'fails_to_commit') throw new Error('could not serialize access');
    return answer;
  }

  sharesConnectionWith(): boolean {
    return true;
  }
}

describe('TransactionalExecution: which settlement of the work was rolled back', () => {
  const store = new TransactionsOnMemory();
  const service = new IdempotencyService({ store, transactional: true });
  const succeeded: IdempotentSettlement = { result: { value: 'paid' }, keep: { store: 'paid' } };
  let keys = 0;

  function call(settlement: IdempotentSettlement = succeeded): IdempotentCall {
    return {
      id: { namespace: 'test', scope: '', key: `key-${++keys}` },
      fingerprint: 'f',
      route: 'pay',
      transport: 'run',
      options: service.defaults,
      work: () => Promise.resolve(settlement),
    };
  }

  // The outage report and the lease warning are the executor's business, not this spec's.
  beforeAll(() => {
    for (const level of ['log', 'warn', 'error'] as const) {
      vi.spyOn(Logger.prototype, level).mockImplementation(() => undefined);
    }
  });

  afterAll(async () => {
    await service.onModuleDestroy();
    vi.restoreAllMocks();
  });

  it('names none when the work and its record commit together', async () => {
    store.ending = 'commits';
    const execution = await service.execute(call());
    expect(execution).toEqual({ kind: 'executed', settlement: succeeded });
  });

  it.each<[string, Ending, new (...args: never[]) => Error]>([
    ['the commit fails after the work ran', 'fails_to_commit', IdempotencyStoreUnavailableError],
    ['another request took the lease over', 'loses_the_lease', IdempotencyInProgressError],
  ])("hands back the work's own settlement when %s", async (_when, ending, answered) => {
    store.ending = ending;
    const execution = await service.execute(call());
    expect(execution.kind).toBe('executed');
    if (execution.kind !== 'executed') return;
    expect(execution.rolledBack).toBe(succeeded);
    expect('error' in execution.settlement.result && execution.settlement.result.error).toBeInstanceOf(answered);
  });

  it('names none when the work failed and was rolled back as it asked', async () => {
    store.ending = 'commits';
    const failed: IdempotentSettlement = {
      result: { error: new Error('declined') },
      keep: { release: 'released', reason: 'declined' },
    };
    const execution = await service.execute(call(failed));
    expect(execution).toEqual({ kind: 'executed', settlement: failed });
  });

  it('refuses the call, with nothing run, when the transaction cannot begin', async () => {
    store.ending = 'fails_to_begin';
    let ran = false;
    const refused = service.execute({ ...call(), work: () => ((ran = true), Promise.resolve(succeeded)) });
    await expect(refused).rejects.toBeInstanceOf(IdempotencyStoreUnavailableError);
    expect(ran).toBe(false);
  });
});
