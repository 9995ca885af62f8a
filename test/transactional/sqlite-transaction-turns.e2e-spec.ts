import { Body, Controller, INestApplication, Injectable, Post } from '@nestjs/common';
import { getDataSourceToken, TypeOrmModule } from '@nestjs/typeorm';
import { Test } from '@nestjs/testing';
import { ClsPluginTransactional, Propagation, Transactional, TransactionHost } from '@nestjs-cls/transactional';
import { TransactionalAdapterTypeOrm } from '@nestjs-cls/transactional-adapter-typeorm';
import { ClsModule } from 'nestjs-cls';
import { setTimeout as sleep } from 'node:timers/promises';
import request from 'supertest';
import { Column, DataSource, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { IdempotencyModule, Idempotent, sharedScope } from '@nest-idempotency/core';
import {
  CreateIdempotencyRecords1764259200000,
  IdempotencyRecordEntity,
  takeTurnsOnSqlite,
  TypeOrmIdempotencyStore,
} from '@nest-idempotency/core/typeorm';
import { describeWithServices } from '../support/services';
import { createIsolatedDatabase, IsolatedDatabase, SqlDialect } from '../support/typeorm-data-sources';

@Entity('turn_notes')
class Note {
  @PrimaryGeneratedColumn()
  id: number;

  @Column({ type: 'varchar', length: 64 })
  text: string;
}

/** A service as teams on @nestjs-cls/transactional write it: nothing SQLite-specific in it. */
@Injectable()
class NotesService {
  constructor(private readonly txHost: TransactionHost<TransactionalAdapterTypeOrm>) {}

  /** Writes `text`, then runs `meanwhile` inside the transaction, then commits (or rolls back, with `fail`). */
  @Transactional()
  async write(text: string, meanwhile?: () => Promise<void>, fail = false): Promise<void> {
    const notes = this.txHost.tx.getRepository(Note);
    await notes.save(notes.create({ text }));
    await meanwhile?.();
    if (fail) throw new Error(`${text} rolled back`);
  }

  /** A savepoint inside a surrounding transaction. */
  @Transactional(Propagation.Nested)
  async writeNested(text: string, fail: boolean): Promise<void> {
    await this.write(text, undefined, fail);
  }

  @Transactional()
  count(text: string): Promise<number> {
    return this.txHost.tx.getRepository(Note).countBy({ text });
  }
}

@Controller('notes')
class NotesController {
  constructor(private readonly notes: NotesService) {}

  @Post()
  @Idempotent({ transactional: true })
  async create(@Body() body: { text: string }) {
    await this.notes.write(body.text);
    // A failed savepoint takes its own write back and leaves the request's transaction usable.
    const nested = await this.notes.writeNested(`${body.text}-nested`, true).catch((error: Error) => error.message);
    await this.notes.writeNested(`${body.text}-kept`, false);
    return { text: body.text, nested };
  }
}

const DIALECTS: Array<[SqlDialect, 'postgres'[]]> = [
  ['sqlite', []],
  ['postgres', ['postgres']],
];

for (const [dialect, services] of DIALECTS) {
  describeWithServices(services, `@nestjs-cls/transactional with takeTurnsOnSqlite on ${dialect}`, () => {
    let database: IsolatedDatabase;
    let app: INestApplication;
    let url: string;
    let notes: NotesService;

    beforeAll(async () => {
      database = await createIsolatedDatabase(dialect);
      const moduleRef = await Test.createTestingModule({
        imports: [
          TypeOrmModule.forRoot({
            ...database.options,
            entities: [Note, IdempotencyRecordEntity],
            synchronize: true,
            migrations: [CreateIdempotencyRecords1764259200000],
            migrationsRun: true,
          }),
          ClsModule.forRoot({
            global: true,
            middleware: { mount: true },
            plugins: [
              new ClsPluginTransactional({
                imports: [TypeOrmModule],
                adapter: takeTurnsOnSqlite(new TransactionalAdapterTypeOrm({ dataSourceToken: getDataSourceToken() })),
              }),
            ],
          }),
          IdempotencyModule.forRootAsync({
            inject: [getDataSourceToken(), TransactionHost],
            useFactory: (source: DataSource, transactionHost: TransactionHost<TransactionalAdapterTypeOrm>) => ({
              store: new TypeOrmIdempotencyStore(source, { sweepIntervalMs: 0, transactionHost }),
              scope: sharedScope,
            }),
          }),
        ],
        controllers: [NotesController],
        providers: [NotesService],
      }).compile();
      app = moduleRef.createNestApplication({ logger: false });
      await app.listen(0, '127.0.0.1');
      url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
      notes = app.get(NotesService);
    }, 60_000);

    afterAll(async () => {
      await app?.close();
      await database?.drop();
    });

    it(
      dialect === 'sqlite'
        ? 'runs one transaction at a time on the one connection: others wait, and see none of its uncommitted writes'
        : 'leaves transactions on a pooled database to run side by side',
      async () => {
        let release!: () => void;
        const gate = new Promise<void>((resolve) => (release = resolve));
        let holding = false;
        const held = notes
          .write(
            'held',
            async () => {
              holding = true;
              await gate;
            },
            true,
          )
          .catch((error: Error) => error.message);
        while (!holding) await sleep(5);
        const other = notes.write('other').then(() => 'committed');
        const seen = notes.count('held');
        const meanwhile = await Promise.race([other, sleep(200).then(() => 'still waiting')]);
        expect(meanwhile).toBe(dialect === 'sqlite' ? 'still waiting' : 'committed');
        release();
        expect(await held).toBe('held rolled back');
        expect(await other).toBe('committed');
        expect(await seen).toBe(0);
        expect(await notes.count('held')).toBe(0);
        expect(await notes.count('other')).toBe(1);
      },
    );

    it("joins a transactional request's transaction (savepoints included) while other writes take their turns", async () => {
      const post = (key: string, text: string) =>
        request(url).post('/notes').set('Idempotency-Key', key).send({ text });
      const [responses] = await Promise.all([
        Promise.all(Array.from({ length: 10 }, (_, i) => post(`k-${i}`, `request-${i}`))),
        Promise.all(Array.from({ length: 10 }, (_, i) => notes.write(`direct-${i}`))),
      ]);
      for (const [i, response] of responses.entries()) {
        expect(response.status).toBe(201);
        expect(response.body).toEqual({ text: `request-${i}`, nested: `request-${i}-nested rolled back` });
        expect(await notes.count(`request-${i}`)).toBe(1);
        expect(await notes.count(`request-${i}-kept`)).toBe(1);
        expect(await notes.count(`request-${i}-nested`)).toBe(0);
        expect(await notes.count(`direct-${i}`)).toBe(1);
      }
      const replay = await post('k-0', 'request-0');
      expect(replay.headers['idempotent-replayed']).toBe('true');
      expect(await notes.count('request-0')).toBe(1);
    });
  });
}
