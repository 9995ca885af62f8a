import { CanActivate, ExecutionContext, Inject, Injectable, UnauthorizedException } from '@nestjs/common';
import { createHash, timingSafeEqual } from 'node:crypto';
import { ORDERS_CONFIG } from '../config/orders-config.module';
import { OrdersConfig } from '../config/orders-config';

/**
 * `Authorization: Bearer <secret>` of one of API_KEYS → that caller becomes `request.user`, which is also the
 * idempotency scope: each caller's keys and orders are its own. Digests compared in constant time.
 */
@Injectable()
export class CallerKeyGuard implements CanActivate {
  private readonly callers: Array<[digest: Buffer, callerId: string]>;

  constructor(@Inject(ORDERS_CONFIG) config: OrdersConfig) {
    this.callers = [...config.apiKeys].map(([callerId, secret]) => [sha256(secret), callerId]);
  }

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest();
    const bearer = /^Bearer (\S+)$/i.exec(request.headers.authorization ?? '')?.[1];
    if (bearer === undefined) throw new UnauthorizedException('Send your key as "Authorization: Bearer <secret>".');
    const presented = sha256(bearer);
    const caller = this.callers.filter(([digest]) => timingSafeEqual(digest, presented)).map(([, id]) => id)[0];
    if (caller === undefined) throw new UnauthorizedException('Unknown key.');
    request.user = { id: caller };
    return true;
  }
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
