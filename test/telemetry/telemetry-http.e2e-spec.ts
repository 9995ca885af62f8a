import { ExecutionContext } from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { IdempotencyModule, IdempotencyStore, MemoryIdempotencyStore } from '@nest-idempotency/core';
import { RedisIdempotencyStore } from '@nest-idempotency/core/redis';
import {
  CreateIdempotencyRecords1764259200000,
  IdempotencyRecordEntity,
  TypeOrmIdempotencyStore,
} from '@nest-idempotency/core/typeorm';
import { HTTP_ADAPTERS, RunningApp, startHttpApp } from '../support/http-app';
import { rowsNeeding, TEST_SERVICES } from '../support/services';
import { createIsolatedDatabase, SqlDialect } from '../support/typeorm-data-sources';
import { fixtureTracing, IncomingSpanInterceptor, slowGate, TelemetryFixtureController } from './telemetry-fixtures';
import { OtelTestSdk } from './otel-test-sdk';

const ROUTE = 'POST /telemetry/orders/:id';
const SPAN_NAME = `idempotency ${ROUTE}`;
const ACQUIRE_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

interface OpenedStore {
  store: IdempotencyStore;
  close: () => Promise<unknown>;
}

/** A TypeORM store on a database of its own, dropped afterwards. */
async function typeOrmStore(dialect: SqlDialect): Promise<OpenedStore> {
  const database = await createIsolatedDatabase(dialect);
  const dataSource = await database.connect({
    entities: [IdempotencyRecordEntity],
    migrations: [CreateIdempotencyRecords1764259200000],
  });
  await dataSource.runMigrations();
  return { store: new TypeOrmIdempotencyStore(dataSource, { sweepIntervalMs: 0 }), close: () => database.drop() };
}

const STORES: Array<[string, 'memory' | 'redis' | 'typeorm', () => Promise<OpenedStore>]> = [
  ['memory', 'memory', async () => ({ store: new MemoryIdempotencyStore(), close: async () => {} })],
  ['SQLite (TypeORM)', 'typeorm', () => typeOrmStore('sqlite')],
  ...rowsNeeding(['redis'], 'telemetry on the Redis store', [
    [
      'Redis',
      'redis',
      async () => {
        const store = new RedisIdempotencyStore(TEST_SERVICES.redis);
        return { store, close: () => store.close() };
      },
    ] as (typeof STORES)[number],
  ]),
  ...rowsNeeding(['postgres'], 'telemetry on the PostgreSQL store', [
    ['PostgreSQL (TypeORM)', 'typeorm', () => typeOrmStore('postgres')] as (typeof STORES)[number],
  ]),
  ...rowsNeeding(['mariadb'], 'telemetry on the MariaDB store', [
    ['MariaDB (TypeORM)', 'typeorm', () => typeOrmStore('mariadb')] as (typeof STORES)[number],
  ]),
];
const CASES = HTTP_ADAPTERS.flatMap(([adapterName, adapter]) =>
  STORES.map(([storeName, kind, open]) => [`${adapterName}, ${storeName} store`, adapter, kind, open] as const),
);

/** The caller's principal, from a header, so a test can check that it never reaches an attribute. */
const principalScope = (context: ExecutionContext) => context.switchToHttp().getRequest().headers['x-principal'];

