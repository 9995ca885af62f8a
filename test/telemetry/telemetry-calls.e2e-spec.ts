import { Controller, INestMicroservice } from '@nestjs/common';
import { ClientProxy, ClientProxyFactory, MessagePattern, Payload, Transport } from '@nestjs/microservices';
import { Test } from '@nestjs/testing';
import { metrics, SpanStatusCode, trace } from '@opentelemetry/api';
import { randomUUID } from 'node:crypto';
import { lastValueFrom } from 'rxjs';
import request from 'supertest';
import { Idempotent, IdempotencyModule, IdempotencyService, MemoryIdempotencyStore } from '@nest-idempotency/core';
import { RedisIdempotencyStore } from '@nest-idempotency/core/redis';
import { bootAndClose, HTTP_ADAPTERS, RunningApp, startHttpApp } from '../support/http-app';
import { freePorts } from '../support/redis-server';
import { fixtureTracing, TelemetryFixtureController } from './telemetry-fixtures';
import { OtelTestSdk } from './otel-test-sdk';

const ROUTE = 'POST /telemetry/orders/:id';
const [, express] = HTTP_ADAPTERS[0];

/** A message handler whose key is the message's `ref`, as a TCP producer (no headers) would key it. */
@Controller()
class CreditConsumer {
  runs = 0;

  @MessagePattern('telemetry.credit')
  @Idempotent({ key: (context) => context.switchToRpc().getData().ref })
  credit(@Payload() message: { ref: string; amount: number }) {
    this.runs++;
    return { credited: message.amount };
  }
}

