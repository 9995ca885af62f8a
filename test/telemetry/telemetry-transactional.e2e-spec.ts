import { Body, Controller, Injectable, Post } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { getDataSourceToken, InjectDataSource, TypeOrmModule } from '@nestjs/typeorm';
import { SpanStatusCode } from '@opentelemetry/api';
import { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { Column, DataSource, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { IdempotencyModule, Idempotent } from '@nest-idempotency/core';
import {
  CreateIdempotencyRecords1764259200000,
  IdempotencyTransaction,
  TypeOrmIdempotencyStore,
} from '@nest-idempotency/core/typeorm';
import { HTTP_ADAPTERS, RunningApp, startHttpApp } from '../support/http-app';
import { describeWithServices } from '../support/services';
import { createIsolatedDatabase, IsolatedDatabase, SqlDialect } from '../support/typeorm-data-sources';
import { fixtureTracing, IncomingSpanInterceptor } from './telemetry-fixtures';
import { OtelTestSdk } from './otel-test-sdk';
import { QuerySpanLogger } from './query-span-logger';

const [, express] = HTTP_ADAPTERS[0];
const ROUTE = 'POST /telemetry-tx/entries';
const SPAN_NAME = `idempotency ${ROUTE}`;

@Entity('telemetry_tx_entries')
class LedgerEntry {
  @PrimaryGeneratedColumn()
  id: number;

  @Column({ type: 'varchar', length: 64 })
  text: string;
}

/** Writes an entry through the request's transaction, then succeeds or fails as the body asks. */
@Injectable()
class LedgerService {
  constructor(
    private readonly transaction: IdempotencyTransaction,
    @InjectDataSource() private readonly dataSource: DataSource,
  ) {}

  async write(text: string, fail: boolean): Promise<LedgerEntry> {
    const manager = this.transaction.managerFor(this.dataSource);
    if (!manager) throw new Error('no idempotency transaction around this request');
    const entry = await manager.save(LedgerEntry, manager.create(LedgerEntry, { text }));
    if (fail) throw new Error('ledger broke after its write');
    return entry;
  }
}

@Controller('telemetry-tx')
class LedgerController {
  constructor(private readonly ledger: LedgerService) {}

  @Post('entries')
  @Idempotent({ transactional: true })
  create(@Body() body: { text: string; fail?: boolean }) {
    return this.ledger.write(body.text, body.fail === true);
  }
}

const TRANSACTION_START = /^(BEGIN|START) TRANSACTION/;

const DIALECTS: Array<[SqlDialect, ('postgres' | 'mariadb')[]]> = [
  ['sqlite', []],
  ['postgres', ['postgres']],
  ['mariadb', ['mariadb']],
];

for (const [dialect, services] of DIALECTS) {
  describeWithServices(services, `OpenTelemetry of the transactional mode (TypeORM on ${dialect})`, () => {
    const sdk = new OtelTestSdk();
    const bounded = { 'idempotency.transport': 'http', 'idempotency.route': ROUTE, 'idempotency.store': 'typeorm' };
    let database: IsolatedDatabase;
    let running: RunningApp;
    let dataSource: DataSource;

    beforeAll(async () => {
      sdk.start();
      fixtureTracing.provider = sdk.tracerProvider;
      database = await createIsolatedDatabase(dialect);
      running = await startHttpApp(
        {
          imports: [
            TypeOrmModule.forRoot({
              ...database.options,
              entities: [LedgerEntry],
              synchronize: true,
              migrations: [CreateIdempotencyRecords1764259200000],
              migrationsRun: true,
              logger: new QuerySpanLogger(sdk.tracerProvider),
            }),
            IdempotencyModule.forRootAsync({
              inject: [getDataSourceToken()],
              useFactory: (source: DataSource) => ({
                store: new TypeOrmIdempotencyStore(source, { sweepIntervalMs: 0 }),
                telemetry: { meterProvider: sdk.meterProvider, tracerProvider: sdk.tracerProvider },
              }),
            }),
          ],
          controllers: [LedgerController],
          providers: [LedgerService, { provide: APP_INTERCEPTOR, useClass: IncomingSpanInterceptor }],
        },
        express,
      );
      dataSource = running.app.get(DataSource);
    }, 60_000);
    afterAll(async () => {
      await running?.close();
      await database?.drop();
      await sdk.shutdown();
    });
    beforeEach(() => sdk.resetSpans());

    const post = (key: string, body: { text: string; fail?: boolean }) =>
      request(running.url).post('/telemetry-tx/entries').set('Idempotency-Key', key).send(body);
    const requests = (outcome: string) =>
      sdk.total('idempotency.requests', { ...bounded, 'idempotency.outcome': outcome });
    const entries = async (text: string) => dataSource.getRepository(LedgerEntry).countBy({ text });
    const onlyCallSpan = () => {
      const calls = sdk.spans().filter((span) => span.name === SPAN_NAME);
      expect(calls).toHaveLength(1);
      return calls[0];
    };
    const childrenOf = (parent: ReadableSpan) =>
      sdk.spans().filter((span) => span.parentSpanContext?.spanId === parent.spanContext().spanId);
    /** The statement spans under `parent`, whose text matches `pattern`. */
    const statements = (parent: ReadableSpan, pattern: RegExp) =>
      childrenOf(parent).filter(
        (span) => span.name === 'db query' && pattern.test(String(span.attributes['db.query.text'])),
      );

    it('completes the record inside the handler’s transaction: the complete span between its start and its commit', async () => {
      const executed = await requests('executed');
      const text = `committed-${randomUUID().slice(0, 8)}`;
      expect((await post(randomUUID(), { text })).status).toBe(201);
      expect(await entries(text)).toBe(1);

      const call = onlyCallSpan();
      expect(call.attributes).toMatchObject({ ...bounded, 'idempotency.outcome': 'executed' });
      expect(call.status.code).toBe(SpanStatusCode.UNSET);
      const completes = childrenOf(call).filter((span) => span.name === 'idempotency.complete');
      expect(completes).toHaveLength(1);
      const [complete] = completes;
      expect(complete.attributes).toEqual(bounded);
      expect(childrenOf(call).filter((span) => span.name === 'idempotency.release')).toEqual([]);
      // The handler's write and the transaction's statements run in the call's context. The store sends its own
      // statements through the driver (prepared), past TypeORM's logger, so the completion is placed by order: its
      // span starts after the transaction began and ends before it commits.
      const [begin] = statements(call, TRANSACTION_START);
      const [commit] = statements(call, /^COMMIT/);
      expect(statements(call, /^INSERT INTO .*telemetry_tx_entries/)).toHaveLength(1);
      expect(sdk.indexOf('start', begin)).toBeGreaterThanOrEqual(0);
      expect(sdk.indexOf('start', begin)).toBeLessThan(sdk.indexOf('start', complete));
      expect(sdk.indexOf('end', complete)).toBeLessThan(sdk.indexOf('start', commit));
      expect(await requests('executed')).toBe(executed + 1);
    });

    it('gives a handler that throws the outcome released, rolled back, with no completion span', async () => {
      const released = await requests('released');
      const text = `rolled-back-${randomUUID().slice(0, 8)}`;
      const key = randomUUID();
      expect((await post(key, { text, fail: true })).status).toBe(500);
      expect(await entries(text)).toBe(0);

      const call = onlyCallSpan();
      expect(call.attributes).toMatchObject({ ...bounded, 'idempotency.outcome': 'released' });
      // The handler's failure is on its own spans, not a store failure.
      expect(call.status.code).toBe(SpanStatusCode.UNSET);
      const names = childrenOf(call).map((span) => span.name);
      expect(names).not.toContain('idempotency.complete');
      expect(names.filter((name) => name === 'idempotency.release')).toHaveLength(1);
      // Rolled back, and only then released, outside the transaction.
      const [rollback] = statements(call, /^ROLLBACK/);
      const release = childrenOf(call).find((span) => span.name === 'idempotency.release')!;
      expect(statements(call, /^COMMIT/)).toEqual([]);
      expect(sdk.indexOf('start', rollback)).toBeGreaterThanOrEqual(0);
      expect(sdk.indexOf('end', rollback)).toBeLessThan(sdk.indexOf('start', release));
      expect(await requests('released')).toBe(released + 1);
      // Released: the retry runs again rather than meeting a 409 or a replay.
      expect((await post(key, { text, fail: true })).status).toBe(500);
      expect(await requests('released')).toBe(released + 2);
    });
  });
}
