import { Module } from '@nestjs/common';
import { AdminAudit } from './admin-audit';
import { AdminKeyGuard } from './admin-key.guard';
import { IdempotencyAdminController } from './idempotency-admin.controller';

/** `GET`/`DELETE /admin/idempotency/:merchantId/:key`; imported only when ADMIN_API_KEY is set. */
@Module({ controllers: [IdempotencyAdminController], providers: [AdminAudit, AdminKeyGuard] })
export class AdminModule {}
