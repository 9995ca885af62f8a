import { Injectable } from '@nestjs/common';
import { AsyncLocalStorage } from 'node:async_hooks';
import type { EntityManager } from 'typeorm';

/** The transaction of the `@Idempotent({ transactional: true })` request running in this async context. */
export const idempotencyTransactions = new AsyncLocalStorage<EntityManager>();

/**
 * Inject it where a transactional route's work writes: `manager` is the EntityManager of the transaction the
 * idempotency record completes in, so writes made through it commit with the record, or not at all.
 *
 * ```ts
 * constructor(private readonly transaction: IdempotencyTransaction, @InjectDataSource() private dataSource: DataSource) {}
 * const manager = this.transaction.managerFor(this.dataSource) ?? this.dataSource.manager;
 * ```
 */
@Injectable()
export class IdempotencyTransaction {
  /** The current request's transaction, or undefined outside a transactional idempotent route. */
  get manager(): EntityManager | undefined {
    return idempotencyTransactions.getStore();
  }

  /**
   * The current transaction if it runs on `dataSource`. Throws if it runs on another one: the writes would
   * commit apart from the record, which is the very window the transactional mode exists to close.
   */
  managerFor(dataSource: unknown): EntityManager | undefined {
    const manager = this.manager;
    if (manager && manager.connection !== dataSource) {
      throw new Error(
        'The idempotency transaction runs on another DataSource than these writes; build TypeOrmIdempotencyStore on the same DataSource',
      );
    }
    return manager;
  }
}
