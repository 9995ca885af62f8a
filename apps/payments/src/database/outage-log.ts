import { Logger } from '@nestjs/common';

/**
 * A passing database failure in the log once per outage, not once per connection or message: the first failure
 * at once, then at most one line per interval saying how many more there were, and one line when `recovered()`
 * reports the database back. A 40-second cut with a handful of messages in flight otherwise prints a line (and
 * a stack trace) per delivery and per pooled connection.
 */
export class OutageLog {
  private since: number | undefined;
  private lastLine = 0;
  private unreported = 0;
  private total = 0;

  constructor(
    private readonly logger: Logger,
    /** What fails, as the lines name it: `payment requests`, `connections`. */
    private readonly what: string,
    private readonly intervalMs = 10_000,
  ) {}

  /** One failure; `detail` is logged only for the first of an outage. */
  failed(detail: string): void {
    const now = Date.now();
    this.total++;
    if (this.since === undefined) {
      this.since = this.lastLine = now;
      this.logger.warn(`${detail} (database unavailable; further failures of ${this.what} are counted)`);
      return;
    }
    this.unreported++;
    if (now - this.lastLine < this.intervalMs) return;
    this.lastLine = now;
    this.logger.warn(
      `database still unavailable after ${Math.round((now - this.since) / 1000)} s: ${this.unreported} more failed ${this.what}`,
    );
    this.unreported = 0;
  }

  /** The database answered: ends the outage, if one was going on. */
  recovered(): void {
    if (this.since === undefined) return;
    const seconds = ((Date.now() - this.since) / 1000).toFixed(1);
    this.logger.log(`database back after ${seconds} s; ${this.total} failed ${this.what} in all`);
    this.since = undefined;
    this.unreported = this.total = 0;
  }
}
