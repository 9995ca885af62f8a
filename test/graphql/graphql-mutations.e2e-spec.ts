import { randomUUID } from 'node:crypto';
import { LoggerService } from '@nestjs/common';
import {
  IdempotencyEvent,
  IdempotencyModule,
  IdempotencyModuleOptions,
  MemoryIdempotencyStore,
} from '@nest-idempotency/core';
import { RedisIdempotencyStore } from '@nest-idempotency/core/redis';
import { HTTP_ADAPTERS, RunningApp } from '../support/http-app';
import { rowsNeeding, TEST_SERVICES } from '../support/services';
import { graphqlRequest, startGraphQLApp } from './graphql-app';
import { calls, PaymentsFixtureResolver } from './graphql-fixture.resolver';

/** The stores the GraphQL transport is proven on: memory, and Redis when it answers (CI requires it). */
const STORES: Array<[string, () => Pick<IdempotencyModuleOptions, 'store' | 'keyPrefix'>]> = [
  ['memory', () => ({ store: new MemoryIdempotencyStore() })],
  ...rowsNeeding(['redis'], 'GraphQL mutations on the Redis store', [
    [
      'Redis',
      () => ({ store: new RedisIdempotencyStore(TEST_SERVICES.redis), keyPrefix: `graphql-${randomUUID()}` }),
    ] as (typeof STORES)[number],
  ]),
];
const CASES = HTTP_ADAPTERS.flatMap(([platform, adapter]) =>
  STORES.map(([storeName, open]) => [platform, storeName, adapter, open] as const),
);

const CREATE = `mutation Create($input: PaymentInput!) {
  createPayment(input: $input) { id run amount currency note }
}`;

