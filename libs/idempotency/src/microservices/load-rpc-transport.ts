import { IdempotencyService } from '../core/idempotency.service';
import { IdempotencyTransport } from '../core/idempotency-transport';

/**
 * The message handlers' transport, loaded on the first message rather than imported: it needs
 * `@nestjs/microservices`, an optional peer dependency that applications without message handlers do not install.
 */
export function loadRpcTransport(idempotency: IdempotencyService): IdempotencyTransport {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const transport: typeof import('./rpc-idempotency.transport') = require('./rpc-idempotency.transport');
  return new transport.RpcIdempotencyTransport(idempotency);
}
