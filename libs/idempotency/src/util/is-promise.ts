/**
 * Whether an answer that comes either at once or later is a promise, so the caller awaits only when it must (each
 * await costs a turn of the microtask queue). Any thenable counts: a user's callback may answer with another
 * library's promise.
 */
export function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as Promise<T> | undefined)?.then === 'function';
}
