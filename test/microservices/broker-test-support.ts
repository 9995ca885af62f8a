import { LoggerService } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { IdempotencyEvent } from '@nest-idempotency/core';

/** Polls `condition` every 20 ms until it holds; fails with `what` after `timeoutMs`. */
export async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 5_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** The library's events and warnings, as an app's listener and logger would receive them. */
export class Recorder {
  readonly events: IdempotencyEvent[] = [];
  readonly warnings: string[] = [];
  readonly listener = (event: IdempotencyEvent) => this.events.push(event);
  readonly logger: LoggerService = {
    log() {},
    error() {},
    warn: (message) => this.warnings.push(String(message)),
    debug() {},
    verbose() {},
  };

  /** How many events of `route` ended with one of `outcomes`. */
  count(route: string, ...outcomes: IdempotencyEvent['outcome'][]): number {
    return this.events.filter((event) => event.route === route && outcomes.includes(event.outcome)).length;
  }

  /** Waits until `route` has `total` deliveries answered for good (run and stored, or replayed). */
  async settled(route: string, total: number, timeoutMs = 5_000): Promise<void> {
    await waitFor(
      `${total} settled deliveries of ${route}`,
      () => this.count(route, 'executed', 'replayed') >= total,
      timeoutMs,
    );
  }

  clear(): void {
    this.events.length = 0;
    this.warnings.length = 0;
  }
}