describe.each(CASES)('@Idempotent() on GraphQL mutations (%s, %s)', (_platform, _store, adapter, openStore) => {
  let running: RunningApp;
  let storeOptions: ReturnType<typeof openStore>;
  const events: IdempotencyEvent[] = [];
  const warnings: string[] = [];
  const logger: LoggerService = {
    log() {},
    error() {},
    warn: (message) => warnings.push(String(message)),
    debug() {},
    verbose() {},
  };
  let keySeq = 0;
  const newKey = () => `gql-${Date.now()}-${++keySeq}`;

  beforeAll(async () => {
    storeOptions = openStore();
    running = await startGraphQLApp(
      {
        imports: [IdempotencyModule.forRoot({ ...storeOptions, events: (event) => events.push(event) })],
        providers: [PaymentsFixtureResolver],
      },
      adapter,
    );
    running.app.useLogger(logger);
  });
  afterAll(async () => {
    await running.close();
    await (storeOptions.store as { close?: () => unknown }).close?.();
  });
  beforeEach(() => {
    calls.reset();
    events.length = 0;
    warnings.length = 0;
  });

  const send = (query: string, variables: Record<string, unknown> | undefined, key?: string | string[], user = 'u1') =>
    graphqlRequest(running.url, query, variables, {
      ...(key === undefined ? {} : { 'Idempotency-Key': key }),
      'x-user': user,
    });
  const create = (input: Record<string, unknown>, key?: string, user?: string) => send(CREATE, { input }, key, user);
  const outcomes = () => events.map((event) => event.outcome);

  describe('replay', () => {
    it('runs the mutation once and replays its result, marked in extensions and in the header', async () => {
      const key = newKey();
      const first = await create({ amount: 100, currency: 'EUR' }, key);
      expect(first.status).toBe(200);
      expect(first.body).toEqual({
        data: { createPayment: { id: 'pay_1', run: 1, amount: 100, currency: 'EUR', note: 'none' } },
      });
      expect(first.headers['idempotent-replayed']).toBeUndefined();

      const second = await create({ amount: 100, currency: 'EUR' }, key);
      expect(second.status).toBe(200);
      expect(second.body).toEqual({ data: first.body.data, extensions: { idempotency: { replayed: true } } });
      expect(second.headers['idempotent-replayed']).toBe('true');
      expect(calls.of('createPayment')).toBe(1);
      expect(outcomes()).toEqual(['executed', 'replayed']);
      expect(events[0].route).toBe('Mutation.createPayment');
    });

    it('treats arguments in another order, inline or as variables, under another alias, as the same call', async () => {
      const key = newKey();
      await create({ amount: 7, currency: 'USD', note: 'none' }, key);
      const reordered = await create({ note: 'none', currency: 'USD', amount: 7 }, key);
      const inline = await send(
        `mutation { paid: createPayment(input: { currency: "USD", amount: 7 }) { id run } }`,
        undefined,
        key,
      );
      expect(reordered.body.extensions).toEqual({ idempotency: { replayed: true } });
      expect(inline.body).toEqual({
        data: { paid: { id: 'pay_1', run: 1 } },
        extensions: { idempotency: { replayed: true } },
      });
      expect(calls.of('createPayment')).toBe(1);
    });

    it('keeps the records of two principals apart: the same key runs once for each', async () => {
      const key = newKey();
      const alice = await create({ amount: 1, currency: 'EUR' }, key, 'alice');
      const bob = await create({ amount: 1, currency: 'EUR' }, key, 'bob');
      expect(alice.body.data.createPayment.run).toBe(1);
      expect(bob.body.data.createPayment.run).toBe(2);
      expect(bob.body.extensions).toBeUndefined();
      expect(events.map((event) => event.scope)).toEqual(['alice', 'bob']);
    });

    it('hands the resolver the validated, unquoted key through @IdempotencyKey()', async () => {
      const key = newKey();
      const res = await send('mutation { echoKey }', undefined, `"${key}"`);
      expect(res.body).toEqual({ data: { echoKey: key } });
    });
  });

  describe('mismatch', () => {
    it('refuses the same key with other arguments, without running the resolver', async () => {
      const key = newKey();
      await create({ amount: 100, currency: 'EUR' }, key);
      const other = await create({ amount: 999, currency: 'EUR' }, key);
      expect(other.status).toBe(200);
      expect(other.body.data).toEqual({ createPayment: null });
      expect(other.body.errors).toHaveLength(1);
      expect(other.body.errors[0]).toMatchObject({
        path: ['createPayment'],
        message: expect.stringContaining('already used for a different request'),
        extensions: { code: 'IDEMPOTENCY_KEY_MISMATCH', retryable: false },
      });
      expect(other.body.extensions).toBeUndefined();
      expect(calls.of('createPayment')).toBe(1);
      expect(outcomes()).toEqual(['executed', 'mismatch']);
    });

    it('refuses the same key on another mutation field with the same arguments', async () => {
      const key = newKey();
      await send('mutation { refund(paymentId: "p1") { id } }', undefined, key);
      const other = await send('mutation { slowPayment(amount: 1) { id } }', undefined, key);
      expect(other.body.errors[0].extensions.code).toBe('IDEMPOTENCY_KEY_MISMATCH');
      expect(calls.of('slowPayment')).toBe(0);
    });
  });

  describe('keys', () => {
    it('refuses a guarded mutation without a key, without running it; other fields still answer', async () => {
      const res = await send('mutation { createPayment(input: { amount: 1, currency: "EUR" }) { id } }', undefined);
      expect(res.body.data).toEqual({ createPayment: null });
      expect(res.body.errors[0]).toMatchObject({
        message: 'The Idempotency-Key header is required.',
        path: ['createPayment'],
        extensions: { code: 'IDEMPOTENCY_KEY_MISSING', retryable: false },
      });
      expect(calls.of('createPayment')).toBe(0);
      expect(outcomes()).toEqual(['missing_key']);
      expect((await send('query { ping }', undefined)).body).toEqual({ data: { ping: 'pong' } });
    });

    it.each([
      ['too long', 'k'.repeat(256)],
      ['with a space', 'a b'],
      ['a broken quoted string', '"a"b"'],
    ])('refuses a key that is %s', async (_case, key) => {
      const res = await create({ amount: 1, currency: 'EUR' }, key);
      expect(res.body.errors[0].extensions).toMatchObject({ code: 'IDEMPOTENCY_KEY_INVALID', retryable: false });
      expect(res.body.errors[0].message).toMatch(/^Invalid Idempotency-Key header: /);
      expect(calls.of('createPayment')).toBe(0);
      expect(outcomes()).toEqual(['invalid_key']);
    });

    it('refuses a key header sent twice', async () => {
      const res = await create({ amount: 1, currency: 'EUR' }, ['one', 'two'] as unknown as string);
      expect(res.body.errors[0].extensions.code).toBe('IDEMPOTENCY_KEY_INVALID');
      expect(res.body.errors[0].message).toContain('more than once');
      expect(calls.of('createPayment')).toBe(0);
    });

    it('runs a mutation whose key is optional unprotected without one, and protected with one', async () => {
      await send('mutation { optionalKeyPayment(amount: 1) { run } }', undefined);
      await send('mutation { optionalKeyPayment(amount: 1) { run } }', undefined);
      expect(calls.of('optionalKeyPayment')).toBe(2);
      const key = newKey();
      await send('mutation { optionalKeyPayment(amount: 1) { run } }', undefined, key);
      const replay = await send('mutation { optionalKeyPayment(amount: 1) { run } }', undefined, key);
      expect(replay.body).toEqual({
        data: { optionalKeyPayment: { run: 3 } },
        extensions: { idempotency: { replayed: true } },
      });
    });
  });

  describe('one key guards one mutation field', () => {
    it('runs the first guarded field and refuses the second, the same field twice, and a retry alike', async () => {
      const key = newKey();
      const twice = `mutation {
        first: createPayment(input: { amount: 5, currency: "EUR" }) { id run }
        second: createPayment(input: { amount: 5, currency: "EUR" }) { id run }
      }`;
      const res = await send(twice, undefined, key);
      expect(res.body.data).toEqual({ first: { id: 'pay_1', run: 1 }, second: null });
      expect(res.body.errors).toHaveLength(1);
      expect(res.body.errors[0]).toMatchObject({
        path: ['second'],
        extensions: { code: 'IDEMPOTENCY_KEY_MISMATCH', retryable: false },
      });
      expect(res.body.errors[0].message).toContain('already guards the mutation field "first"');
      expect(calls.of('createPayment')).toBe(1);

      const retry = await send(twice, undefined, key);
      expect(retry.body.data).toEqual(res.body.data);
      expect(retry.body.errors[0].path).toEqual(['second']);
      expect(retry.body.extensions).toEqual({ idempotency: { replayed: true } });
      expect(calls.of('createPayment')).toBe(1);
    });

    it('refuses a second, different guarded field, and lets an unguarded query field answer', async () => {
      const key = newKey();
      const res = await send(
        `mutation {
          refund(paymentId: "p1") { id }
          slowPayment(amount: 2) { id }
        }`,
        undefined,
        key,
      );
      expect(res.body.data).toEqual({ refund: { id: 'ref_1' }, slowPayment: null });
      expect(res.body.errors[0]).toMatchObject({
        path: ['slowPayment'],
        extensions: { code: 'IDEMPOTENCY_KEY_MISMATCH' },
      });
      expect(calls.of('slowPayment')).toBe(0);
    });
  });

  describe('errors the resolver throws', () => {
    it('stores a 4xx HttpException and replays it as the same GraphQL error, without running again', async () => {
      const key = newKey();
      const first = await send('mutation { declinedPayment(amount: 3) { id } }', undefined, key);
      const second = await send('mutation { declinedPayment(amount: 3) { id } }', undefined, key);
      expect(first.body.errors[0]).toMatchObject({
        message: 'Insufficient funds for 3 (run 1)',
        extensions: { status: 402, originalError: { statusCode: 402 } },
      });
      expect(second.body.errors).toEqual(first.body.errors);
      expect(second.body.extensions).toEqual({ idempotency: { replayed: true } });
      expect(calls.of('declinedPayment')).toBe(1);
    });

    it('releases the key after any other error, so the retry runs', async () => {
      const key = newKey();
      const first = await send('mutation { flakyPayment(amount: 3) { run } }', undefined, key);
      expect(first.body.errors[0].message).toBe('upstream timed out');
      const second = await send('mutation { flakyPayment(amount: 3) { run } }', undefined, key);
      expect(second.body).toEqual({ data: { flakyPayment: { run: 2 } } });
      expect(outcomes()).toEqual(['released', 'executed']);
    });

    it('releases the key when validation refuses the arguments, so the corrected call runs under it', async () => {
      const key = newKey();
      const refused = await create({ amount: -5, currency: 'EUR' }, key);
      expect(refused.body.errors[0].extensions.originalError.message).toEqual(['amount must be a positive number']);
      const corrected = await create({ amount: 5, currency: 'EUR' }, key);
      expect(corrected.body.data.createPayment).toMatchObject({ amount: 5, run: 1 });
      expect(corrected.body.extensions).toBeUndefined();
    });
  });

  describe('concurrent duplicates', () => {
    it('runs 20 identical mutations sent at once once; the others are refused IN_PROGRESS or replayed', async () => {
      const key = newKey();
      const answers = await Promise.all(
        Array.from({ length: 20 }, () => send('mutation { slowPayment(amount: 9) { id run } }', undefined, key)),
      );
      expect(calls.of('slowPayment')).toBe(1);
      const ran = answers.filter((res) => res.body.data?.slowPayment && !res.body.extensions);
      const replayed = answers.filter((res) => res.body.extensions?.idempotency?.replayed === true);
      const busy = answers.filter((res) => res.body.errors?.[0]?.extensions?.code === 'IDEMPOTENCY_IN_PROGRESS');
      expect(ran).toHaveLength(1);
      expect(ran.length + replayed.length + busy.length).toBe(20);
      expect(busy.length).toBeGreaterThan(0);
      for (const res of busy) {
        expect(res.body.data).toEqual({ slowPayment: null });
        expect(res.body.errors[0].extensions).toEqual({
          code: 'IDEMPOTENCY_IN_PROGRESS',
          retryable: true,
          retryAfter: 1,
        });
      }
      for (const res of replayed) expect(res.body.data).toEqual(ran[0].body.data);

      const retry = await send('mutation { slowPayment(amount: 9) { id run } }', undefined, key);
      expect(retry.body).toEqual({ data: ran[0].body.data, extensions: { idempotency: { replayed: true } } });
      expect(calls.of('slowPayment')).toBe(1);
    });

    it('with onConflict: { wait }, answers all 20 with the one result', async () => {
      const key = newKey();
      const answers = await Promise.all(
        Array.from({ length: 20 }, () => send('mutation { waitingPayment(amount: 4) { id run } }', undefined, key)),
      );
      expect(calls.of('waitingPayment')).toBe(1);
      for (const res of answers) expect(res.body.data).toEqual({ waitingPayment: { id: 'wait_1', run: 1 } });
      expect(answers.filter((res) => res.body.extensions?.idempotency?.replayed)).toHaveLength(19);
    });
  });

  it('warns once when no principal is found under the default scope, naming the field', async () => {
    await graphqlRequest(running.url, 'mutation { refund(paymentId: "x") { id } }', undefined, {
      'Idempotency-Key': newKey(),
    });
    await graphqlRequest(running.url, 'mutation { refund(paymentId: "y") { id } }', undefined, {
      'Idempotency-Key': newKey(),
    });
    expect(warnings.filter((warning) => warning.includes('no principal'))).toEqual([
      expect.stringContaining('Mutation.refund: no principal on the request'),
    ]);
  });
});
