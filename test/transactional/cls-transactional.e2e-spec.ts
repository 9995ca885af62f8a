import { Body, Controller, HttpException, Injectable, Post } from '@nestjs/common';
import { getDataSourceToken, TypeOrmModule } from '@nestjs/typeorm';
import { Test } from '@nestjs/testing';
import { Transactional, TransactionHost } from '@nestjs-cls/transactional';
import { ClsPluginTransactional } from '@nestjs-cls/transactional';
import { TransactionalAdapterTypeOrm } from '@nestjs-cls/transactional-adapter-typeorm';
import { ClsModule } from 'nestjs-cls';
import request from 'supertest';
import { Column, DataSource, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { IdempotencyModule, Idempotent, sharedScope } from '@nest-idempotency/core';
import {
  CreateIdempotencyRecords1764259200000,
  IdempotencyTransaction,
  TypeOrmIdempotencyStore,
} from '@nest-idempotency/core/typeorm';
import { describeWithServices } from '../support/services';
import { createIsolatedDatabase, IsolatedDatabase, SqlDialect } from '../support/typeorm-data-sources';

@Entity('cls_notes')
class Note {
  @PrimaryGeneratedColumn()
  id: number;

  @Column({ type: 'varchar', length: 64 })
  text: string;
}

/** A service as teams on @nestjs-cls/transactional write it: no idempotency-specific code. */
@Injectable()
class NotesService {
  constructor(private readonly txHost: TransactionHost<TransactionalAdapterTypeOrm>) {}

  @Transactional()
  async write(text: string): Promise<Note> {
    const notes = this.txHost.tx.getRepository(Note);
    return notes.save(notes.create({ text }));
  }
}

@Controller('notes')
class NotesController {
  constructor(
    private readonly notes: NotesService,
    private readonly txHost: TransactionHost<TransactionalAdapterTypeOrm>,
    private readonly idempotencyTransaction: IdempotencyTransaction,
  ) {}

  @Post()
  @Idempotent({ transactional: true })
  async create(@Body() body: { text: string; fail?: number }) {
    const note = await this.notes.write(body.text);
    if (body.fail) throw new HttpException(`failed with ${body.fail}`, body.fail);
    // One transaction, seen from both sides.
    return { ...note, sameTransaction: this.txHost.tx === this.idempotencyTransaction.manager };
  }
}

const DIALECTS: Array<[SqlDialect, ('postgres' | 'mariadb')[]]> = [
  ['sqlite', []],
  ['postgres', ['postgres']],
  ['mariadb', ['mariadb']],
];

for (const [dialect, services] of DIALECTS) {
  describeWithServices(services, `the transactional mode through @nestjs-cls/transactional on ${dialect}`, () => {
    let database: IsolatedDatabase;
    let url: string;
    let dataSource: DataSource;
    let close: () => Promise<void>;
    const post = (key: string, body: object) => request(url).post('/notes').set('Idempotency-Key', key).send(body);
    const notes = async (text: string) => (await dataSource.getRepository(Note).findBy({ text })).length;

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
          ClsModule.forRoot({
            global: true,
            middleware: { mount: true },
            plugins: [
              new ClsPluginTransactional({
                imports: [TypeOrmModule],
                adapter: new TransactionalAdapterTypeOrm({ dataSourceToken: getDataSourceToken() }),
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

    it('runs the handler in one transaction: TransactionHost.tx is the idempotency transaction; a retry is replayed', async () => {
      const first = await post('k-ok', { text: 'ok' });
      expect(first.status).toBe(201);
      expect(first.body).toMatchObject({ text: 'ok', sameTransaction: true });
      const again = await post('k-ok', { text: 'ok' });
      expect(again.status).toBe(201);
      expect(again.headers['idempotent-replayed']).toBe('true');
      expect(again.body).toEqual(first.body);
      expect(await notes('ok')).toBe(1);
    });

    it("rolls the @Transactional() service's write back with the record when the handler fails, so the retry runs", async () => {
      const failed = await post('k-fail', { text: 'fails', fail: 500 });
      expect(failed.status).toBe(500);
      expect(await notes('fails')).toBe(0);
      const retried = await post('k-fail', { text: 'fails' });
      expect(retried.status).toBe(201);
      expect(await notes('fails')).toBe(1);
    });

    it('stores a 4xx with the transaction rolled back, and replays it', async () => {
      const refused = await post('k-409', { text: 'refused', fail: 409 });
      expect(refused.status).toBe(409);
      const replayed = await post('k-409', { text: 'refused', fail: 409 });
      expect(replayed.status).toBe(409);
      expect(replayed.headers['idempotent-replayed']).toBe('true');
      expect(await notes('refused')).toBe(0);
    });
  });
}
