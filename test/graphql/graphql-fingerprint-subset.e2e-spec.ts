import { randomUUID } from 'node:crypto';
import { ApolloDriver, ApolloDriverConfig } from '@nestjs/apollo';
import { Args, Field, GraphQLModule, InputType, Int, Mutation, ObjectType, Query, Resolver } from '@nestjs/graphql';
import { IdempotencyModule, Idempotent, sharedScope } from '@nest-idempotency/core';
import { EVERY_STORE } from '../support/every-store';
import { HTTP_ADAPTERS, initApp, RunningApp } from '../support/http-app';
import { describeWithServices } from '../support/services';
import { CallCounter } from '../idempotency/fixture.controller';
import { graphqlRequest, startGraphQLApp } from './graphql-app';

const runs = new CallCounter();

@InputType()
class LineInput {
  @Field()
  sku: string;

  @Field(() => Int)
  qty: number;
}

@InputType()
class OrderInput {
  @Field(() => Int, { nullable: true })
  amount?: number;

  @Field(() => [LineInput])
  lines: LineInput[];

  @Field({ nullable: true })
  clientTime?: string;

  @Field({ nullable: true })
  note?: string;
}

@ObjectType()
class Placed {
  @Field(() => Int)
  run: number;

  @Field(() => Int, { nullable: true })
  amount?: number;
}

@Resolver()
class OrdersResolver {
  @Query(() => String)
  ping(): string {
    return 'pong';
  }

  /** The client's clock reading changes on every retry. */
  @Mutation(() => Placed)
  @Idempotent({ scope: sharedScope, fingerprint: { exclude: ['input.clientTime'] } })
  placeOrder(@Args('input') input: OrderInput): Placed {
    return { run: runs.hit('placeOrder'), amount: input.amount };
  }

  /** An order is its amount and what it buys; a note or a clock reading does not make it another order. */
  @Mutation(() => Placed)
  @Idempotent({
    scope: sharedScope,
    fingerprint: { include: ['input.amount', 'input.lines.*.sku', 'input.lines.*.qty'] },
  })
  quoteOrder(@Args('input') input: OrderInput): Placed {
    return { run: runs.hit('quoteOrder'), amount: input.amount };
  }
}

const PLACE = `mutation Place($input: OrderInput!) { placeOrder(input: $input) { run amount } }`;
const QUOTE = `mutation Quote($input: OrderInput!) { quoteOrder(input: $input) { run amount } }`;

for (const [platform, adapter] of HTTP_ADAPTERS) {
  for (const setup of EVERY_STORE) {
    describeWithServices(
      setup.services,
      `fingerprint include/exclude on GraphQL mutations (${platform}, ${setup.name})`,
      () => {
        let running: RunningApp;
        let drop: () => Promise<void>;

        beforeAll(async () => {
          const opened = await setup.open();
          drop = opened.drop;
          running = await startGraphQLApp(
            {
              imports: [IdempotencyModule.forRoot({ store: opened.store, keyPrefix: `fp-subset-${randomUUID()}` })],
              providers: [OrdersResolver],
            },
            adapter,
          );
        });
        afterAll(async () => {
          await running?.close();
          await drop?.();
        });
        beforeEach(() => runs.reset());

        const mutate = (query: string, input: Record<string, unknown>, key: string) =>
          graphqlRequest(running.url, query, { input }, { 'Idempotency-Key': key });
        const mismatchOf = (res: { body: any }) => res.body.errors?.[0]?.extensions?.code;

        describe('exclude', () => {
          const first = { amount: 10, lines: [{ sku: 'a', qty: 1 }], clientTime: '13:00:00' };

          it('replays a retry that changed only an excluded argument, marked replayed', async () => {
            const key = randomUUID();
            const original = await mutate(PLACE, first, key);
            expect(original.body).toEqual({ data: { placeOrder: { run: 1, amount: 10 } } });
            const retry = await mutate(PLACE, { ...first, clientTime: '13:00:05' }, key);
            expect(retry.body).toEqual({ data: original.body.data, extensions: { idempotency: { replayed: true } } });
            expect(retry.headers['idempotent-replayed']).toBe('true');
            expect(runs.of('placeOrder')).toBe(1);
          });

          it('refuses a retry that changed another argument with IDEMPOTENCY_KEY_MISMATCH', async () => {
            const key = randomUUID();
            await mutate(PLACE, first, key);
            expect(mismatchOf(await mutate(PLACE, { ...first, note: 'gift' }, key))).toBe('IDEMPOTENCY_KEY_MISMATCH');
            expect(runs.of('placeOrder')).toBe(1);
          });
        });

        describe('include', () => {
          const first = { amount: 10, lines: [{ sku: 'a', qty: 1 }], note: 'first', clientTime: '13:00:00' };

          it('replays a retry that changed only arguments outside the included paths', async () => {
            const key = randomUUID();
            const original = await mutate(QUOTE, first, key);
            const retry = await mutate(QUOTE, { amount: 10, lines: [{ qty: 1, sku: 'a' }], note: 'second' }, key);
            expect(retry.body).toEqual({ data: original.body.data, extensions: { idempotency: { replayed: true } } });
            expect(runs.of('quoteOrder')).toBe(1);
          });

          it.each<[string, Record<string, unknown>, Record<string, unknown>]>([
            ['the amount', first, { ...first, amount: 11 }],
            ['a quantity', first, { ...first, lines: [{ sku: 'a', qty: 2 }] }],
            [
              'the amount, sent as null where it was absent',
              { lines: first.lines },
              { lines: first.lines, amount: null },
            ],
          ])('refuses a retry that changed %s', async (_change, original, retry) => {
            const key = randomUUID();
            await mutate(QUOTE, original, key);
            expect(mismatchOf(await mutate(QUOTE, retry, key))).toBe('IDEMPOTENCY_KEY_MISMATCH');
            expect(runs.of('quoteOrder')).toBe(1);
          });
        });

        it('keeps the field in the fingerprint: the same key and arguments on another mutation is refused', async () => {
          const key = randomUUID();
          const input = { amount: 10, lines: [{ sku: 'a', qty: 1 }] };
          await mutate(PLACE, input, key);
          expect(mismatchOf(await mutate(QUOTE, input, key))).toBe('IDEMPOTENCY_KEY_MISMATCH');
        });
      },
    );
  }
}

describe('fingerprint include/exclude on a GraphQL mutation, checked at start-up', () => {
  it('refuses a bad path, naming the resolver method and the path', async () => {
    @Resolver()
    class RefundsResolver {
      @Query(() => String)
      ping(): string {
        return 'pong';
      }

      @Mutation(() => String)
      @Idempotent({ fingerprint: { include: ['input.amount', 'input.amount'] } })
      refund(@Args('amount', { type: () => Int }) amount: number): string {
        return String(amount);
      }
    }
    await expect(
      initApp({
        imports: [
          IdempotencyModule.forRoot({}),
          GraphQLModule.forRoot<ApolloDriverConfig>({ driver: ApolloDriver, autoSchemaFile: true }),
        ],
        providers: [RefundsResolver],
      }),
    ).rejects.toThrow(
      '@Idempotent() on RefundsResolver.refund: Idempotency option "fingerprint.include" lists the path "input.amount" twice',
    );
  });
});
