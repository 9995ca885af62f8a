import { DataSource } from 'typeorm';
import { CreateIdempotencyRecords1764259200000 } from './create-idempotency-records.migration';

/**
 * Refuses to start on a database without the records table, naming the migration that creates it: otherwise the
 * first keyed request would find out, as a 503, and so would every one after it. The table is looked up as
 * TypeORM's own query runners (and so the migration) resolve the name, schema or database included. Resolves
 * `false` when the database could not be asked (down, say): the store then answers 503 until it is back, as it
 * does for any outage, and start-up goes on.
 */
export async function checkRecordsTable(dataSource: DataSource, tableName: string): Promise<boolean> {
  const runner = dataSource.createQueryRunner();
  let exists: boolean;
  try {
    exists = await runner.hasTable(tableName);
  } catch {
    return false;
  } finally {
    await runner.release();
  }
  if (!exists) {
    throw new Error(
      `TypeOrmIdempotencyStore: the table '${tableName}' does not exist in this database. Create it with the migration ` +
        `${CreateIdempotencyRecords1764259200000.name} from '@nest-idempotency/core/typeorm': add it to the DataSource's ` +
        `migrations and run them (migrationsRun: true, or the TypeORM CLI's migration:run) before the app starts.`,
    );
  }
  return true;
}
