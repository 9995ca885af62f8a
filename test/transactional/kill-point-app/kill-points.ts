/**
 * Where the fixture's process may die, in the order a request passes them. `after-commit` is the first moment
 * after the business writes are durable: in the transactional mode that is after the idempotency interceptor
 * (the record commits with them); otherwise right after the handler's own transaction commits, before the
 * record is completed — the window the transactional mode closes.
 */
export const KILL_POINTS = ['after-acquire', 'before-commit', 'after-commit', 'after-response'] as const;
export type KillPoint = (typeof KILL_POINTS)[number];

/** Header naming the point at which this request's process dies (not fingerprinted, so retries match). */
export const KILL_HEADER = 'x-kill-at';

/** Dies at once, as a power cut would: no shutdown hook, no rollback sent by the app. */
export function dieIf(requested: string | undefined, point: KillPoint): void {
  if (requested === point) process.kill(process.pid, 'SIGKILL');
}
