import { DeferredSettlementResult } from '../options/idempotency.events';

/** What a store failure cost one call: refused (503), run unprotected (failOpen), or a settlement left for later. */
export type StoreFailureEffect = 'refused' | 'unprotected' | 'complete_deferred' | 'release_deferred' | 'rolled_back';

/** The part of Nest's `Logger` the report writes to. */
export interface OutageLogger {
  log(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

const EFFECTS: Record<StoreFailureEffect, string> = {
  refused: 'refused',
  unprotected: 'ran UNPROTECTED (failOpen)',
  complete_deferred: 'result sent, stored later',
  release_deferred: 'record released later',
  rolled_back: 'transaction failed, rolled back',
};

/** Routes named per line at most; a store shared by many routes still gives one short line. */
const MAX_ROUTES = 10;

/** One outage of one store, from its first failure to its first success. */
class Outage {
  /** `performance.now()` at the first failure. */
  readonly since = performance.now();
  /** Per route, per effect: the calls of this interval, and of the whole outage. */
  private interval = new Map<string, Map<string, number>>();
  private readonly total = new Map<string, Map<string, number>>();
  lastReason: string;

  constructor(reason: string) {
    this.lastReason = reason;
  }

  count(route: string, what: string): void {
    for (const counts of [this.interval, this.total]) {
      const perRoute = counts.get(route) ?? new Map<string, number>();
      perRoute.set(what, (perRoute.get(what) ?? 0) + 1);
      counts.set(route, perRoute);
    }
  }

  /** This interval's counts as text ('' when nothing happened), and a fresh interval. */
  takeInterval(): string {
    const text = describeCounts(this.interval);
    this.interval = new Map();
    return text;
  }

  totals(): string {
    return describeCounts(this.total) || 'no calls';
  }
}

/**
 * Reports a store outage in the log as one line when it starts, one line per interval with what it cost (calls
 * refused or run unprotected per route, settlements left for later or given up), and one line when the store
 * answers again, with its duration and totals: one ERROR per request and one WARN per deferred settlement made a
 * 40-second database outage print some 300 lines. The `events` hook still sees every request.
 */
export class StoreOutageReports {
  private readonly ongoing = new Map<object, Outage>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly logger: OutageLogger,
    private readonly intervalMs = 10_000,
  ) {}

  /** A store call failed for `route`; the first failure of an outage is logged at once, the others counted. */
  failed(store: object, route: string, effect: StoreFailureEffect, reason: string): void {
    const outage = this.ongoing.get(store);
    if (outage) {
      outage.lastReason = reason;
      outage.count(route, EFFECTS[effect]);
      return;
    }
    const started = new Outage(reason);
    started.count(route, EFFECTS[effect]);
    this.ongoing.set(store, started);
    started.takeInterval();
    this.logger.error(
      `${nameOf(store)} unavailable (${reason}): ${route} ${EFFECTS[effect]}. ` +
        `Further failures are counted and reported every ${this.intervalMs / 1000} s until the store answers again.`,
    );
    this.timer ??= setInterval(() => this.reportIntervals(), this.intervalMs).unref();
  }

  /**
   * A store call that started at `startedAt` (`performance.now()`) succeeded: the outage of that store, if any, is
   * over, unless the call started before it (a call in flight when the link went can still succeed). Cheap when no
   * outage is going on.
   */
  succeeded(store: object, startedAt: number): void {
    if (this.ongoing.size === 0) return;
    const outage = this.ongoing.get(store);
    if (!outage || startedAt < outage.since) return;
    this.ongoing.delete(store);
    if (this.ongoing.size === 0) this.stopTimer();
    const seconds = ((performance.now() - outage.since) / 1000).toFixed(1);
    this.logger.log(`${nameOf(store)} answers again after ${seconds} s; in all: ${outage.totals()}`);
  }

  /**
   * How a release or completion made later ended. During an outage it is counted in the report; otherwise it
   * gets a line of its own, a warning when the record it concerns stays in flight or went to another request.
   */
  deferredSettled(
    store: object,
    route: string,
    action: 'release' | 'complete',
    result: DeferredSettlementResult,
    reason: string,
  ): void {
    const outage = this.ongoing.get(store);
    if (outage) return outage.count(route, `deferred ${action} ${result.replace('_', ' ')}`);
    // A release that finds no record after an acquire that failed is the common, harmless case.
    if (result === 'settled' || (result === 'not_owned' && action === 'release'))
      this.logger.log(`${route}: ${reason}`);
    else if (result === 'not_owned') this.logger.warn(`${route}: ${reason}; another request took the record over`);
    else this.logger.warn(`${route}: ${reason}; the record stays in flight until its lease ends`);
  }

  /** Reports the outages still going on, and stops the timer. */
  stop(): void {
    this.stopTimer();
    for (const [store, outage] of this.ongoing) {
      const seconds = ((performance.now() - outage.since) / 1000).toFixed(1);
      this.logger.warn(
        `${nameOf(store)} still unavailable at shutdown, after ${seconds} s; in all: ${outage.totals()}`,
      );
    }
    this.ongoing.clear();
  }

  private reportIntervals(): void {
    for (const [store, outage] of this.ongoing) {
      const counts = outage.takeInterval();
      if (!counts) continue;
      const seconds = Math.round((performance.now() - outage.since) / 1000);
      this.logger.error(
        `${nameOf(store)} still unavailable after ${seconds} s (${outage.lastReason}); ` +
          `in the last ${this.intervalMs / 1000} s: ${counts}`,
      );
    }
  }

  private stopTimer(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}

/** `POST /payments: 12 refused (503), 1 deferred release gave up; event payment.requested: 3 refused (503)`. */
function describeCounts(counts: Map<string, Map<string, number>>): string {
  const routes = [...counts].map(
    ([route, perEffect]) => `${route}: ${[...perEffect].map(([what, n]) => `${n} ${what}`).join(', ')}`,
  );
  const more = routes.length > MAX_ROUTES ? `; and ${routes.length - MAX_ROUTES} more routes` : '';
  return routes.slice(0, MAX_ROUTES).join('; ') + more;
}

function nameOf(store: object): string {
  return `The idempotency store (${store.constructor.name})`;
}
