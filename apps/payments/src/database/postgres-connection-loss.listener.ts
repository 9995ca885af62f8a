import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { OutageLog } from './outage-log';

/**
 * pg-pool drops its own 'error' listener when it hands a new client out, and TypeORM attaches one a tick later: a
 * server that ends the connection in that gap (pg_terminate_backend, a failover) would crash the process with an
 * unhandled 'error'. Every pooled client gets a permanent listener here instead; the failed query itself still
 * rejects, and the pool replaces the connection. The losses of one outage make one line, not one per connection.
 */
@Injectable()
export class PostgresConnectionLossListener implements OnApplicationBootstrap {
  private readonly logger = new Logger('Database');

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  onApplicationBootstrap(): void {
    const pool = (
      this.dataSource.driver as {
        master?: { on(event: 'connect', listener: (client: NodeJS.EventEmitter) => void): void };
      }
    ).master;
    if (this.dataSource.options.type !== 'postgres' || !pool) return;
    const lost = new OutageLog(this.logger, 'connections');
    pool.on('connect', (client) => {
      // A new connection was made: the database is reachable.
      lost.recovered();
      client.on('error', (error: Error) => lost.failed(`PostgreSQL connection lost: ${error.message}`));
    });
  }
}
