import { LoggerService, Provider } from '@nestjs/common';
import { Test, TestingModule } from '@nestjs/testing';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  IdempotencyEvent,
  IdempotencyModule,
  IdempotencyModuleOptions,
  MemoryIdempotencyStore,
} from '@nest-idempotency/core';
import { LedgerController } from './ledger.controller';

/** Polls `condition` every 20 ms until it holds; fails with `what` after `timeoutMs`. */
export async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 5_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

/**
 * Waits until a request-reply to the consumer gets an answer. A NATS consumer subscribes on its own connection: an
 * event published before its subscriptions land goes nowhere, and a reply proves they have.
 */
export function waitForConsumer(request: () => Promise<unknown>, timeoutMs?: number): Promise<void> {
  return waitFor(
    'the consumer to answer',
    () =>
      request().then(
        () => true,
        () => false,
      ),
    timeoutMs,
  );
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

/**
 * The ledger consumer's module, compiled: the library on a memory store, reporting to `recorder`, with a short lease
 * and `Retry-After` so that duplicates settle quickly; `options` and `providers` add to it.
 */
export function compileLedger(
  recorder: Recorder,
  options: Partial<IdempotencyModuleOptions> = {},
  providers: Provider[] = [],
): Promise<TestingModule> {
  return Test.createTestingModule({
    imports: [
      IdempotencyModule.forRoot({
        store: new MemoryIdempotencyStore(),
        lockTimeout: 2_000,
        retryAfter: 100,
        events: recorder.listener,
        ...options,
      }),
    ],
    controllers: [LedgerController],
    providers,
  }).compile();
}
