import { ApolloDriver, ApolloDriverConfig } from '@nestjs/apollo';
import { ModuleMetadata } from '@nestjs/common';
import { GraphQLModule } from '@nestjs/graphql';
import request from 'supertest';
import { AdapterFactory, RunningApp, startHttpApp } from '../support/http-app';

/**
 * An app serving `resolvers` through the Apollo driver (code first, schema in memory) at `/graphql`, on a real
 * loopback port, on the given HTTP platform.
 */
export function startGraphQLApp(
  metadata: ModuleMetadata,
  adapter: AdapterFactory,
  graphql: Partial<ApolloDriverConfig> = {},
): Promise<RunningApp> {
  return startHttpApp(
    {
      ...metadata,
      imports: [
        ...(metadata.imports ?? []),
        GraphQLModule.forRoot<ApolloDriverConfig>({
          driver: ApolloDriver,
          autoSchemaFile: true,
          playground: false,
          ...graphql,
        }),
      ],
    },
    adapter,
  );
}

/** One GraphQL operation over HTTP, with the headers given (an idempotency key, a user). */
export function graphqlRequest(
  url: string,
  query: string,
  variables?: Record<string, unknown>,
  headers: Record<string, string | string[]> = {},
) {
  const req = request(url).post('/graphql');
  for (const [name, value] of Object.entries(headers)) req.set(name, value as string);
  return req.send({ query, variables });
}
