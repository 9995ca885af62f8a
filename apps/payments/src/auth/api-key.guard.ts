import { CanActivate, ExecutionContext, Inject, Injectable, UnauthorizedException } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { createHash, timingSafeEqual } from 'node:crypto';
import { APP_CONFIG } from '../config/app-config.module';
import { AppConfig } from '../config/app-config';
import { IS_PUBLIC } from './public.decorator';

/**
 * `Authorization: Bearer <api key>` → the merchant becomes `request.user`, which is also the idempotency
 * scope. Secrets are compared as SHA-256 digests in constant time, so timing says nothing about them.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  private readonly merchantsByDigest: Array<{ digest: Buffer; merchantId: string }>;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly reflector: Reflector,
  ) {
    this.merchantsByDigest = [...config.apiKeys].map(([merchantId, secret]) => ({
      merchantId,
      digest: digest(secret),
    }));
  }

  canActivate(context: ExecutionContext): boolean {
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, [context.getHandler(), context.getClass()])) return true;
    const request = context.switchToHttp().getRequest();
    const match = /^Bearer ([^\s]+)$/i.exec(request.headers.authorization ?? '');
    if (!match) throw new UnauthorizedException('Send your API key as "Authorization: Bearer <api key>".');
    const presented = digest(match[1]);
    let merchantId: string | undefined;
    for (const candidate of this.merchantsByDigest) {
      if (timingSafeEqual(candidate.digest, presented)) merchantId = candidate.merchantId;
    }
    if (!merchantId) throw new UnauthorizedException('Unknown API key.');
    request.user = { id: merchantId };
    return true;
  }
}

function digest(secret: string): Buffer {
  return createHash('sha256').update(secret).digest();
}
