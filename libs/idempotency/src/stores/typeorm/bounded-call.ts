import { Answer, SqlDialect, StoreCall } from './sql-dialect';

// A call that runs synchronously to its end has nobody to abandon it.
const AT_ONCE: StoreCall = Object.freeze({ abandoned: false });

/**
 * Runs one store call and rejects once `callTimeout` has passed, as the Redis store does: a pool that has no
 * connection to give or a row lock held elsewhere makes a 503, not a hung request. A call the dialect can run
 * at once and synchronously (SQLite, connection free) has nothing to wait for, so it runs without a timer.
 */
export function boundedCall<T>(
  dialect: SqlDialect,
  operation: string,
  callTimeout: number,
  work: (call: StoreCall) => Answer<T>,
): Promise<T> {
  if (dialect.isFree?.()) {
    try {
      return Promise.resolve(work(AT_ONCE));
    } catch (error) {
      return Promise.reject(error);
    }
  }
  const call: StoreCall = { abandoned: false };
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      call.abandoned = true;
      reject(
        new Error(`TypeOrmIdempotencyStore: ${operation} got no answer from the database within ${callTimeout} ms`),
      );
    }, callTimeout);
  });
  const run = async () => {
    // It waited its turn longer than its caller waited for it: it must not run any more.
    if (call.abandoned) throw new Error(`TypeOrmIdempotencyStore: ${operation} timed out before its turn came`);
    return work(call);
  };
  return Promise.race([dialect.exclusive ? dialect.exclusive(run) : run(), timeout]).finally(() => clearTimeout(timer));
}
