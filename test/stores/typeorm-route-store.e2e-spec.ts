import { Controller, INestApplication, Post } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { IdempotencyModule, Idempotent } from '@nest-idempotency/core';
import {
  CreateIdempotencyRecords1764259200000,
  IdempotencyRecordEntity,
  TypeOrmIdempotencyStore,
} from '@nest-idempotency/core/typeorm';
import { initApp } from '../support/http-app';
import { describeWithServices, TestService } from '../support/services';
import { createIsolatedDatabase, IsolatedDatabase, SqlDialect } from '../support/typeorm-data-sources';

const DIALECTS: [SqlDialect, TestService[]][] = [
  ['sqlite', []],
  ['postgres', ['postgres']],
];

/** A TypeORM store that counts what the module asks of its lifecycle. */
class CountedStore extends TypeOrmIdempotencyStore {
  starts = 0;
  closes = 0;

  start(): Promise<void> {
    this.starts++;
    return super.start();
  }

  close(): Promise<void> {
    this.closes++;
    return super.close();
  }
}

/**
 * An app whose module store is the memory one and whose routes use `store` (given on two routes, so the module must
 * find it twice and still start and close it once). Records completed there live one second.
 */
async function startApp(store: TypeOrmIdempotencyStore): Promise<INestApplication> {
  @Controller('orders')
  class OrdersController {
    @Post()
    @Idempotent({ store, ttl: 1_000, lockTimeout: 1_000 })
    create() {
      return { created: true };
    }

    @Post('express')
    @Idempotent({ store })
    createExpress() {
      return { created: true };
    }
  }
  return initApp({ imports: [IdempotencyModule.forRoot({})], controllers: [OrdersController] });
}

/**
 * Issue 18, item 11: a store given on a route (not the module's) gets the module's store lifecycle: its table check
 * at start-up, its expiry sweeper while the app runs, and its close at shutdown, once each.
 */
for (const [dialect, services] of DIALECTS) {
  describeWithServices(services, `a TypeORM store on ${dialect} given on routes only`, () => {
    let database: IsolatedDatabase;
    let dataSource: DataSource;

    beforeEach(async () => {
      database = await createIsolatedDatabase(dialect);
    });
    afterEach(() => database.drop());

    const connect = (migrated: boolean) =>
      database.connect({
        entities: [IdempotencyRecordEntity],
        migrations: migrated ? [CreateIdempotencyRecords1764259200000] : [],
        migrationsRun: migrated,
      });

    it('refuses to start without its table, naming the route', async () => {
      dataSource = await connect(false);
      await expect(startApp(new TypeOrmIdempotencyStore(dataSource, { sweepIntervalMs: 0 }))).rejects.toThrow(
        "@Idempotent() on OrdersController.create: TypeOrmIdempotencyStore: the table 'idempotency_records' does not exist",
      );
    });

    it('sweeps its expired rows while the app runs, and is started and closed once', async () => {
      dataSource = await connect(true);
      const store = new CountedStore(dataSource, { sweepIntervalMs: 50 });
      const app = await startApp(store);
      const key = randomUUID();
      try {
        expect(store.starts).toBe(1);
        const res = await request(app.getHttpServer()).post('/orders').set('Idempotency-Key', key).send({});
        expect(res.status).toBe(201);
        const records = dataSource.getRepository(IdempotencyRecordEntity);
        expect(await records.countBy({ key })).toBe(1);
        // The record expires after its 1 s TTL; the sweeper, every 50 ms, then deletes its row.
        const deadline = Date.now() + 10_000;
        while ((await records.countBy({ key })) > 0) {
          if (Date.now() > deadline) throw new Error('the expired row was never swept');
          await sleep(50);
        }
      } finally {
        await app.close();
      }
      expect({ starts: store.starts, closes: store.closes }).toEqual({ starts: 1, closes: 1 });
    });
  });
}
