import { IdempotencyService } from '../core/idempotency.service';
import { IdempotencyTransport } from '../core/idempotency-transport';

/**
 * The GraphQL transport, loaded on the first GraphQL call rather than imported: it needs `graphql`, an optional
 * peer dependency that applications without GraphQL do not install.
 */
export function loadGraphQLTransport(idempotency: IdempotencyService): IdempotencyTransport {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const transport: typeof import('./graphql-idempotency.transport') = require('./graphql-idempotency.transport');
  return new transport.GraphQLIdempotencyTransport(idempotency);
}
