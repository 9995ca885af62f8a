import { Answer, SqlDialect, StoreCall } from './sql-dialect';
import { isPromise } from '../../util/is-promise';

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
  const run = (): Answer<T> => {
    // It waited its turn longer than its caller waited for it: it must not run any more.
    if (call.abandoned) throw new Error(`TypeOrmIdempotencyStore: ${operation} timed out before its turn came`);
    return work(call);
  };
  // One promise that the answer or the timer settles, whichever comes first: every store call on a pooled database
  // passes here, and a race of two promises with a finally costs several promises more per call.
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      call.abandoned = true;
      reject(
        new Error(`TypeOrmIdempotencyStore: ${operation} got no answer from the database within ${callTimeout} ms`),
      );
    }, callTimeout);
    const answered = (value: T) => {
      clearTimeout(timer);
      resolve(value);
    };
    const failed = (error: unknown) => {
      clearTimeout(timer);
      reject(error);
    };
    try {
      const answer = dialect.exclusive ? dialect.exclusive(async () => run()) : run();
      if (isPromise(answer)) answer.then(answered, failed);
      else answered(answer);
    } catch (error) {
      failed(error);
    }
  });
}
