// Entry point `@nest-idempotency/core/typeorm`: kept apart from the main barrel so apps that do not use SQL
// never load TypeORM.
export { TypeOrmIdempotencyStore } from './stores/typeorm/typeorm-idempotency.store';
export type { TypeOrmIdempotencyStoreOptions } from './stores/typeorm/typeorm-idempotency.store';
export { IDEMPOTENCY_RECORDS_TABLE, IdempotencyRecordEntity } from './stores/typeorm/idempotency-record.entity';
export { CreateIdempotencyRecords1764259200000 } from './stores/typeorm/create-idempotency-records.migration';
export { IdempotencyTransaction } from './stores/typeorm/idempotency-transaction';
export type { IdempotencyTransactionHost } from './stores/typeorm/transaction-host';
export { sqliteConnectionMutex } from './stores/typeorm/sqlite-connection-mutex';
export { takeTurnsOnSqlite } from './stores/typeorm/sqlite-transaction-turns';
export type {
  TypeOrmTransactionalAdapterLike,
  TypeOrmTransactionalAdapterOptionsLike,
} from './stores/typeorm/sqlite-transaction-turns';
