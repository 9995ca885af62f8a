/*
 * The bench's own app: one trivial JSON POST handler, guarded by the library (built from source through the
 * `@nest-idempotency/core` alias) on the store BENCH_STORE names, unguarded (`none`), or behind an interceptor that only
 * calls `next.handle()` (`interceptor`: what Nest charges any interceptor). All are the same handler on the same
 * route with the same request pipeline; the only difference is the decorator.
 *
 * The same source runs on Nest 11 (through ts-node, from the repository's node_modules) and on Nest 12 (compiled,
 * with plain node, from bench/nest12; see bench/lib/nest12.ts), so it must not depend on either major's specifics.
 *
 *   BENCH_STORE        none | interceptor | interceptor-async | memory | redis | postgres | postgres-tx | mariadb | sqlite
 *                      (postgres-tx: the TypeORM store in the transactional mode), or a SQL floor: postgres-floor |
 *                      postgres-tx-floor | mariadb-floor | sqlite-floor (the same statements on the bare driver, no
 *                      library: bench/apps/sql-floor.ts)
 *   BENCH_REDIS_URL    for redis
 *   BENCH_UNDER_CALLGRIND  1: counted under callgrind (bench/lib/instruction-phase.ts), so the Redis store waits 30 s,
 *                      not 1 s, before it gives a call up
 *   BENCH_SQL_URL      postgres://…, mysql://… or a file path for sqlite
 *   BENCH_LOCAL_CACHE  a number: the module's `localCache: { maxEntries }` (replays served in process); unset: off
 *   BENCH_RESPONSE_BYTES  a number: the order is answered with line items adding up to about that many bytes
 *   BENCH_COMPRESSION  off: the module's `compression: false` (stored responses kept as JSON); unset: the default
 *   BENCH_ENCRYPTION   on: stored responses encrypted at rest under a random key; unset: off
 *   BENCH_TELEMETRY    metrics | traces: the OpenTelemetry SDK registered first (bench/apps/bench-telemetry.ts)
 *   BENCH_MEMORY_PREFILL  a number: the memory store gets that `maxEntries` and is filled to it with completed
 *                      records before the app listens, so every fresh key evicts one (the store measured full)
 */
