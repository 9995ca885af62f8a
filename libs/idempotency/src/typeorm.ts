// Entry point `@app/idempotency/typeorm`: kept apart from the main barrel so apps that do not use SQL
// never load TypeORM.
export * from './stores/typeorm-idempotency.store';
export * from './stores/typeorm/idempotency-record.entity';
export * from './stores/typeorm/create-idempotency-records.migration';
export { IdempotencyTransaction } from './stores/typeorm/idempotency-transaction';
export { sqliteConnectionMutex } from './stores/typeorm/sqlite-connection-mutex';
