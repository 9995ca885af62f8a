import type { EntityManager } from 'typeorm';

/**
 * What the transactional mode needs of `TransactionHost` from `@nestjs-cls/transactional` with its TypeORM adapter
 * (`TransactionHost<TransactionalAdapterTypeOrm>` fits as it is). Typed by shape, so the library does not load that
 * package, an optional peer, for apps that do not use it.
 */
export interface IdempotencyTransactionHost {
  /** Runs `work` in a new (or the surrounding) transaction, which `tx` is while it runs. */
  withTransaction<R>(work: () => Promise<R>): Promise<R>;
  /** The active transaction's EntityManager. */
  readonly tx: EntityManager;
}