import 'reflect-metadata';
import {
  Body,
  CallHandler,
  Controller,
  DynamicModule,
  ExecutionContext,
  Injectable,
  NestInterceptor,
  Post,
  UseInterceptors,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { from, lastValueFrom } from 'rxjs';
import { DataSource, DataSourceOptions } from 'typeorm';
import { Idempotent, IdempotencyModule, IdempotencyStore, MemoryIdempotencyStore } from '@nest-idempotency/core';
import { RedisIdempotencyStore } from '@nest-idempotency/core/redis';
import { CreateIdempotencyRecords1764259200000, TypeOrmIdempotencyStore } from '@nest-idempotency/core/typeorm';
import { randomBytes } from 'node:crypto';
import { AcquireRecorder, serveBenchApp } from './app-process';
import { startBenchTelemetry } from './bench-telemetry';
import { createOrder, OrderBody, positiveInteger } from './create-order';
import { isSqlFloorKind, openSqlFloor, sqlFloorModule, SqlFloorKind } from './sql-floor';
import { prefillMemoryStore } from './memory-prefill';

const recorder = new AcquireRecorder();

@Controller('orders')
class UnguardedOrdersController {
  @Post()
  create(@Body() body: OrderBody) {
    return createOrder(body);
  }
}

@Injectable()
class PassThroughInterceptor implements NestInterceptor {
  intercept(_context: ExecutionContext, next: CallHandler) {
    return next.handle();
  }
}

@Controller('orders')
class PassThroughOrdersController {
  @Post()
  @UseInterceptors(PassThroughInterceptor)
  create(@Body() body: OrderBody) {
    return createOrder(body);
  }
}

/**
 * A pass-through that awaits one resolved promise before the handler and one after it, as any guard that awaits a
 * store must: the floor of an interceptor that answers with a promise rather than the handler's Observable.
 */
@Injectable()
class AsyncPassThroughInterceptor implements NestInterceptor {
  intercept(_context: ExecutionContext, next: CallHandler) {
    return from(
      (async () => {
        await Promise.resolve();
        const value = await lastValueFrom(next.handle());
        await Promise.resolve();
        return value;
      })(),
    );
  }
}

@Controller('orders')
class AsyncPassThroughOrdersController {
  @Post()
  @UseInterceptors(AsyncPassThroughInterceptor)
  create(@Body() body: OrderBody) {
    return createOrder(body);
  }
}

@Controller('orders')
class GuardedOrdersController {
  @Post()
  @Idempotent()
  create(@Body() body: OrderBody) {
    return createOrder(body);
  }
}

const STORE_KINDS = [
  'none',
  'interceptor',
  'interceptor-async',
  'memory',
  'redis',
  'postgres',
  'postgres-tx',
  'mariadb',
  'sqlite',
] as const;
type StoreKind = (typeof STORE_KINDS)[number];

async function createStore(
  kind: Exclude<StoreKind, 'none' | 'interceptor' | 'interceptor-async'>,
  closers: Array<() => Promise<void>>,
): Promise<IdempotencyStore> {
  switch (kind) {
    case 'memory': {
      const prefill = positiveInteger('BENCH_MEMORY_PREFILL');
      // Sized for every request of the run (rate × duration), as its doc says to size it (rate × ttl); or, to
      // measure it full, sized to the prefill.
      if (prefill === undefined) return new MemoryIdempotencyStore({ maxEntries: 2_000_000 });
      const store = new MemoryIdempotencyStore({ maxEntries: prefill });
      await prefillMemoryStore(store, prefill);
      return store;
    }
    case 'redis':
      // Under callgrind the app runs some thirty times slower, and a collection in a store call's round trip can
      // outlast the default 1 s: a 503 the instruction count would have to throw away. The timer's work is the same.
      return new RedisIdempotencyStore(required('BENCH_REDIS_URL'), {
        commandTimeout: process.env.BENCH_UNDER_CALLGRIND === '1' ? 30_000 : undefined,
      });
    case 'postgres':
    case 'postgres-tx':
    case 'mariadb':
    case 'sqlite': {
      const options: DataSourceOptions =
        kind === 'sqlite'
          ? { type: 'better-sqlite3', database: required('BENCH_SQL_URL'), enableWAL: true }
          : kind === 'mariadb'
            ? // The test suites' MariaDB DataSource (test/support/typeorm-data-sources.ts): mysql2 under TypeORM.
              { type: 'mariadb', url: required('BENCH_SQL_URL'), poolSize: 20 }
            : { type: 'postgres', url: required('BENCH_SQL_URL'), poolSize: kind === 'postgres' ? 20 : 10 };
      const dataSource = new DataSource({
        ...options,
        migrations: [CreateIdempotencyRecords1764259200000],
        migrationsRun: true,
        logging: false,
      });
      await dataSource.initialize();
      closers.push(() => dataSource.destroy());
      return new TypeOrmIdempotencyStore(dataSource);
    }
  }
}

function localCacheOption(): { localCache?: { maxEntries: number } } {
  const maxEntries = positiveInteger('BENCH_LOCAL_CACHE');
  return maxEntries === undefined ? {} : { localCache: { maxEntries } };
}

/** The storage options BENCH_COMPRESSION and BENCH_ENCRYPTION ask for (spread in, like `localCache`). */
function storedFormOptions(): Record<string, unknown> {
  const options: Record<string, unknown> = {};
  const compression = process.env.BENCH_COMPRESSION;
  if (compression === 'off') options.compression = false;
  else if (compression) throw new Error(`BENCH_COMPRESSION must be off or unset, got ${compression}`);
  const encryption = process.env.BENCH_ENCRYPTION;
  if (encryption === 'on') options.encryption = { keys: { bench: randomBytes(32) }, current: 'bench' };
  else if (encryption) throw new Error(`BENCH_ENCRYPTION must be on or unset, got ${encryption}`);
  return options;
}

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

async function start() {
  const kind = (process.env.BENCH_STORE ?? 'none') as StoreKind | SqlFloorKind;
  if (!(STORE_KINDS as readonly string[]).includes(kind) && !isSqlFloorKind(kind))
    throw new Error(`unknown BENCH_STORE ${kind}`);
  // Before Nest starts, as an app's tracing bootstrap does, so that the library finds the global providers.
  const stopTelemetry = startBenchTelemetry(process.env.BENCH_TELEMETRY);
  const closers: Array<() => Promise<void>> = [stopTelemetry];
  let module: DynamicModule;
  if (kind === 'none') {
    module = { module: class UnguardedBenchModule {}, controllers: [UnguardedOrdersController] };
  } else if (kind === 'interceptor') {
    module = { module: class PassThroughBenchModule {}, controllers: [PassThroughOrdersController] };
  } else if (kind === 'interceptor-async') {
    module = { module: class AsyncPassThroughBenchModule {}, controllers: [AsyncPassThroughOrdersController] };
  } else if (isSqlFloorKind(kind)) {
    const floor = await openSqlFloor(kind, required('BENCH_SQL_URL'));
    closers.push(() => floor.close());
    // The harness checks outcomes: the floor reports each request it completed as the library would.
    module = sqlFloorModule(floor, (claimMs) => recorder.record({ outcome: 'executed', acquireMs: claimMs }));
  } else {
    const store = await createStore(kind, closers);
    const localCache = localCacheOption();
    module = {
      module: class GuardedBenchModule {},
      // `localCache` is spread in rather than written out so that this compiles against a library with or without
      // the option; the harness checks that it took effect (replays that reach Redis fail the run).
      imports: [
        IdempotencyModule.forRoot({
          store,
          transactional: kind === 'postgres-tx',
          events: recorder.record,
          ...localCache,
          ...storedFormOptions(),
        }),
      ],
      controllers: [GuardedOrdersController],
    };
  }
  const app = await NestFactory.create(module, { logger: ['error', 'warn'] });
  await app.listen(0, '127.0.0.1');
  const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  return {
    url,
    close: async () => {
      await app.close();
      for (const close of closers) await close();
    },
  };
}

serveBenchApp(start, recorder);
