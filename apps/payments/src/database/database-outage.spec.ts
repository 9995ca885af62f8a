import { QueryFailedError, QueryRunnerAlreadyReleasedError, QueryRunnerProviderAlreadyReleasedError } from 'typeorm';
import { isDatabaseOutage } from './database-outage';

const driverError = (fields: Record<string, unknown>, message = 'driver error') =>
  Object.assign(new Error(message), fields);
const queryFailed = (fields: Record<string, unknown>, message?: string) =>
  new QueryFailedError('SELECT 1', [], driverError(fields, message));

describe('isDatabaseOutage', () => {
  it.each([
    ['PostgreSQL lock_timeout', queryFailed({ code: '55P03' })],
    ['PostgreSQL statement_timeout', queryFailed({ code: '57014' })],
    ['PostgreSQL admin shutdown (pg_terminate_backend)', queryFailed({ code: '57P01' })],
    ['PostgreSQL crash shutdown', queryFailed({ code: '57P02' })],
    ['PostgreSQL cannot connect now', driverError({ code: '57P03' })],
    ['PostgreSQL connection exception (class 08)', queryFailed({ code: '08006' })],
    ['PostgreSQL serialization failure', queryFailed({ code: '40001' })],
    ['PostgreSQL deadlock', queryFailed({ code: '40P01' })],
    ['node-postgres lost connection', queryFailed({}, 'Connection terminated unexpectedly')],
    ['node-postgres connect timeout', new Error('Connection terminated due to connection timeout')],
    ['pg-pool wait timeout', new Error('timeout exceeded when trying to connect')],
    ['node-postgres query_timeout', new Error('Query read timeout')],
    ['node-postgres broken client', new Error('Client has encountered a connection error and is not queryable')],
    ['a TypeORM query runner released by its lost connection', new QueryRunnerAlreadyReleasedError()],
    [
      'a savepoint opened on a query runner released by its lost connection',
      new QueryRunnerProviderAlreadyReleasedError(),
    ],
    ['a refused connection', driverError({ code: 'ECONNREFUSED' })],
    ['a reset connection', driverError({ code: 'ECONNRESET' })],
    ['MariaDB lock wait timeout', queryFailed({ code: 'ER_LOCK_WAIT_TIMEOUT', errno: 1205 })],
    ['MariaDB max_statement_time', queryFailed({ code: 'ER_STATEMENT_TIMEOUT', errno: 1969 })],
    ['MySQL deadlock', queryFailed({ code: 'ER_LOCK_DEADLOCK', errno: 1213 })],
    ['mysql2 lost connection', queryFailed({ code: 'PROTOCOL_CONNECTION_LOST', fatal: true })],
    [
      'mysql2 closed connection',
      driverError({ fatal: true }, "Can't add new command when connection is in closed state"),
    ],
    ['mysql2 query timeout', queryFailed({ code: 'PROTOCOL_SEQUENCE_TIMEOUT' })],
    ['the bounded mysql2 pool wait', driverError({ code: 'POOL_WAIT_TIMEOUT' })],
    ['SQLITE_BUSY', queryFailed({ code: 'SQLITE_BUSY' })],
    ['SQLITE_BUSY_SNAPSHOT', driverError({ code: 'SQLITE_BUSY_SNAPSHOT' })],
  ])('counts %s as an outage', (_name, error) => {
    expect(isDatabaseOutage(error)).toBe(true);
  });

  it.each([
    ['a unique violation', queryFailed({ code: '23505' })],
    ['PostgreSQL invalid byte sequence', queryFailed({ code: '22021' })],
    ['a MySQL duplicate key', queryFailed({ code: 'ER_DUP_ENTRY', errno: 1062 })],
    ['a MySQL syntax error', queryFailed({ code: 'ER_PARSE_ERROR', errno: 1064 })],
    ['an SQLite constraint', queryFailed({ code: 'SQLITE_CONSTRAINT_UNIQUE' })],
    ['a programming error', new TypeError("Cannot read properties of undefined (reading 'id')")],
    ['a string', 'Connection terminated'],
    ['nothing', undefined],
  ])('does not count %s', (_name, error) => {
    expect(isDatabaseOutage(error)).toBe(false);
  });
});
