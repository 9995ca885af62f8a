import { IdempotencyService } from '../core/idempotency.service';
import { IdempotencyTransport } from '../core/idempotency-transport';

/**
 * The message handlers' transport, loaded on the first message rather than imported: it needs
 * `@nestjs/microservices`, an optional peer dependency that applications without message handlers do not install.
 * A dynamic import, for the reason `loadGraphQLTransport` gives.
 */
export async function loadRpcTransport(idempotency: IdempotencyService): Promise<IdempotencyTransport> {
  const transport = await import('./rpc-idempotency.transport');
  return new transport.RpcIdempotencyTransport(idempotency);
}
