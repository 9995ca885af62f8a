import { Args, Int, Mutation, Resolver } from '@nestjs/graphql';
import request from 'supertest';
import { IdempotencyModule, Idempotent, MemoryIdempotencyStore } from '@nest-idempotency/core';
import { HTTP_ADAPTERS, RunningApp } from '../support/http-app';
import { startGraphQLApp } from './graphql-app';
import { calls, Payment, PaymentsFixtureResolver } from './graphql-fixture.resolver';

/** A guarded mutation with records of its own (another keyPrefix), so one key may guard it and createPayment. */
@Resolver(() => Payment)
class LedgerResolver {
  @Mutation(() => Int)
  @Idempotent({ keyPrefix: 'ledger' })
  recordEntry(@Args('amount', { type: () => Int }) amount: number): number {
    return amount * 1_000 + calls.hit('recordEntry');
  }
}

const CREATE = `mutation Create($input: PaymentInput!) { createPayment(input: $input) { id run } }`;
const ENTRY = `mutation Entry($amount: Int!) { recordEntry(amount: $amount) }`;

type Operation = { query: string; variables?: Record<string, unknown> };
type Answer = {
  data?: Record<string, unknown>;
  errors?: Array<{ extensions: { code: string } }>;
  extensions?: unknown;
};

/**
 * Apollo's `allowBatchedHttpRequests`: one HTTP request carries several operations, each with its own copy of the
 * GraphQL context. The rules are per HTTP request: one key guards one mutation field across the batch, and the
 * `Idempotent-Replayed` header says the whole response is a replay only when every guarded operation in it was.
 */
describe.each(HTTP_ADAPTERS)('@Idempotent() mutations in a batch (%s)', (_platform, adapter) => {
  let running: RunningApp;
  let keySeq = 0;
  const newKey = () => `batch-${Date.now()}-${++keySeq}`;

  beforeAll(async () => {
    running = await startGraphQLApp(
      {
        imports: [IdempotencyModule.forRoot({ store: new MemoryIdempotencyStore() })],
        providers: [PaymentsFixtureResolver, LedgerResolver],
      },
      adapter,
      { allowBatchedHttpRequests: true },
    );
  });
  afterAll(() => running.close());
  beforeEach(() => calls.reset());

  const batch = async (operations: Operation[], key: string) => {
    const res = await request(running.url)
      .post('/graphql')
      .set('Idempotency-Key', key)
      .set('x-user', 'u1')
      .send(operations)
      .expect(200);
    return { answers: res.body as Answer[], replayedHeader: res.headers['idempotent-replayed'] };
  };
  const create: Operation = { query: CREATE, variables: { input: { amount: 5, currency: 'EUR' } } };
  const entry = (amount: number): Operation => ({ query: ENTRY, variables: { amount } });
  const codes = (answers: Answer[]) => answers.map((answer) => answer.errors?.[0]?.extensions.code ?? 'ok');
  const marked = (answers: Answer[]) => answers.map((answer) => answer.extensions !== undefined);

  it('runs one of two operations guarded by one key and refuses the other, then answers a retry alike', async () => {
    const key = newKey();
    const first = await batch([create, create], key);
    expect(codes(first.answers).sort()).toEqual(['IDEMPOTENCY_KEY_MISMATCH', 'ok']);
    expect(calls.of('createPayment')).toBe(1);
    const ran = first.answers.find((answer) => !answer.errors)!;
    expect(ran.data).toEqual({ createPayment: { id: 'pay_1', run: 1 } });
    expect(first.replayedHeader).toBeUndefined();

    const retry = await batch([create, create], key);
    expect(codes(retry.answers).sort()).toEqual(['IDEMPOTENCY_KEY_MISMATCH', 'ok']);
    const replayed = retry.answers.find((answer) => !answer.errors)!;
    expect(replayed).toEqual({ data: ran.data, extensions: { idempotency: { replayed: true } } });
    // The refused operation is not a replay: neither it nor the response as a whole is marked.
    expect(retry.answers.find((answer) => answer.errors)!.extensions).toBeUndefined();
    expect(retry.replayedHeader).toBeUndefined();
    expect(calls.of('createPayment')).toBe(1);
  });

  it('marks the response replayed only when every guarded operation in it was', async () => {
    const key = newKey();
    const first = await batch([create, entry(3)], key);
    expect(codes(first.answers)).toEqual(['ok', 'ok']);
    expect(marked(first.answers)).toEqual([false, false]);
    expect(first.replayedHeader).toBeUndefined();

    const retry = await batch([create, entry(3)], key);
    expect(retry.answers.map((answer) => answer.data)).toEqual(first.answers.map((answer) => answer.data));
    expect(marked(retry.answers)).toEqual([true, true]);
    expect(retry.replayedHeader).toBe('true');

    // One operation replayed, the other run now: each is marked as it was answered, the response is not a replay.
    const other = newKey();
    await batch([create], other);
    const mixed = await batch([create, entry(4)], other);
    expect(codes(mixed.answers)).toEqual(['ok', 'ok']);
    expect(marked(mixed.answers)).toEqual([true, false]);
    expect(mixed.replayedHeader).toBeUndefined();
    expect(calls.of('createPayment')).toBe(2);
    expect(calls.of('recordEntry')).toBe(2);

    // An operation with no guarded field does not keep the response from being a replay.
    const withQuery = await batch([create, { query: '{ ping }' }], other);
    expect(withQuery.answers[1]).toEqual({ data: { ping: 'pong' } });
    expect(marked(withQuery.answers)).toEqual([true, false]);
    expect(withQuery.replayedHeader).toBe('true');
  });
});
