/** One call under watch, linked in start order; unlinked as soon as it settles, so nothing settled is kept. */
interface WatchedCall {
  readonly deadline: number;
  expire(): void;
  previous: WatchedCall | undefined;
  next: WatchedCall | undefined;
}

/**
 * Bounds the time of a store's calls, which all share one timeout, without a timer per call: calls are watched in
 * the order they start, so their deadlines are in order too, and one timer, ticking at a tenth of the timeout while
 * any call is watched, rejects those whose deadline has passed. A call is rejected between its timeout and 1.1 times
 * it. Per call this costs linking and unlinking one entry, where a timer of its own and a race against it cost a
 * timer-list insert and removal, two more promises and a `finally`.
 */
export class CallDeadlines {
  private oldest: WatchedCall | undefined;
  private newest: WatchedCall | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly tickMs: number;

  constructor(private readonly timeoutMs: number) {
    this.tickMs = Math.max(1, Math.ceil(timeoutMs / 10));
  }

  /**
   * Settles as `work` does, or rejects with `timeoutError()` once the timeout has passed. `onExpired` runs when the
   * call is given up, before the rejection, so the work can know that nobody waits for it any more.
   */
  bound<T>(work: Promise<T>, timeoutError: () => Error, onExpired?: () => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const call: WatchedCall = {
        deadline: Date.now() + this.timeoutMs,
        expire: () => {
          onExpired?.();
          reject(timeoutError());
        },
        previous: this.newest,
        next: undefined,
      };
      this.watch(call);
      work.then(
        (value) => {
          this.unwatch(call);
          resolve(value);
        },
        (error: unknown) => {
          this.unwatch(call);
          reject(error);
        },
      );
    });
  }

  private watch(call: WatchedCall): void {
    if (this.newest) this.newest.next = call;
    else this.oldest = call;
    this.newest = call;
    if (!this.timer) {
      this.timer = setInterval(() => this.expireDue(), this.tickMs);
      // Watching never keeps a process alive: a call in flight holds its own socket or timer.
      this.timer.unref();
    }
  }

  /** Unlinks a call; one already unlinked (expired, then settled) is left alone. */
  private unwatch(call: WatchedCall): void {
    if (call.previous === undefined && this.oldest !== call) return;
    if (call.previous) call.previous.next = call.next;
    else this.oldest = call.next;
    if (call.next) call.next.previous = call.previous;
    else this.newest = call.previous;
    call.previous = call.next = undefined;
  }

  private expireDue(): void {
    const now = Date.now();
    while (this.oldest && this.oldest.deadline <= now) {
      const call = this.oldest;
      this.unwatch(call);
      call.expire();
    }
    if (!this.oldest) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}
