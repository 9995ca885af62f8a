import {
  BadRequestException,
  Controller,
  Delete,
  Get,
  Logger,
  Param,
  Query,
  Req,
  ServiceUnavailableException,
  UseFilters,
  UseGuards,
} from '@nestjs/common';
import { ApiOkResponse, ApiParam, ApiQuery, ApiSecurity, ApiTags } from '@nestjs/swagger';
import {
  IdempotencyKeyInvalidError,
  IdempotencyKeyMissingError,
  IdempotencyRecordInspection,
  IdempotencyService,
} from '@nest-idempotency/core';
import { Public } from '../auth/public.decorator';
import { ApiErrors } from '../common/api-errors';
import { MERCHANT_ID } from '../config/app-config';
import { AdminAudit, AdminAuditEntry } from './admin-audit';
import { AdminKeyGuard } from './admin-key.guard';
import { AdminProblemException, AdminProblemFilter } from './admin-problem';

/** A record as `GET` shows it: whose and which, then the library's inspection (dates as ISO strings in JSON). */
export type IdempotencyRecordView = { merchantId: string; key: string } & IdempotencyRecordInspection;

/**
 * For operators: why a merchant's request was replayed (`GET`), and letting a merchant run a request again with the
 * same key (`DELETE`). The merchant is the idempotency scope of every merchant route, so `:merchantId` names the
 * same records the merchant's requests made. Not a merchant's route: the merchant guard steps aside (`@Public()`)
 * and `AdminKeyGuard` takes its place. Exists only when ADMIN_API_KEY is set.
 */
@ApiTags('admin')
@ApiSecurity('admin-key')
@Public()
@UseGuards(AdminKeyGuard)
@UseFilters(AdminProblemFilter)
@Controller('admin/idempotency')
export class IdempotencyAdminController {
  private readonly logger = new Logger(IdempotencyAdminController.name);

  constructor(
    private readonly idempotency: IdempotencyService,
    private readonly audit: AdminAudit,
  ) {}

  @Get(':merchantId/:key')
  @ApiParam({ name: 'key', description: 'The Idempotency-Key the merchant sent, URL-encoded' })
  @ApiOkResponse({ description: 'The record: in flight (its lease) or completed (the stored response)' })
  @ApiErrors([400, 'Invalid merchant id or key'], [401, 'Missing or wrong X-Admin-Key'])
  @ApiErrors([404, 'No live record under this key (application/problem+json)'])
  async inspect(
    @Param('merchantId') merchantId: string,
    @Param('key') key: string,
    @Req() request: { ip?: string },
  ): Promise<IdempotencyRecordView> {
    const use = { action: 'inspect' as const, merchantId, key, ip: request.ip };
    const inspection = await this.audited(
      use,
      () => this.idempotency.inspect({ key, scope: merchantId }),
      (found) => (found ? found.state : 'absent'),
    );
    if (!inspection) throw new AdminProblemException(404, `Merchant ${merchantId} has no live record under this key.`);
    return { merchantId, key, ...inspection };
  }

  @Delete(':merchantId/:key')
  @ApiParam({ name: 'key', description: 'The Idempotency-Key the merchant sent, URL-encoded' })
  @ApiQuery({
    name: 'force',
    required: false,
    enum: ['true', 'false'],
    description: 'Also forget a request still running; its retry may then run alongside it',
  })
  @ApiOkResponse({ description: 'Forgotten: the next request with this key runs again (a payment is made again)' })
  @ApiErrors([400, 'Invalid merchant id, key or force'], [401, 'Missing or wrong X-Admin-Key'])
  @ApiErrors(
    [404, 'No live record under this key (application/problem+json)'],
    [409, 'A request with this key is still running; retry, or use force=true (application/problem+json)'],
  )
  async forget(
    @Param('merchantId') merchantId: string,
    @Param('key') key: string,
    @Query('force') force: unknown,
    @Req() request: { ip?: string },
  ): Promise<{ result: 'forgotten' }> {
    const use = { action: 'forget' as const, merchantId, key, ip: request.ip };
    if (force !== undefined && force !== 'true' && force !== 'false') {
      this.audit.record({ ...use, result: 'invalid_force' });
      throw new BadRequestException('force must be true or false.');
    }
    const forceIt = force === 'true';
    const result = await this.audited(
      use,
      () => this.idempotency.forget({ key, scope: merchantId, force: forceIt }),
      (answer) => answer,
    );
    if (result === 'in_flight') {
      throw new AdminProblemException(
        409,
        'A request with this key is still running. Retry when it has finished, or forget it with force=true.',
      );
    }
    if (result === 'absent')
      throw new AdminProblemException(404, `Merchant ${merchantId} has no live record under this key.`);
    return { result };
  }

  /**
   * Runs one use and writes its audit line, whatever came of it. A refused key is the caller's 400 (as on the
   * merchant routes); a store that fails is a 503, since nothing was read or deleted.
   */
  private async audited<T>(
    use: Omit<AdminAuditEntry, 'result'>,
    work: () => Promise<T>,
    resultOf: (value: T) => string,
  ): Promise<T> {
    if (!MERCHANT_ID.test(use.merchantId)) {
      this.audit.record({ ...use, result: 'invalid_merchant' });
      throw new BadRequestException('merchantId must be 1-64 letters, digits, _ or -.');
    }
    let value: T;
    try {
      value = await work();
    } catch (error) {
      if (error instanceof IdempotencyKeyInvalidError || error instanceof IdempotencyKeyMissingError) {
        this.audit.record({ ...use, result: 'invalid_key' });
        throw new BadRequestException(error.message);
      }
      this.audit.record({ ...use, result: 'store_error' });
      this.logger.warn(`The idempotency store failed an admin ${use.action}: ${String(error)}`);
      throw new ServiceUnavailableException('The idempotency store did not answer; nothing was changed. Retry.');
    }
    this.audit.record({ ...use, result: resultOf(value) });
    return value;
  }
}
