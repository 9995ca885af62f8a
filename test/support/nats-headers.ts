import type { MsgHdrs } from 'nats';
import { natsClientPackage } from '@nest-idempotency/core/client/nats-client-package';

/**
 * Empty message headers of the NATS client that the running NestJS major's transport sends with: `nats` on 11,
 * `@nats-io/transport-node` on 12 (the same choice `idempotentNatsRecord` makes). Headers of the other client are not
 * the kind that transport encodes.
 */
export function natsHeaders(): MsgHdrs {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require(natsClientPackage()) as { headers(): MsgHdrs }).headers();
}
