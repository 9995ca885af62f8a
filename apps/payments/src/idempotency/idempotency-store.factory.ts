import { Logger } from '@nestjs/common';
import { TransactionHost } from '@nestjs-cls/transactional';
import { TransactionalAdapterTypeOrm } from '@nestjs-cls/transactional-adapter-typeorm';
import { DataSource } from 'typeorm';
import { IdempotencyStore, MemoryIdempotencyStore } from '@nest-idempotency/core';
import { RedisIdempotencyStore } from '@nest-idempotency/core/redis';
import { TypeOrmIdempotencyStore } from '@nest-idempotency/core/typeorm';
import { AppConfig } from '../config/app-config';

/**
 * The store IDEMPOTENCY_STORE names: the app's own database (default), Redis (one URL or a Cluster), or memory. On
 * the app's database the transactional mode opens each request's transaction through `transactionHost`, so the
 * services' `@Transactional()` methods run in it.
 */
export function createIdempotencyStore(
  config: AppConfig,
  dataSource: DataSource,
  transactionHost: TransactionHost<TransactionalAdapterTypeOrm>,
): IdempotencyStore {
  switch (config.idempotencyStore) {
    case 'memory':
      new Logger('Idempotency').warn(
        'IDEMPOTENCY_STORE=memory: records live in this process only; do not run several instances',
      );
      // Every merchant is a scope: its share keeps one merchant's flood from evicting another's records.
      return new MemoryIdempotencyStore({
        maxEntries: config.memoryStoreMaxRecords,
        maxEntriesPerScope: config.memoryStoreMaxRecordsPerScope,
      });
    case 'redis': {
      const [first, ...more] = config.redisUrls;
      if (more.length === 0) return new RedisIdempotencyStore(first);
      // Several URLs are a Cluster's seed nodes; credentials and TLS come from the first.
      const nodes = config.redisUrls.map((url) => {
        const parsed = new URL(url);
        return { host: parsed.hostname, port: Number(parsed.port || 6379) };
      });
      const seed = new URL(first);
      const redisOptions = {
        username: decodeURIComponent(seed.username) || undefined,
        password: decodeURIComponent(seed.password) || undefined,
        tls: seed.protocol === 'rediss:' ? {} : undefined,
      };
      return new RedisIdempotencyStore({ cluster: nodes, options: { redisOptions } });
    }
    case 'typeorm':
      return new TypeOrmIdempotencyStore(dataSource, { transactionHost });
  }
}
