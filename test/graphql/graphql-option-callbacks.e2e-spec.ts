import { Args, Int, Mutation, Query, Resolver } from '@nestjs/graphql';
import { IdempotencyModule, Idempotent, sharedScope } from '@nest-idempotency/core';
import { captureLogs } from '../support/captured-logs';
import { HTTP_ADAPTERS, RunningApp } from '../support/http-app';
import { graphqlRequest, startGraphQLApp } from './graphql-app';
import { calls, Payment } from './graphql-fixture.resolver';

/** Scope and storage policy callbacks that fail, on GraphQL mutations: as on HTTP, a clean logged error, no record. */
@Resolver(() => Payment)
class OptionCallbacksResolver {
  /** A schema needs a query. */
  @Query(() => String)
  ping(): string {
    return 'pong';
  }

  @Mutation(() => Int)
  @Idempotent({
    scope: (context) => {
      const request = context.getArgByIndex(2).req;
      if (request.headers['x-scope'] === 'throw') return request.user.tenantId;
      return 'tenant-1';
    },
  })
  scopedCharge(@Args('amount', { type: () => Int }) amount: number): number {
    return amount * 1_000 + calls.hit('scopedCharge');
  }

  @Mutation(() => Int)
  @Idempotent({
    scope: sharedScope,
    storeResponse: () => {
      throw new Error('policy bug');
    },
  })
  policyCharge(@Args('amount', { type: () => Int }) amount: number): number {
    return amount * 1_000 + calls.hit('policyCharge');
  }
}

describe.each(HTTP_ADAPTERS)('option callbacks that fail, on GraphQL (%s)', (_platform, adapter) => {
  let running: RunningApp;
  const logs = captureLogs();
  const { errors } = logs;
  let keySeq = 0;
  const newKey = () => `gql-cb-${Date.now()}-${++keySeq}`;

  beforeAll(async () => {
    running = await startGraphQLApp(
      { imports: [IdempotencyModule.forRoot({})], providers: [OptionCallbacksResolver] },
      adapter,
    );
    running.app.useLogger(logs.logger);
  });
  afterAll(() => running.close());
  beforeEach(() => {
    calls.reset();
    logs.clear();
  });

  it('answers a scope that throws with a clean INTERNAL_SERVER_ERROR, logged, and keeps no record', async () => {
    const key = newKey();
    const mutation = 'mutation { scopedCharge(amount: 3) }';
    const failed = await graphqlRequest(running.url, mutation, undefined, {
      'Idempotency-Key': key,
      'x-scope': 'throw',
    });
    expect(failed.body.data).toBeNull();
    expect(failed.body.errors).toEqual([
      expect.objectContaining({
        message:
          'The request was not processed: the server could not apply its idempotency settings. Nothing was recorded.',
        path: ['scopedCharge'],
        extensions: expect.objectContaining({ code: 'INTERNAL_SERVER_ERROR' }),
      }),
    ]);
    expect(calls.of('scopedCharge')).toBe(0);
    expect(errors).toEqual([
      expect.stringContaining('Mutation.scopedCharge: the idempotency option "scope" threw: Cannot read properties'),
    ]);

    const retried = await graphqlRequest(running.url, mutation, undefined, { 'Idempotency-Key': key });
    expect(retried.body).toEqual({ data: { scopedCharge: 3_001 } });
  });

  it('returns the result when storeResponse throws, logs it, and releases the key', async () => {
    const key = newKey();
    const mutation = 'mutation { policyCharge(amount: 4) }';
    const first = await graphqlRequest(running.url, mutation, undefined, { 'Idempotency-Key': key });
    expect(first.body).toEqual({ data: { policyCharge: 4_001 } });
    expect(errors).toEqual([
      expect.stringContaining('Mutation.policyCharge: the idempotency option "storeResponse" threw: policy bug'),
    ]);
    const retried = await graphqlRequest(running.url, mutation, undefined, { 'Idempotency-Key': key });
    expect(retried.body).toEqual({ data: { policyCharge: 4_002 } });
  });
});
