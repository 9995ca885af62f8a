import { DataSource } from 'typeorm';
import { MysqlDialect } from './mysql.dialect';
import { PostgresDialect } from './postgres.dialect';
import { SqlDialect, SqlDialectFactory } from './sql-dialect';
import { SqliteDialect } from './sqlite.dialect';

// One line per DataSource type the store speaks; a new dialect is one file and one line here.
const DIALECTS: Record<string, SqlDialectFactory> = {
  postgres: (dataSource, tableName) => new PostgresDialect(dataSource, tableName),
  mysql: (dataSource, tableName) => new MysqlDialect(dataSource, tableName),
  mariadb: (dataSource, tableName) => new MysqlDialect(dataSource, tableName),
  'better-sqlite3': (dataSource, tableName) => new SqliteDialect(dataSource, tableName),
};

/** The dialect for `dataSource`'s database; throws for a type the store has no SQL for. */
export function sqlDialectFor(dataSource: DataSource, tableName: string): SqlDialect {
  const type = dataSource.options.type;
  const create = Object.hasOwn(DIALECTS, type) ? DIALECTS[type] : undefined;
  if (!create) {
    const types = Object.keys(DIALECTS);
    throw new Error(
      `TypeOrmIdempotencyStore supports ${types.slice(0, -1).join(', ')} and ${types.at(-1)} DataSources, not '${type}'`,
    );
  }
  return create(dataSource, tableName);
}
