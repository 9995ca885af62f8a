import { IdempotencyService } from '../core/idempotency.service';
import { IdempotencyTransport } from '../core/idempotency-transport';

/**
 * The GraphQL transport, loaded on the first GraphQL call rather than imported: it needs `graphql`, an optional
 * peer dependency that applications without GraphQL do not install. A dynamic import, not a `require`: a test
 * runner that loads the library's source as ES modules (Vitest) would otherwise get a second copy of the library,
 * whose error classes no `instanceof` of the first recognises.
 */
export async function loadGraphQLTransport(idempotency: IdempotencyService): Promise<IdempotencyTransport> {
  const transport = await import('./graphql-idempotency.transport');
  return new transport.GraphQLIdempotencyTransport(idempotency);
}
