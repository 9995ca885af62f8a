import { Logger } from '@nestjs/common';
import { describeError } from '../../util/describe-error';

/**
 * Deletes expired records in the background: every `intervalMs`, batch after batch while a batch comes back full,
 * so a backlog drains in short statements. One sweep at a time; its timer never keeps the process alive, and
 * `stop()` waits for a running sweep so the DataSource is not closed under it.
 */
export class ExpirySweeper {
  private timer?: NodeJS.Timeout;
  private sweeping?: Promise<void>;
  private stopped = false;

  constructor(
    /** One batch: resolves how many rows it deleted. */
    private readonly sweepBatch: () => Promise<number>,
    private readonly batchSize: number,
    private readonly intervalMs: number,
    /** Whether the database can be asked now (the DataSource is initialised). */
    private readonly canSweep: () => boolean,
    private readonly logger: Logger,
  ) {}

  /** Starts the timer, unless `intervalMs` is 0 or it runs already. */
  start(): void {
    if (this.intervalMs === 0 || this.timer) return;
    this.stopped = false;
    this.timer = setInterval(() => this.sweepInBackground(), this.intervalMs);
    this.timer.unref();
  }

  /** Stops the timer and waits for a running sweep, which stops after its current batch. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.timer = undefined;
    await this.sweeping;
  }

  private sweepInBackground(): void {
    // A sweep still draining a backlog is not joined by a second one; the next tick looks again.
    if (this.sweeping || !this.canSweep()) return;
    this.sweeping = this.drainExpired().finally(() => {
      this.sweeping = undefined;
    });
  }

  private async drainExpired(): Promise<void> {
    try {
      // A backlog larger than a batch drains batch by batch, each one short statement.
      let deleted = this.batchSize;
      while (!this.stopped && deleted >= this.batchSize) deleted = await this.sweepBatch();
    } catch (error) {
      this.logger.warn(
        `Sweeping expired idempotency records failed (next try in ${this.intervalMs} ms): ${describeError(error)}`,
      );
    }
  }
}
