import { ApolloDriver, ApolloDriverConfig } from '@nestjs/apollo';
import { Controller, Get, Injectable, INestApplication, ModuleMetadata, Post } from '@nestjs/common';
import { Args, GraphQLModule, Int, Mutation, Query, ResolveField, Resolver } from '@nestjs/graphql';
import { Test } from '@nestjs/testing';
import { WsAdapter } from '@nestjs/platform-ws';
import { SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import request from 'supertest';
import { IdempotencyModule, Idempotent } from '@nest-idempotency/core';
import { Payment } from '../graphql/graphql-fixture.resolver';

/**
 * The start-up validation: every `@Idempotent()` either protects something (an HTTP route, a message handler, a
 * GraphQL mutation) with options that resolve, or stops the application naming the class and method.
 */

@WebSocketGateway()
class ChatGateway {
  @SubscribeMessage('send')
  @Idempotent()
  send(): string {
    return 'sent';
  }
}

@WebSocketGateway()
@Idempotent()
class WholeChatGateway {
  @SubscribeMessage('send')
  send(): string {
    return 'sent';
  }
}

@Resolver(() => Payment)
class QueryResolver {
  @Query(() => Int)
  @Idempotent()
  balance(): number {
    return 1;
  }
}

@Resolver(() => Payment)
class FieldResolver {
  @Query(() => Payment)
  payment(): Payment {
    return { id: '1', amount: 1, currency: 'EUR', run: 1 };
  }

  @ResolveField(() => Int)
  @Idempotent()
  amount(): number {
    return 1;
  }
}

@Resolver(() => Payment)
class MutationResolver {
  @Query(() => Int)
  balance(): number {
    return 1;
  }

  @Mutation(() => Int)
  @Idempotent()
  pay(@Args('amount', { type: () => Int }) amount: number): number {
    return amount;
  }
}

@Resolver(() => Payment)
class BadOptionsMutationResolver {
  @Query(() => Int)
  balance(): number {
    return 1;
  }

  @Mutation(() => Int)
  @Idempotent({ lockTimeout: 60_000, ttl: 1_000 })
  pay(): number {
    return 1;
  }
}

/** Class-wide: covers the mutation; the query is a read and runs as it is, without a key. */
@Resolver(() => Payment)
@Idempotent()
class WholeResolver {
  static runs = 0;

  @Query(() => Int)
  balance(): number {
    return 42;
  }

  @Mutation(() => Int)
  pay(): number {
    return ++WholeResolver.runs;
  }
}

@Injectable()
class PlainService {
  @Idempotent()
  charge(): number {
    return 1;
  }
}

@Injectable()
@Idempotent()
class WholePlainService {
  charge(): number {
    return 1;
  }
}

@Controller('orders')
class HelperMethodController {
  @Post()
  create(): number {
    return this.helper();
  }

  @Idempotent()
  helper(): number {
    return 1;
  }
}

@Controller('orders')
class BadOptionsController {
  @Post()
  @Idempotent({ retryAfter: 0 })
  create(): number {
    return 1;
  }
}

@Controller('orders')
@Idempotent()
class WholeController {
  @Get()
  list(): number[] {
    return [];
  }

  @Post()
  create(): number {
    return 1;
  }
}

const graphQLModule = () =>
  GraphQLModule.forRoot<ApolloDriverConfig>({ driver: ApolloDriver, autoSchemaFile: true, playground: false });

async function start(metadata: ModuleMetadata, { ws = false } = {}): Promise<INestApplication> {
  const moduleRef = await Test.createTestingModule({
    ...metadata,
    imports: [IdempotencyModule.forRoot({}), ...(metadata.imports ?? [])],
  }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  if (ws) app.useWebSocketAdapter(new WsAdapter(app));
  try {
    await app.init();
  } catch (error) {
    await app.close().catch(() => undefined);
    throw error;
  }
  return app;
}

describe('start-up validation of @Idempotent()', () => {
  it.each<[string, ModuleMetadata, { ws?: boolean }, RegExp]>([
    [
      'a WebSocket gateway method',
      { providers: [ChatGateway] },
      { ws: true },
      /^@Idempotent\(\) on ChatGateway\.send: a WebSocket gateway has no idempotency transport/,
    ],
    [
      'a WebSocket gateway class',
      { providers: [WholeChatGateway] },
      { ws: true },
      /^@Idempotent\(\) on WholeChatGateway: a WebSocket gateway has no idempotency transport/,
    ],
    [
      'a GraphQL query',
      { imports: [graphQLModule()], providers: [QueryResolver] },
      {},
      /^@Idempotent\(\) on QueryResolver\.balance: a GraphQL query is a read, which needs no idempotency key/,
    ],
    [
      'a GraphQL field resolver',
      { imports: [graphQLModule()], providers: [FieldResolver] },
      {},
      /^@Idempotent\(\) on FieldResolver\.amount: a GraphQL field resolver runs as part of another field/,
    ],
    [
      'a mutation whose options do not resolve',
      { imports: [graphQLModule()], providers: [BadOptionsMutationResolver] },
      {},
      /^@Idempotent\(\) on BadOptionsMutationResolver\.pay: Idempotency option "lockTimeout" \(60000 ms\) must not exceed "ttl"/,
    ],
    [
      'a method of a plain provider',
      { providers: [PlainService] },
      {},
      /^@Idempotent\(\) on PlainService\.charge: it is not an HTTP route, a message handler or a GraphQL mutation/,
    ],
    [
      'a plain provider class',
      { providers: [WholePlainService] },
      {},
      /^@Idempotent\(\) on WholePlainService: it has no HTTP route, message handler or GraphQL mutation to protect/,
    ],
    [
      "a controller's method that is not a route",
      { controllers: [HelperMethodController] },
      {},
      /^@Idempotent\(\) on HelperMethodController\.helper: it is not an HTTP route/,
    ],
    [
      'a route whose options do not resolve',
      { controllers: [BadOptionsController] },
      {},
      /^@Idempotent\(\) on BadOptionsController\.create: Idempotency option "retryAfter" must be a positive whole number/,
    ],
  ])('stops start-up on %s, naming it', async (_case, metadata, options, message) => {
    await expect(start(metadata, options)).rejects.toThrow(message);
  });

  it.each<[string, ModuleMetadata]>([
    ['a resolver mutation', { imports: [graphQLModule()], providers: [MutationResolver] }],
    ['a controller-wide decorator', { controllers: [WholeController] }],
  ])('starts with %s', async (_case, metadata) => {
    const app = await start(metadata);
    await app.close();
  });

  it('applies a resolver-wide decorator to its mutations and lets its queries run without a key', async () => {
    const app = await start({ imports: [graphQLModule()], providers: [WholeResolver] });
    try {
      await app.listen(0, '127.0.0.1');
      const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
      const gql = (query: string, headers: Record<string, string> = {}) =>
        request(url).post('/graphql').set(headers).send({ query });
      expect((await gql('{ balance }')).body).toEqual({ data: { balance: 42 } });
      const unkeyed = await gql('mutation { pay }');
      expect(unkeyed.body.errors[0].extensions.code).toBe('IDEMPOTENCY_KEY_MISSING');
      const first = await gql('mutation { pay }', { 'Idempotency-Key': 'whole-1' });
      const second = await gql('mutation { pay }', { 'Idempotency-Key': 'whole-1' });
      expect(second.body).toEqual({ data: first.body.data, extensions: { idempotency: { replayed: true } } });
      expect(WholeResolver.runs).toBe(1);
    } finally {
      await app.close();
    }
  });
});
