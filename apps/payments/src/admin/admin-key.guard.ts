import { CanActivate, ExecutionContext, Inject, Injectable, UnauthorizedException } from '@nestjs/common';
import { createHash, timingSafeEqual } from 'node:crypto';
import { APP_CONFIG } from '../config/app-config.module';
import { AppConfig } from '../config/app-config';
import { AdminAudit } from './admin-audit';

/** The header the admin key travels in; never `Authorization`, so a merchant's client cannot send it by mistake. */
export const ADMIN_KEY_HEADER = 'X-Admin-Key';

/**
 * Lets through a request that carries `ADMIN_API_KEY` in `X-Admin-Key`. The keys are compared as SHA-256 digests
 * in constant time, so timing says nothing about the key. A merchant's API key opens nothing here (the config refuses
 * an admin key equal to one), and the admin key opens no merchant route (the merchant guard knows only API_KEYS).
 */
@Injectable()
export class AdminKeyGuard implements CanActivate {
  private readonly digest: Buffer;

  constructor(
    @Inject(APP_CONFIG) config: AppConfig,
    private readonly audit: AdminAudit,
  ) {
    // The module is imported only when the key is set.
    this.digest = digest(config.adminApiKey!);
  }

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest();
    const presented: unknown = request.headers[ADMIN_KEY_HEADER.toLowerCase()];
    if (typeof presented === 'string' && timingSafeEqual(digest(presented), this.digest)) return true;
    this.audit.record({
      action: request.method === 'DELETE' ? 'forget' : 'inspect',
      merchantId: String(request.params?.merchantId ?? ''),
      key: String(request.params?.key ?? ''),
      result: 'unauthorized',
      ip: request.ip,
    });
    throw new UnauthorizedException(`Send the admin key as "${ADMIN_KEY_HEADER}: <key>".`);
  }
}

function digest(secret: string): Buffer {
  return createHash('sha256').update(secret).digest();
}
