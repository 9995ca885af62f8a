import { setTimeout as sleep } from 'node:timers/promises';
import { DeferredSettlementResult } from '../options/idempotency.events';

/** A store call that failed, made again later on behalf of a caller who has already had its answer. */
export interface DeferredSettlement {
  /** Makes the (token-checked) call; resolves true when it took effect, false when the token owns no record. */
  attempt: () => Promise<boolean>;
  /**
   * Whether a `false` may still turn into `true`: an acquire that timed out can write its record after the
   * first attempt to release it (a paused Redis runs the script later, another pooled connection commits it
   * later), so such a release keeps trying until the deadline.
   */
  retryWhenNotOwned: boolean;
  /** Epoch milliseconds after which no attempt starts: the lease's end, when a retry may take over anyway. */
  deadline: number;
  /** Memory the call holds (a response to store), counted against the queue's bound. */
  bytes: number;
  /** Told once how it ended, with the number of attempts made and the last error, if any. */
  onSettled: (result: DeferredSettlementResult, attempts: number, lastError?: unknown) => void;
}

/** Bounds of the queue: pending calls, the bytes they hold, and attempts per call. */
export interface DeferredSettlementLimits {
  maxPending: number;
  maxBytes: number;
  maxAttempts: number;
}

const DEFAULT_LIMITS: DeferredSettlementLimits = { maxPending: 10_000, maxBytes: 64 * 1024 * 1024, maxAttempts: 16 };

// The first attempt soon (a paused Redis runs it right after the late acquire), then back off.
const FIRST_DELAY_MS = 100;
const MAX_DELAY_MS = 5_000;

interface Entry {
  settlement: DeferredSettlement;
  attempts: number;
  delayMs: number;
  lastError?: unknown;
  timer?: NodeJS.Timeout;
  running?: Promise<void>;
}

/**
 * Makes failed releases and completions again, in the background, so that a 503 or a store hiccup after the
 * work does not leave a key blocked for a whole lease. Bounded in memory (pending calls and bytes: past them
 * a call is dropped, and its record blocks only until its lease ends), in time (each call stops at its
 * deadline) and in attempts; timers never hold the process open, and `stop()` makes one last attempt each.
 */
export class DeferredSettlementQueue {
  private readonly pending = new Set<Entry>();
  private bytes = 0;
  private stopped = false;

  constructor(private readonly limits: DeferredSettlementLimits = DEFAULT_LIMITS) {}

  /** Calls pending now, for tests and health figures. */
  get size(): number {
    return this.pending.size;
  }

  /** Queues `settlement`; reports `dropped` at once when the queue is stopped or full. */
  schedule(settlement: DeferredSettlement): void {
    const { maxPending, maxBytes } = this.limits;
    if (this.stopped || this.pending.size >= maxPending || this.bytes + settlement.bytes > maxBytes) {
      settlement.onSettled('dropped', 0);
      return;
    }
    const entry: Entry = { settlement, attempts: 0, delayMs: FIRST_DELAY_MS };
    this.pending.add(entry);
    this.bytes += settlement.bytes;
    this.arm(entry);
  }

  /** Cancels the timers and makes one last attempt for each pending call, waiting at most `timeoutMs`. */
  async stop(timeoutMs = 1_000): Promise<void> {
    this.stopped = true;
    const running = [...this.pending].map((entry) => {
      if (entry.timer) {
        clearTimeout(entry.timer);
        entry.timer = undefined;
        entry.running = this.attempt(entry);
      }
      return entry.running;
    });
    await Promise.race([Promise.allSettled(running), sleep(timeoutMs, undefined, { ref: false })]);
    for (const entry of [...this.pending]) this.finish(entry, 'gave_up');
  }

  private arm(entry: Entry): void {
    const wait = Math.max(0, Math.min(entry.delayMs, entry.settlement.deadline - Date.now()));
    entry.timer = setTimeout(() => {
      entry.timer = undefined;
      entry.running = this.attempt(entry);
    }, wait);
    entry.timer.unref();
  }

  private async attempt(entry: Entry): Promise<void> {
    entry.attempts++;
    let tookEffect: boolean | undefined;
    try {
      tookEffect = await entry.settlement.attempt();
    } catch (error) {
      entry.lastError = error;
    }
    if (!this.pending.has(entry)) return; // stop() gave up on it meanwhile
    if (tookEffect === true) return this.finish(entry, 'settled');
    if (tookEffect === false && !entry.settlement.retryWhenNotOwned) return this.finish(entry, 'not_owned');
    const exhausted =
      this.stopped || Date.now() >= entry.settlement.deadline || entry.attempts >= this.limits.maxAttempts;
    if (exhausted) return this.finish(entry, tookEffect === false ? 'not_owned' : 'gave_up');
    entry.delayMs = Math.min(entry.delayMs * 2, MAX_DELAY_MS);
    this.arm(entry);
  }

  private finish(entry: Entry, result: DeferredSettlementResult): void {
    if (!this.pending.delete(entry)) return;
    if (entry.timer) clearTimeout(entry.timer);
    this.bytes -= entry.settlement.bytes;
    entry.settlement.onSettled(result, entry.attempts, result === 'settled' ? undefined : entry.lastError);
  }
}
