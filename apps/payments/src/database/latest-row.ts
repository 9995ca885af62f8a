import { FindOptionsWhere, ObjectLiteral, Repository } from 'typeorm';

/**
 * The row matching `where` as last committed (or written by this transaction): the winner of a race decided by a
 * unique index. A locking read on MySQL/MariaDB, where a plain one inside an older REPEATABLE READ transaction
 * would read that transaction's snapshot, taken before the winner committed. TypeORM runs locking reads only
 * inside a transaction.
 */
export function findLatest<T extends ObjectLiteral>(
  repository: Repository<T>,
  where: FindOptionsWhere<T>,
): Promise<T | null> {
  const type = repository.manager.connection.options.type;
  const lock = type === 'mysql' || type === 'mariadb' ? { lock: { mode: 'pessimistic_read' as const } } : {};
  return repository.findOne({ where, ...lock });
}
