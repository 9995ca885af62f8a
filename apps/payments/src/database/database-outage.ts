// PostgreSQL SQLSTATEs that say "the database could not do it now", not "this request is wrong": the server
// ended the session (57P0x), a bound cancelled the statement (57014 statement_timeout, 55P03 lock_timeout,
// 25P03 idle_in_transaction_session_timeout), the transaction lost a race it may win on a retry (40001, 40P01),
// or the server is full (53300). Class 08 (connection exceptions) is matched by prefix.
const POSTGRES_OUTAGE_CODES = new Set([
  '57P01',
  '57P02',
  '57P03',
  '57P04',
  '57P05',
  '57014',
  '55P03',
  '25P03',
  '40001',
  '40P01',
  '53300',
]);

// MySQL/MariaDB server errors of the same kinds: lock wait timeout (1205), deadlock (1213), MariaDB
// max_statement_time (1969), MySQL max_execution_time (3024), connection killed (1927), server shutting down
// (1053), too many connections (1040), and the client-side "server gone away" / "lost connection" (2006, 2013).
const MYSQL_OUTAGE_ERRNOS = new Set([1205, 1213, 1969, 3024, 1927, 1053, 1040, 2006, 2013]);

// Driver and socket codes of a link that is down or a wait that ran out: mysql2's lost connection and query
// timeout, the app's bounded pool wait (mysql-session-bounds.ts), SQLite's lock held by another connection.
const OUTAGE_CODES = new Set([
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'POOL_WAIT_TIMEOUT',
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);

// node-postgres and pg-pool raise these as plain Errors, without a code.
const POSTGRES_CLIENT_OUTAGE_MESSAGE =
  /^(Connection terminated|timeout exceeded when trying to connect|Query read timeout|Client has encountered a connection error|Client was closed and is not queryable)/;

// TypeORM releases a PostgreSQL query runner as soon as its connection reports an error (a terminated backend);
// the transaction's next statement, its COMMIT, or a savepoint opened on it (an EntityManager's transaction())
// then fails with one of these instead of the connection's own error. The app never holds a query runner of its
// own, so they have no other cause here.
const RELEASED_RUNNER_ERRORS = new Set(['QueryRunnerAlreadyReleasedError', 'QueryRunnerProviderAlreadyReleasedError']);

interface DriverErrorShape {
  name?: unknown;
  code?: unknown;
  errno?: unknown;
  fatal?: unknown;
  message?: unknown;
  driverError?: unknown;
}

/**
 * Whether `error` (a TypeORM QueryFailedError or a driver's own error) means the database was unreachable, too
 * slow or busy (a lost connection, a lock, statement or pool wait that ran out, SQLITE_BUSY), so the same request
 * may well succeed a moment later: a retryable outage (503), not a bug (500).
 */
export function isDatabaseOutage(error: unknown): boolean {
  for (let candidate = error as DriverErrorShape | undefined, depth = 0; candidate && depth < 3; depth++) {
    if (typeof candidate !== 'object') return false;
    const { name, code, errno, fatal, message } = candidate;
    if (typeof name === 'string' && RELEASED_RUNNER_ERRORS.has(name)) return true;
    if (typeof code === 'string') {
      if (POSTGRES_OUTAGE_CODES.has(code) || /^08[0-9A-Z]{3}$/.test(code) || OUTAGE_CODES.has(code)) return true;
      if (code.startsWith('SQLITE_BUSY')) return true;
    }
    if (typeof errno === 'number' && MYSQL_OUTAGE_ERRNOS.has(errno)) return true;
    // mysql2 marks an error after which the connection is unusable as fatal.
    if (fatal === true) return true;
    if (typeof message === 'string' && POSTGRES_CLIENT_OUTAGE_MESSAGE.test(message)) return true;
    candidate = candidate.driverError as DriverErrorShape | undefined;
  }
  return false;
}
