import { getDataSourceToken, TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { IdempotencyModule } from '@nest-idempotency/core';
import { CreateIdempotencyRecords1764259200000, TypeOrmIdempotencyStore } from '@nest-idempotency/core/typeorm';
import { initApp } from '../support/http-app';
import { describeWithServices } from '../support/services';
import { createIsolatedDatabase, IsolatedDatabase, SqlDialect } from '../support/typeorm-data-sources';

const DIALECTS: Array<[SqlDialect, ('postgres' | 'mariadb')[]]> = [
  ['sqlite', []],
  ['postgres', ['postgres']],
  ['mariadb', ['mariadb']],
];

/** Starts an app whose idempotency store is the TypeORM store on `database`, migrated or not; resolves its close. */
async function start(database: IsolatedDatabase, migrated: boolean): Promise<() => Promise<void>> {
  const app = await initApp({
    imports: [
      TypeOrmModule.forRoot({
        ...database.options,
        migrations: migrated ? [CreateIdempotencyRecords1764259200000] : [],
        migrationsRun: migrated,
      }),
      IdempotencyModule.forRootAsync({
        inject: [getDataSourceToken()],
        useFactory: (dataSource: DataSource) => ({
          store: new TypeOrmIdempotencyStore(dataSource, { sweepIntervalMs: 0 }),
        }),
      }),
    ],
  });
  return () => app.close();
}

for (const [dialect, services] of DIALECTS) {
  describeWithServices(services, `the TypeORM store on ${dialect} without its table`, () => {
    let database: IsolatedDatabase;
    beforeEach(async () => {
      database = await createIsolatedDatabase(dialect);
    });
    afterEach(() => database.drop());

    it('stops start-up with an error naming the migration to run, instead of answering 503 later', async () => {
      await expect(start(database, false)).rejects.toThrow(
        "TypeOrmIdempotencyStore: the table 'idempotency_records' does not exist in this database. Create it with the migration CreateIdempotencyRecords1764259200000",
      );
    });

    it('starts once the migration has run', async () => {
      const close = await start(database, true);
      await close();
    });
  });
}
