import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { ORDERS_CONFIG } from '../config/orders-config.module';
import { OrdersConfig } from '../config/orders-config';
import { Order } from './order.entity';
import { OrdersService } from './orders.service';

/** Orders resumed at once by one pass, and most passes' batches; the rest wait for the next pass. */
const CONCURRENCY = 8;
const BATCH = 50;
const MAX_BATCHES_PER_PASS = 10;

/**
 * Resumes `pending` orders: at start-up, then `ORDERS_RECOVERY_INTERVAL_MS` after each pass ends (so passes of
 * one instance never overlap), until shutdown, which aborts the calls in flight and waits for the pass. It asks
 * with the order's derived payment key, so a payment made before a crash is given back, not made again, and
 * instances that resume the same order at once are safe: the payments service runs that key once.
 * An order is left alone while a request may still be paying it (untouched for less than the payment deadline).
 */
@Injectable()
export class OrderRecovery implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(OrderRecovery.name);
  private readonly stopping = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private pass: Promise<void> | undefined;

  constructor(
    private readonly orders: OrdersService,
    @Inject(ORDERS_CONFIG) private readonly config: OrdersConfig,
  ) {}

  onApplicationBootstrap(): void {
    this.schedule(0);
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopping.abort();
    clearTimeout(this.timer);
    await this.pass;
  }

  /** One pass over the pending orders; resolves how many it settled. */
  async resumePending(): Promise<number> {
    const cutoff = Date.now() - this.config.paymentsDeadlineMs;
    const tried = new Set<string>();
    let settled = 0;
    for (let batch = 0; batch < MAX_BATCHES_PER_PASS && !this.stopping.signal.aborted; batch++) {
      const fresh = (await this.orders.pendingSince(cutoff, BATCH)).filter((order) => !tried.has(order.id));
      if (fresh.length === 0) break;
      fresh.forEach((order) => tried.add(order.id));
      const queue = [...fresh];
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          for (let order = queue.shift(); order && !this.stopping.signal.aborted; order = queue.shift()) {
            if ((await this.resume(order)) !== 'pending') settled++;
          }
        }),
      );
    }
    if (tried.size > 0) this.logger.log(`Resumed ${tried.size} pending order(s): ${settled} settled`);
    return settled;
  }

  private async resume(order: Order): Promise<string> {
    try {
      return (await this.orders.settle(order, this.stopping.signal)).status;
    } catch (error) {
      this.logger.warn(`Order ${order.id} stays pending: ${error instanceof Error ? error.message : String(error)}`);
      return 'pending';
    }
  }

  private schedule(delayMs: number): void {
    this.timer = setTimeout(() => {
      this.pass = this.resumePending()
        .then(() => undefined)
        .catch((error: unknown) =>
          this.logger.warn(`Recovery pass failed: ${error instanceof Error ? error.message : String(error)}`),
        )
        .finally(() => {
          this.pass = undefined;
          if (!this.stopping.signal.aborted) this.schedule(this.config.recoveryIntervalMs);
        });
    }, delayMs);
  }
}