describe('OpenTelemetry of the other calls', () => {
  const sdk = new OtelTestSdk();
  const telemetry = { meterProvider: sdk.meterProvider, tracerProvider: sdk.tracerProvider };

  beforeAll(() => {
    sdk.start();
    fixtureTracing.provider = sdk.tracerProvider;
  });
  afterAll(() => sdk.shutdown());
  beforeEach(() => sdk.resetSpans());

  const post = (app: RunningApp, key: string) =>
    request(app.url).post('/telemetry/orders/1').set('Idempotency-Key', key).send({ amount: 1 });

  it('reports run() with the run transport and its name as the route', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [IdempotencyModule.forRoot({ store: new MemoryIdempotencyStore(), telemetry })],
    }).compile();
    const service = moduleRef.get(IdempotencyService);
    const key = randomUUID();
    await service.run(key, () => 'charged', { name: 'nightly-charge' });
    await service.run(key, () => 'charged', { name: 'nightly-charge' });
    await expect(service.run('', () => 'charged', { name: 'nightly-charge' })).rejects.toThrow();

    const run = {
      'idempotency.transport': 'run',
      'idempotency.route': 'nightly-charge',
      'idempotency.store': 'memory',
    };
    expect(await sdk.total('idempotency.requests', { ...run, 'idempotency.outcome': 'executed' })).toBe(1);
    expect(await sdk.total('idempotency.requests', { ...run, 'idempotency.outcome': 'replayed' })).toBe(1);
    expect(await sdk.total('idempotency.requests', { ...run, 'idempotency.outcome': 'invalid_key' })).toBe(1);
    // A span per guarded call; a refused key made none (there was no call), and no parent: a root of its own.
    const spans = sdk.spans().filter((span) => span.name === 'idempotency nightly-charge');
    expect(spans.map((span) => span.attributes['idempotency.outcome'])).toEqual(['executed', 'replayed']);
    expect(spans[0].parentSpanContext).toBeUndefined();
    await moduleRef.close();
  });

  it('reports a message handler with the rpc transport and its pattern as the route', async () => {
    const [port] = await freePorts(1);
    const moduleRef = await Test.createTestingModule({
      imports: [IdempotencyModule.forRoot({ store: new MemoryIdempotencyStore(), telemetry })],
      controllers: [CreditConsumer],
    }).compile();
    const consumer: INestMicroservice = moduleRef.createNestMicroservice({
      transport: Transport.TCP,
      options: { host: '127.0.0.1', port },
      logger: false,
    });
    await consumer.listen();
    const client: ClientProxy = ClientProxyFactory.create({ transport: Transport.TCP, options: { port } });
    try {
      const message = { ref: randomUUID(), amount: 5 };
      for (let i = 0; i < 2; i++)
        expect(await lastValueFrom(client.send('telemetry.credit', message))).toEqual({ credited: 5 });
      expect(consumer.get(CreditConsumer).runs).toBe(1);
      const rpc = { 'idempotency.transport': 'rpc', 'idempotency.route': 'message telemetry.credit' };
      expect(await sdk.total('idempotency.requests', { ...rpc, 'idempotency.outcome': 'executed' })).toBe(1);
      expect(await sdk.total('idempotency.requests', { ...rpc, 'idempotency.outcome': 'replayed' })).toBe(1);
    } finally {
      client.close();
      await consumer.close();
    }
  });

  it('reports a store that cannot be reached: store_error, a store error, and an error status on the spans', async () => {
    const [closedPort] = await freePorts(1);
    const store = new RedisIdempotencyStore(`redis://127.0.0.1:${closedPort}`, { commandTimeout: 300 });
    const app = await startHttpApp(
      { imports: [IdempotencyModule.forRoot({ store, telemetry })], controllers: [TelemetryFixtureController] },
      express,
    );
    try {
      expect((await post(app, randomUUID())).status).toBe(503);
    } finally {
      await app.close();
    }
    const redis = { 'idempotency.transport': 'http', 'idempotency.route': ROUTE, 'idempotency.store': 'redis' };
    expect(await sdk.total('idempotency.requests', { ...redis, 'idempotency.outcome': 'store_error' })).toBe(1);
    expect(
      await sdk.points('idempotency.store.errors', { ...redis, 'idempotency.operation': 'acquire' }),
    ).toMatchObject([{ value: 1, attributes: { 'idempotency.effect': 'refused' } }]);
    const call = sdk.spans().find((span) => span.name === `idempotency ${ROUTE}`)!;
    const acquire = sdk.spans().find((span) => span.name === 'idempotency.acquire')!;
    expect(call.status.code).toBe(SpanStatusCode.ERROR);
    expect(call.attributes['idempotency.outcome']).toBe('store_error');
    expect(acquire.status.code).toBe(SpanStatusCode.ERROR);
    expect(acquire.attributes['error.type']).toBe('IdempotencyStoreUnreachableError');
  });

  it('counts a replay from the localCache as a local cache hit, without a store round trip', async () => {
    const app = await startHttpApp(
      {
        imports: [
          IdempotencyModule.forRoot({ store: new MemoryIdempotencyStore(), localCache: { maxEntries: 10 }, telemetry }),
        ],
        controllers: [TelemetryFixtureController],
      },
      express,
    );
    try {
      const key = randomUUID();
      await post(app, key);
      sdk.resetSpans();
      expect((await post(app, key)).headers['idempotent-replayed']).toBe('true');
    } finally {
      await app.close();
    }
    const http = { 'idempotency.transport': 'http', 'idempotency.route': ROUTE, 'idempotency.store': 'memory' };
    expect(await sdk.total('idempotency.local_cache.hits', http)).toBe(1);
    const [call] = sdk.spans().filter((span) => span.name.startsWith('idempotency'));
    expect(call.attributes).toMatchObject({ 'idempotency.replayed': true, 'idempotency.local_cache_hit': true });
    expect(sdk.spans().filter((span) => span.name === 'idempotency.acquire')).toEqual([]);
  });

  describe('with the SDK registered globally', () => {
    beforeAll(() => {
      metrics.setGlobalMeterProvider(sdk.meterProvider);
      trace.setGlobalTracerProvider(sdk.tracerProvider);
    });
    afterAll(() => {
      metrics.disable();
      trace.disable();
    });

    const runOnce = async (options: { telemetry?: false }, name: string) => {
      const moduleRef = await Test.createTestingModule({
        imports: [IdempotencyModule.forRoot({ store: new MemoryIdempotencyStore(), ...options })],
      }).compile();
      const service = moduleRef.get(IdempotencyService);
      const key = randomUUID();
      expect(await service.run(key, () => 42, { name })).toBe(42);
      expect(await service.run(key, () => 43, { name })).toBe(42);
      await moduleRef.close();
    };

    it('reports to the global providers by default', async () => {
      await runOnce({}, 'global-default');
      expect(await sdk.total('idempotency.requests', { 'idempotency.route': 'global-default' })).toBe(2);
      expect(sdk.spans().filter((span) => span.name === 'idempotency global-default')).toHaveLength(2);
    });

    it('reports nothing with telemetry: false, and works the same', async () => {
      await runOnce({ telemetry: false }, 'telemetry-off');
      expect(await sdk.total('idempotency.requests', { 'idempotency.route': 'telemetry-off' })).toBe(0);
      expect(sdk.spans()).toEqual([]);
    });
  });

  it('refuses a telemetry option of the wrong shape at start-up', async () => {
    await expect(bootAndClose({ imports: [IdempotencyModule.forRoot({ telemetry: 'on' as never })] })).rejects.toThrow(
      'Idempotency option "telemetry" must be false or an object such as { meterProvider, tracerProvider }, got the string "on"',
    );
    await expect(
      bootAndClose({ imports: [IdempotencyModule.forRoot({ telemetry: { meterProvider: {} as never } })] }),
    ).rejects.toThrow(
      'Idempotency option "telemetry.meterProvider" must be an OpenTelemetry MeterProvider (an object with a getMeter function)',
    );
  });
});
