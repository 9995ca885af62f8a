import { ApolloDriver, ApolloDriverConfig } from '@nestjs/apollo';
import { DynamicModule, Injectable, LoggerService, Module } from '@nestjs/common';
import { IdempotencyApolloPlugin, IdempotencyModule, MemoryIdempotencyStore } from '@nest-idempotency/core';
import { RedisIdempotencyStore } from '@nest-idempotency/core/redis';
import { HTTP_ADAPTERS, RunningApp } from '../support/http-app';
import { freePorts } from '../support/redis-server';
import { graphqlRequest, startGraphQLApp } from './graphql-app';
import { calls, PaymentsFixtureResolver } from './graphql-fixture.resolver';

const REFUND = 'mutation { refund(paymentId: "p1") { id run } }';

/**
 * The Apollo driver started without its search for `@Plugin()` providers, as a driver of one's own may be: only
 * the plugins listed in the options run.
 */
@Injectable()
class ApolloDriverCollectingNoPlugins extends ApolloDriver {
  async start(options: ApolloDriverConfig): Promise<void> {
    await this.registerServer(options);
  }
}

/** The resolvers' own feature module, as an application that narrows GraphQL with `include` has one. */
@Module({})
class PaymentsFeatureModule {
  static register(): DynamicModule {
    return {
      module: PaymentsFeatureModule,
      imports: [IdempotencyModule.forRoot({ store: new MemoryIdempotencyStore() })],
      providers: [PaymentsFixtureResolver],
    };
  }
}

describe.each(HTTP_ADAPTERS)('GraphQL set-ups (%s)', (platform, adapter) => {
  const warnings: string[] = [];
  const logger: LoggerService = {
    log() {},
    error() {},
    warn: (message) => warnings.push(String(message)),
    debug() {},
    verbose() {},
  };
  let running: RunningApp | undefined;
  beforeEach(() => {
    calls.reset();
    warnings.length = 0;
  });
  afterEach(async () => {
    await running?.close();
    running = undefined;
  });

  it('answers IDEMPOTENCY_STORE_UNAVAILABLE with retryAfter when the store cannot be reached, and runs nothing', async () => {
    const [deadPort] = await freePorts(1);
    const store = new RedisIdempotencyStore(`redis://127.0.0.1:${deadPort}`, { commandTimeout: 500 });
    try {
      running = await startGraphQLApp(
        { imports: [IdempotencyModule.forRoot({ store, retryAfter: 2_000 })], providers: [PaymentsFixtureResolver] },
        adapter,
      );
      const res = await graphqlRequest(running.url, REFUND, undefined, { 'Idempotency-Key': 'down-1' });
      expect(res.body.data).toEqual({ refund: null });
      expect(res.body.errors[0]).toMatchObject({
        path: ['refund'],
        extensions: { code: 'IDEMPOTENCY_STORE_UNAVAILABLE', retryable: true, retryAfter: 2 },
      });
      expect(calls.of('refund')).toBe(0);
    } finally {
      await store.close();
    }
  });

  it('registers its Apollo plugin by itself, also when GraphQLModule includes only the feature module', async () => {
    running = await startGraphQLApp({ imports: [PaymentsFeatureModule.register()] }, adapter, {
      include: [PaymentsFeatureModule],
    });
    running.app.useLogger(logger);
    const key = `include-${platform}`;
    const first = await graphqlRequest(running.url, REFUND, undefined, { 'Idempotency-Key': key });
    const second = await graphqlRequest(running.url, REFUND, undefined, { 'Idempotency-Key': key });
    expect(second.body).toEqual({ data: first.body.data, extensions: { idempotency: { replayed: true } } });
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(calls.of('refund')).toBe(1);
    expect(warnings.filter((warning) => warning.includes('IdempotencyApolloPlugin'))).toEqual([]);
  });

  it.each([
    ['without the plugin: still protects, and warns once that replays go unmarked', [], undefined],
    ['with the plugin listed in "plugins": marks replays', [new IdempotencyApolloPlugin()], true],
  ])('under a driver that collects no plugins from providers, %s', async (_case, plugins, marked) => {
    running = await startGraphQLApp({ imports: [PaymentsFeatureModule.register()] }, adapter, {
      driver: ApolloDriverCollectingNoPlugins,
      plugins,
    });
    running.app.useLogger(logger);
    const key = `no-plugins-${platform}-${plugins.length}`;
    const first = await graphqlRequest(running.url, REFUND, undefined, { 'Idempotency-Key': key });
    await graphqlRequest(running.url, REFUND, undefined, { 'Idempotency-Key': `${key}-other` });
    const second = await graphqlRequest(running.url, REFUND, undefined, { 'Idempotency-Key': key });
    expect(second.body.data).toEqual(first.body.data);
    expect(second.body.extensions?.idempotency?.replayed).toBe(marked);
    expect(calls.of('refund')).toBe(2);
    const noPlugin = warnings.filter((warning) => warning.includes('IdempotencyApolloPlugin is not among'));
    expect(noPlugin).toHaveLength(marked ? 0 : 1);
  });
});
