import { APP_INTERCEPTOR } from '@nestjs/core';
import { SpanStatusCode } from '@opentelemetry/api';
import { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { randomUUID } from 'node:crypto';
import { IdempotencyModule, MemoryIdempotencyStore } from '@nest-idempotency/core';
import { graphqlRequest, startGraphQLApp } from '../graphql/graphql-app';
import { calls, PaymentsFixtureResolver } from '../graphql/graphql-fixture.resolver';
import { HTTP_ADAPTERS, RunningApp } from '../support/http-app';
import { fixtureTracing, IncomingSpanInterceptor } from './telemetry-fixtures';
import { OtelTestSdk } from './otel-test-sdk';

const CREATE = `mutation Create($input: PaymentInput!) {
  createPayment(input: $input) { id run }
}`;
const ROUTE = 'Mutation.createPayment';
const SPAN_NAME = `idempotency ${ROUTE}`;

/** GraphQL mutations on a real Apollo app, against the real SDK: the transport, the route, the spans and replays. */
describe.each(HTTP_ADAPTERS)('OpenTelemetry of GraphQL mutations (%s)', (_platform, adapter) => {
  const sdk = new OtelTestSdk();
  let running: RunningApp;
  const graphql = { 'idempotency.transport': 'graphql', 'idempotency.route': ROUTE, 'idempotency.store': 'memory' };

  beforeAll(async () => {
    sdk.start();
    fixtureTracing.provider = sdk.tracerProvider;
    running = await startGraphQLApp(
      {
        imports: [
          IdempotencyModule.forRoot({
            store: new MemoryIdempotencyStore(),
            telemetry: { meterProvider: sdk.meterProvider, tracerProvider: sdk.tracerProvider },
          }),
        ],
        providers: [PaymentsFixtureResolver, { provide: APP_INTERCEPTOR, useClass: IncomingSpanInterceptor }],
      },
      adapter,
    );
  });
  afterAll(async () => {
    await running?.close();
    await sdk.shutdown();
  });
  beforeEach(() => {
    sdk.resetSpans();
    calls.reset();
  });

  const create = (amount: number, key: string) =>
    graphqlRequest(running.url, CREATE, { input: { amount, currency: 'EUR' } }, { 'Idempotency-Key': key });
  const requests = (outcome: string) =>
    sdk.total('idempotency.requests', { ...graphql, 'idempotency.outcome': outcome });
  const callSpans = () => sdk.spans().filter((span) => span.name === SPAN_NAME);
  const childrenOf = (parent: ReadableSpan) =>
    sdk.spans().filter((span) => span.parentSpanContext?.spanId === parent.spanContext().spanId);

  it('counts the mutation under the graphql transport and its name, and marks the replay', async () => {
    const key = randomUUID();
    const first = await create(10, key);
    expect(first.body.data.createPayment).toEqual({ id: 'pay_1', run: 1 });
    const replay = await create(10, key);
    expect(replay.body).toMatchObject({ extensions: { idempotency: { replayed: true } } });
    expect(calls.of('createPayment')).toBe(1);

    expect(await requests('executed')).toBe(1);
    expect(await requests('replayed')).toBe(1);
    const [histogram] = await sdk.points('idempotency.acquire.duration', graphql);
    expect(histogram).toMatchObject({ attributes: graphql, count: 2 });
    // Only the bounded attributes: not the key, not the operation's variables.
    const series = await sdk.points('idempotency.requests', { 'idempotency.route': ROUTE });
    for (const point of series)
      expect(Object.keys(point.attributes).sort()).toEqual([...Object.keys(graphql), 'idempotency.outcome'].sort());

    const [executed, replayed] = callSpans();
    expect(executed.attributes).toMatchObject({
      ...graphql,
      'idempotency.outcome': 'executed',
      'idempotency.replayed': false,
    });
    expect(replayed.attributes).toMatchObject({
      ...graphql,
      'idempotency.outcome': 'replayed',
      'idempotency.replayed': true,
    });
    for (const span of [executed, replayed]) expect(span.status.code).toBe(SpanStatusCode.UNSET);
    // Each call span is a child of the resolver's incoming span, with its store round trips under it.
    const incoming = sdk.spans().filter((span) => span.name === 'incoming request');
    expect(incoming).toHaveLength(2);
    expect(executed.parentSpanContext?.spanId).toBe(incoming[0].spanContext().spanId);
    expect(childrenOf(executed).map((span) => span.name)).toEqual(['idempotency.acquire', 'idempotency.complete']);
    expect(childrenOf(replayed).map((span) => span.name)).toEqual(['idempotency.acquire']);
    for (const child of childrenOf(executed)) expect(child.attributes).toEqual(graphql);
  });

  it('counts a key reused for other arguments as a graphql mismatch', async () => {
    const key = randomUUID();
    await create(10, key);
    const other = await create(11, key);
    expect(other.body.errors[0].extensions.code).toBe('IDEMPOTENCY_KEY_MISMATCH');

    expect(await requests('mismatch')).toBe(1);
    expect(await sdk.total('idempotency.key_mismatches', graphql)).toBe(1);
    expect(callSpans().map((span) => span.attributes['idempotency.outcome'])).toEqual(['executed', 'mismatch']);
    // A mismatch is the protocol working, not a failure.
    expect(callSpans()[1].status.code).toBe(SpanStatusCode.UNSET);
  });
});