describe.each(CASES)('OpenTelemetry over HTTP (%s)', (_name, adapter, storeKind, openStore) => {
  const sdk = new OtelTestSdk();
  let opened: OpenedStore;
  let running: RunningApp;
  const keyPrefix = `telemetry-${randomUUID()}`;
  const bounded = { 'idempotency.transport': 'http', 'idempotency.route': ROUTE, 'idempotency.store': storeKind };

  beforeAll(async () => {
    sdk.start();
    fixtureTracing.provider = sdk.tracerProvider;
    opened = await openStore();
    const store = opened.store;
    running = await startHttpApp(
      {
        imports: [
          IdempotencyModule.forRoot({
            store,
            keyPrefix,
            scope: principalScope,
            telemetry: { meterProvider: sdk.meterProvider, tracerProvider: sdk.tracerProvider },
          }),
        ],
        controllers: [TelemetryFixtureController],
        providers: [{ provide: APP_INTERCEPTOR, useClass: IncomingSpanInterceptor }],
      },
      adapter,
    );
  });
  afterAll(async () => {
    await running?.close();
    await opened?.close();
    await sdk.shutdown();
  });
  beforeEach(() => {
    sdk.resetSpans();
    slowGate.reset();
  });

  const post = (path: string, key: string | undefined, body: object = { amount: 1 }, principal = 'alice') => {
    const req = request(running.url).post(path).set('x-principal', principal);
    return (key === undefined ? req : req.set('Idempotency-Key', key)).send(body);
  };
  const requests = (outcome: string) =>
    sdk.total('idempotency.requests', { ...bounded, 'idempotency.outcome': outcome });
  const callSpans = () => sdk.spans().filter((span) => span.name === SPAN_NAME);
  const childrenOf = (parent: ReadableSpan) =>
    sdk.spans().filter((span) => span.parentSpanContext?.spanId === parent.spanContext().spanId);

  it('counts an executed call and its replay, with the acquire latency in the spec buckets', async () => {
    const [executed, replayed] = [await requests('executed'), await requests('replayed')];
    const acquires = (await sdk.points('idempotency.acquire.duration', bounded))[0]?.count ?? 0;
    const key = randomUUID();
    expect((await post('/telemetry/orders/42', key)).status).toBe(201);
    const replay = await post('/telemetry/orders/42', key);
    expect(replay.status).toBe(201);
    expect(replay.headers['idempotent-replayed']).toBe('true');

    expect(await requests('executed')).toBe(executed + 1);
    expect(await requests('replayed')).toBe(replayed + 1);
    const [histogram] = await sdk.points('idempotency.acquire.duration', bounded);
    expect(histogram.attributes).toEqual(bounded);
    expect(histogram.count).toBe(acquires + 2);
    expect(histogram.boundaries).toEqual(ACQUIRE_BUCKETS);
    expect(histogram.value).toBeGreaterThan(0);
  });

  it('counts a conflict (409) and a mismatch (422), the latter in key_mismatches too', async () => {
    const [conflicts, mismatches, keyMismatches] = [
      await sdk.total('idempotency.requests', { 'idempotency.outcome': 'conflict' }),
      await requests('mismatch'),
      await sdk.total('idempotency.key_mismatches', bounded),
    ];
    const slowKey = randomUUID();
    // then() sends it now (a supertest request goes out when it is awaited).
    const first = post('/telemetry/slow', slowKey).then((res) => res);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await post('/telemetry/slow', slowKey)).status).toBe(409);
    slowGate.open();
    expect((await first).status).toBe(201);

    const key = randomUUID();
    await post('/telemetry/orders/7', key, { amount: 1 });
    expect((await post('/telemetry/orders/7', key, { amount: 2 })).status).toBe(422);

    expect(
      await sdk.total('idempotency.requests', {
        'idempotency.outcome': 'conflict',
        'idempotency.route': 'POST /telemetry/slow',
      }),
    ).toBe(conflicts + 1);
    expect(await requests('mismatch')).toBe(mismatches + 1);
    expect(await sdk.total('idempotency.key_mismatches', bounded)).toBe(keyMismatches + 1);
    // 409 and 422 are the protocol working: the span says what happened, with no error status.
    const [conflictSpan] = sdk
      .spans()
      .filter((span) => span.attributes['idempotency.outcome'] === 'conflict' && span.name.startsWith('idempotency '));
    const [mismatchSpan] = callSpans().filter((span) => span.attributes['idempotency.outcome'] === 'mismatch');
    expect(conflictSpan.status.code).toBe(SpanStatusCode.UNSET);
    expect(mismatchSpan.status.code).toBe(SpanStatusCode.UNSET);
    expect(mismatchSpan.attributes['idempotency.replayed']).toBe(false);
  });

  it('counts a missing key (400)', async () => {
    const before = await requests('missing_key');
    expect((await post('/telemetry/orders/1', undefined)).status).toBe(400);
    expect(await requests('missing_key')).toBe(before + 1);
  });

  it('nests the handler span in the call span, in the incoming span, with a child per store round trip', async () => {
    const key = randomUUID();
    await post('/telemetry/orders/9', key);
    await post('/telemetry/orders/9', key);

    const [executed, replayed] = callSpans();
    const incoming = sdk.spans().find((span) => span.name === 'incoming request')!;
    expect(executed.kind).toBe(SpanKind.INTERNAL);
    expect(executed.parentSpanContext?.spanId).toBe(incoming.spanContext().spanId);
    expect(executed.spanContext().traceId).toBe(incoming.spanContext().traceId);
    expect(executed.attributes).toEqual({
      ...bounded,
      'idempotency.outcome': 'executed',
      'idempotency.replayed': false,
      'idempotency.local_cache_hit': false,
    });
    expect(executed.status.code).toBe(SpanStatusCode.UNSET);
    expect(
      childrenOf(executed)
        .map((span) => span.name)
        .sort(),
    ).toEqual(['handler work', 'idempotency.acquire', 'idempotency.complete']);
    // The call span covers its store calls and the work: each ended (and so was exported) before it.
    const finished = sdk.spans();
    for (const child of childrenOf(executed)) expect(finished.indexOf(child)).toBeLessThan(finished.indexOf(executed));

    expect(replayed.attributes['idempotency.outcome']).toBe('replayed');
    expect(replayed.attributes['idempotency.replayed']).toBe(true);
    expect(childrenOf(replayed).map((span) => span.name)).toEqual(['idempotency.acquire']);
  });

  it('puts the route template on every attribute, and never the key, the scope or the principal', async () => {
    const key = `secret-key-${randomUUID()}`;
    const principal = `principal-${randomUUID()}`;
    await post('/telemetry/orders/12345', key, { amount: 1 }, principal);
    await post('/telemetry/orders/12345', key, { amount: 1 }, principal);
    await post('/telemetry/orders/12345', key, { amount: 3 }, principal);

    const values: unknown[] = [];
    for (const metric of (await sdk.metrics()).values()) {
      for (const point of metric.dataPoints) values.push(...Object.values(point.attributes));
    }
    for (const span of sdk.spans()) values.push(span.name, ...Object.values(span.attributes));
    const text = values.map(String);
    expect(text).toContain(ROUTE);
    expect(text.filter((value) => value.includes('12345'))).toEqual([]);
    expect(text.filter((value) => value.includes(key) || value.includes(principal))).toEqual([]);
  });
});
