import { HttpException } from '@nestjs/common';
import { Args, Field, Int, Mutation, ObjectType, Query, Resolver } from '@nestjs/graphql';
import { getDataSourceToken, InjectDataSource, TypeOrmModule } from '@nestjs/typeorm';
import { Column, DataSource, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { IdempotencyModule, Idempotent, sharedScope } from '@nest-idempotency/core';
import {
  CreateIdempotencyRecords1764259200000,
  IdempotencyTransaction,
  TypeOrmIdempotencyStore,
} from '@nest-idempotency/core/typeorm';
import { HTTP_ADAPTERS, RunningApp } from '../support/http-app';
import { describeWithServices } from '../support/services';
import { createIsolatedDatabase, IsolatedDatabase, SqlDialect } from '../support/typeorm-data-sources';
import { graphqlRequest, startGraphQLApp } from './graphql-app';

@Entity('graphql_ledger')
class LedgerEntry {
  @PrimaryGeneratedColumn()
  id: number;

  @Column({ type: 'varchar', length: 64 })
  text: string;
}

@ObjectType()
class Entry {
  @Field(() => Int)
  id: number;

  @Field()
  text: string;
}

/** Writes one ledger row inside the mutation's idempotency transaction, then fails when asked to. */
@Resolver(() => Entry)
class LedgerResolver {
  constructor(
    private readonly transaction: IdempotencyTransaction,
    @InjectDataSource() private readonly dataSource: DataSource,
  ) {}

  @Query(() => Int)
  entries(): Promise<number> {
    return this.dataSource.getRepository(LedgerEntry).count();
  }

  @Mutation(() => Entry, { nullable: true })
  @Idempotent({ transactional: true })
  async record(
    @Args('text') text: string,
    @Args('fail', { type: () => Int, nullable: true }) fail?: number,
  ): Promise<Entry> {
    const manager = this.transaction.managerFor(this.dataSource);
    if (!manager) throw new Error('the mutation ran outside the idempotency transaction');
    const entry = await manager.getRepository(LedgerEntry).save({ text });
    if (fail === 1) throw new Error('the ledger service broke');
    if (fail) throw new HttpException({ statusCode: fail, message: `refused with ${fail}` }, fail);
    return entry;
  }
}

const DIALECTS: Array<[SqlDialect, 'postgres'[]]> = [
  ['sqlite', []],
  ['postgres', ['postgres']],
];

for (const [dialect, services] of DIALECTS) {
  describeWithServices(services, `transactional GraphQL mutations on ${dialect}`, () => {
    let database: IsolatedDatabase;
    let running: RunningApp;
    let dataSource: DataSource;
    const record = (key: string, text: string, fail?: number) =>
      graphqlRequest(
        running.url,
        'mutation($text: String!, $fail: Int) { record(text: $text, fail: $fail) { id text } }',
        { text, fail },
        { 'Idempotency-Key': key },
      );
    const rows = (text: string) => dataSource.getRepository(LedgerEntry).countBy({ text });

    beforeAll(async () => {
      database = await createIsolatedDatabase(dialect);
      running = await startGraphQLApp(
        {
          imports: [
            TypeOrmModule.forRoot({
              ...database.options,
              entities: [LedgerEntry],
              synchronize: true,
              migrations: [CreateIdempotencyRecords1764259200000],
              migrationsRun: true,
            }),
            IdempotencyModule.forRootAsync({
              inject: [getDataSourceToken()],
              useFactory: (source: DataSource) => ({
                store: new TypeOrmIdempotencyStore(source, { sweepIntervalMs: 0 }),
                scope: sharedScope,
              }),
            }),
          ],
          providers: [LedgerResolver],
        },
        HTTP_ADAPTERS[0][1],
      );
      dataSource = running.app.get(DataSource);
    }, 60_000);
    afterAll(async () => {
      await running?.close();
      await database?.drop();
    });

    it('commits the row with the record, and replays the result without writing again', async () => {
      const first = await record('tx-ok', 'ok');
      expect(first.body.data.record).toMatchObject({ text: 'ok' });
      const again = await record('tx-ok', 'ok');
      expect(again.body).toEqual({ data: first.body.data, extensions: { idempotency: { replayed: true } } });
      expect(await rows('ok')).toBe(1);
    });

    it('rolls the row back when the resolver fails, and releases the key so the retry writes it once', async () => {
      const failed = await record('tx-fail', 'fails', 1);
      expect(failed.body.errors[0].message).toBe('the ledger service broke');
      expect(await rows('fails')).toBe(0);
      const retried = await record('tx-fail', 'fails');
      expect(retried.body.data.record).toMatchObject({ text: 'fails' });
      expect(await rows('fails')).toBe(1);
    });

    it('rolls the row back on a 4xx HttpException and replays that error', async () => {
      const refused = await record('tx-409', 'refused', 409);
      const replayed = await record('tx-409', 'refused', 409);
      expect(refused.body.errors[0]).toMatchObject({ message: 'refused with 409', extensions: { status: 409 } });
      expect(replayed.body.errors).toEqual(refused.body.errors);
      expect(replayed.body.extensions).toEqual({ idempotency: { replayed: true } });
      expect(await rows('refused')).toBe(0);
    });
  });
}
