import { Injectable, Logger } from '@nestjs/common';

/** One use of an admin route, as the audit log records it. */
export interface AdminAuditEntry {
  action: 'inspect' | 'forget';
  merchantId: string;
  key: string;
  /** What came of it: the record's state, the forget's result, or why it was refused. */
  result: string;
  /** The caller's address, as Express sees it (behind a proxy, set Express's `trust proxy` to get the client's). */
  ip: string | undefined;
}

/**
 * Writes one line per use of an admin route to the log under the context `Audit`, refused ones included. The
 * merchant and the key are written as JSON strings, so no value can forge a line or a field; the admin key is never
 * written.
 */
@Injectable()
export class AdminAudit {
  private readonly logger = new Logger('Audit');

  record(entry: AdminAuditEntry): void {
    const { action, merchantId, key, result, ip } = entry;
    this.logger.log(
      `idempotency ${action} merchant=${JSON.stringify(merchantId)} key=${JSON.stringify(key)} result=${result} ` +
        `ip=${ip ?? 'unknown'}`,
    );
  }
}
