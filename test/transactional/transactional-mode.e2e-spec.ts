import { Body, Controller, HttpException, Injectable, Module, Post } from '@nestjs/common';
import { InjectDataSource, TypeOrmModule, getDataSourceToken } from '@nestjs/typeorm';
import { Test } from '@nestjs/testing';
import { setTimeout as sleep } from 'node:timers/promises';
import request from 'supertest';
import { Column, DataSource, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { IdempotencyModule, Idempotent, MemoryIdempotencyStore } from '@nest-idempotency/core';
import {
  CreateIdempotencyRecords1764259200000,
  IdempotencyTransaction,
  TypeOrmIdempotencyStore,
} from '@nest-idempotency/core/typeorm';
import { describeWithServices } from '../support/services';
import { createIsolatedDatabase, IsolatedDatabase, SqlDialect } from '../support/typeorm-data-sources';

@Entity('tx_notes')
class Note {
  @PrimaryGeneratedColumn()
  id: number;

  @Column({ type: 'varchar', length: 64 })
  text: string;
}

/** Writes a note through the request's transaction, then answers as the body asks. */
@Injectable()
class NotesService {
  constructor(
    private readonly transaction: IdempotencyTransaction,
    @InjectDataSource() private readonly dataSource: DataSource,
  ) {}

  async write(text: string): Promise<Note> {
    const manager = this.transaction.managerFor(this.dataSource);
    if (!manager) throw new Error('no idempotency transaction around this request');
    return manager.save(Note, manager.create(Note, { text }));
  }
}

let runs = 0;

@Controller('notes')
class NotesController {
  constructor(private readonly notes: NotesService) {}

  @Post()
  @Idempotent({ transactional: true, lockTimeout: 300 })
  async create(@Body() body: { text: string; fail?: number; sleepMs?: number }) {
    runs++;
    const note = await this.notes.write(`${body.text}#${runs}`);
    if (body.sleepMs) await sleep(body.sleepMs);
    if (body.fail) throw new HttpException(`failed with ${body.fail}`, body.fail);
    return note;
  }

  @Post('long-lease')
  @Idempotent({ transactional: true, lockTimeout: 2_000 })
  createOnLongLease(@Body() body: { text: string; fail?: number; sleepMs?: number }) {
    return this.create(body);
  }
}

const DIALECTS: Array<[SqlDialect, ('postgres' | 'mariadb')[]]> = [
  ['sqlite', []],
  ['postgres', ['postgres']],
  ['mariadb', ['mariadb']],
];

for (const [dialect, services] of DIALECTS) {
  describeWithServices(services, `the transactional mode on ${dialect}`, () => {
    let database: IsolatedDatabase;
    let url: string;
    let close: () => Promise<void>;
    let dataSource: DataSource;
    const notes = async (text: string) =>
      (await dataSource.getRepository(Note).find()).filter((note) => note.text.startsWith(`${text}#`));

    beforeAll(async () => {
      database = await createIsolatedDatabase(dialect);
      const moduleRef = await Test.createTestingModule({
        imports: [
          TypeOrmModule.forRoot({
            ...database.options,
            entities: [Note],
            synchronize: true,
            migrations: [CreateIdempotencyRecords1764259200000],
            migrationsRun: true,
          }),
          IdempotencyModule.forRootAsync({
            inject: [getDataSourceToken()],
            useFactory: (source: DataSource) => ({
              store: new TypeOrmIdempotencyStore(source, { sweepIntervalMs: 0 }),
            }),
          }),
        ],
        controllers: [NotesController],
        providers: [NotesService], // IdempotencyTransaction comes from IdempotencyModule
      }).compile();
      const app = moduleRef.createNestApplication({ logger: false });
      await app.listen(0, '127.0.0.1');
      url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
      dataSource = app.get(DataSource);
      close = async () => {
        await app.close();
        await database.drop();
      };
    }, 60_000);
    afterAll(() => close?.());

    it('commits the write with the record, and replays it', async () => {
      const first = await request(url)
        .post('/notes')
        .set('Idempotency-Key', `${dialect}-ok`)
        .send({ text: `${dialect}-ok` });
      expect(first.status).toBe(201);
      const replay = await request(url)
        .post('/notes')
        .set('Idempotency-Key', `${dialect}-ok`)
        .send({ text: `${dialect}-ok` });
      expect(replay.headers['idempotent-replayed']).toBe('true');
      expect(replay.body).toEqual(first.body);
      expect(await notes(`${dialect}-ok`)).toHaveLength(1);
    });

    it('rolls a failed request back, then stores and replays its 4xx', async () => {
      const body = { text: `${dialect}-402`, fail: 402 };
      expect((await request(url).post('/notes').set('Idempotency-Key', `${dialect}-402`).send(body)).status).toBe(402);
      const replay = await request(url).post('/notes').set('Idempotency-Key', `${dialect}-402`).send(body);
      expect(replay.status).toBe(402);
      expect(replay.headers['idempotent-replayed']).toBe('true');
      expect(await notes(`${dialect}-402`)).toHaveLength(0);
    });

    it('rolls a 5xx back and releases the key, so a retry runs again', async () => {
      const key = `${dialect}-503`;
      expect(
        (await request(url).post('/notes').set('Idempotency-Key', key).send({ text: key, fail: 503 })).status,
      ).toBe(503);
      expect(await notes(key)).toHaveLength(0);
    });

    it('commits only one run when a slow owner outlives its lease', async () => {
      const key = `${dialect}-lease`;
      const body = { text: key, sleepMs: 700 };
      const slow = request(url)
        .post('/notes')
        .set('Idempotency-Key', key)
        .send(body)
        .then((res) => res);
      await sleep(450);
      // The lease (300 ms) has expired. With connection pools this request takes the record over and runs
      // again, and the slow owner's completion is fenced off, rolling its writes back (409). On SQLite's
      // single connection the slow owner's transaction finishes first and this request replays it.
      const retry = request(url)
        .post('/notes')
        .set('Idempotency-Key', key)
        .send(body)
        .then((res) => res);
      const responses = await Promise.all([slow, retry]);
      const rows = await notes(key);
      expect(rows).toHaveLength(1);
      const created = responses.filter((res) => res.status === 201);
      expect(created.length).toBeGreaterThanOrEqual(1);
      for (const res of created) expect(res.body.text).toBe(rows[0].text);
      for (const res of responses.filter((res) => res.status !== 201)) expect(res.status).toBe(409);
      if (dialect !== 'sqlite') expect(responses.map((res) => res.status)).toEqual([409, 201]);
    });

    if (dialect !== 'sqlite') {
      it('tells the fenced-off owner to retry after the retryAfter hint (1 s), not a whole lease (2 s)', async () => {
        const key = `${dialect}-hint`;
        const body = { text: key, sleepMs: 2_400 };
        const slow = request(url)
          .post('/notes/long-lease')
          .set('Idempotency-Key', key)
          .send(body)
          .then((res) => res);
        await sleep(2_100);
        const retry = await request(url).post('/notes/long-lease').set('Idempotency-Key', key).send(body);
        expect(retry.status).toBe(201);
        const fenced = await slow;
        expect(fenced.status).toBe(409);
        expect(fenced.headers['retry-after']).toBe('1');
        expect(await notes(key)).toHaveLength(1);
      });
    }
  });
}

describe('the transactional mode is refused where it cannot hold', () => {
  @Controller('refused')
  class RefusedController {
    @Post()
    @Idempotent({ transactional: true })
    create() {
      return {};
    }
  }

  it('refuses a transactional route on a store outside the database, at start-up, naming the route', async () => {
    @Module({
      imports: [IdempotencyModule.forRoot({ store: new MemoryIdempotencyStore() })],
      controllers: [RefusedController],
    })
    class RefusedModule {}
    const moduleRef = await Test.createTestingModule({ imports: [RefusedModule] }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await expect(app.init()).rejects.toThrow(
      /@Idempotent\(\) on RefusedController.create: .*"transactional" needs a store that shares the business database .*MemoryIdempotencyStore/,
    );
    await app.close();
  });

  it('refuses a transactional module default on such a store', async () => {
    await expect(
      Test.createTestingModule({
        imports: [IdempotencyModule.forRoot({ store: new MemoryIdempotencyStore(), transactional: true })],
      }).compile(),
    ).rejects.toThrow('"transactional" needs a store that shares the business database');
  });

  it("refuses writes through another DataSource than the store's", async () => {
    const database = await createIsolatedDatabase('sqlite');
    try {
      const storeSource = await database.connect({ migrations: [CreateIdempotencyRecords1764259200000] });
      await storeSource.runMigrations();
      const otherSource = await database.connect();
      const store = new TypeOrmIdempotencyStore(storeSource, { sweepIntervalMs: 0 });
      expect(store.sharesConnectionWith(storeSource)).toBe(true);
      expect(store.sharesConnectionWith(otherSource)).toBe(false);
      const transaction = new IdempotencyTransaction();
      await store.runInTransaction(async () => {
        expect(transaction.managerFor(storeSource)).toBeDefined();
        expect(() => transaction.managerFor(otherSource)).toThrow('runs on another DataSource');
      });
      expect(transaction.manager).toBeUndefined();
    } finally {
      await database.drop();
    }
  });
});
