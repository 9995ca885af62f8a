import { TracerProvider } from '@opentelemetry/api';
import { Logger as TypeOrmLogger } from 'typeorm';

/**
 * Stands in for a database instrumentation: a zero-length span per SQL statement TypeORM sends, in the active
 * context, with the statement in `db.query.text`. TypeORM calls it as the query starts, on the caller's async
 * path, so a statement's span shows which span sent it and, by its time, where it fell among the others.
 */
export class QuerySpanLogger implements TypeOrmLogger {
  constructor(private readonly tracerProvider: TracerProvider) {}

  logQuery(query: string): void {
    this.tracerProvider
      .getTracer('query-span-logger')
      .startSpan('db query', { attributes: { 'db.query.text': query } })
      .end();
  }

  logQueryError(): void {}
  logQuerySlow(): void {}
  logSchemaBuild(): void {}
  logMigration(): void {}
  log(): void {}
}
