/*
 * The floor of each SQL store (issue 21): the trivial app's route, handler and body, guarded not by `@Idempotent()`
 * but by a small hand-written interceptor that sends, per request, exactly the statements `TypeOrmIdempotencyStore`
 * sends for a fresh key, with the same SQL, on the bare driver (pg, mysql2, better-sqlite3), and stores the same
 * bytes. Nothing of the library runs: what a guarded variant costs above its floor is the library's.
 *
 * A floor serves fresh keys only, which is all the bench sends it: a key already there answers 409.
 * The engines live in their own files (bench/apps/sql-floor-*.ts), loaded only when asked for, so that the Nest 12
 * install, which has no mysql2, can run this file too.
 */
import { createHash, randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import {
  BadRequestException,
  Body,
  CallHandler,
  ConflictException,
  Controller,
  DynamicModule,
  ExecutionContext,
  Inject,
  Injectable,
  NestInterceptor,
  Post,
  UseInterceptors,
} from '@nestjs/common';
import { from, lastValueFrom, Observable } from 'rxjs';
import { createOrder, OrderBody } from './create-order';

/** The BENCH_STORE values of the floors. */
export const SQL_FLOOR_KINDS = ['postgres-floor', 'postgres-tx-floor', 'mariadb-floor', 'sqlite-floor'] as const;
export type SqlFloorKind = (typeof SQL_FLOOR_KINDS)[number];

/** The floors' own table: the library migration's columns, keys and index, created by hand (see each engine). */
export const FLOOR_TABLE = 'idempotency_floor_records';

/** Pool sizes of the guarded variants each floor stands under (bench/apps/trivial-app.ts). */
const POOL_SIZES: Record<SqlFloorKind, number> = {
  'postgres-floor': 20,
  'postgres-tx-floor': 10,
  'mariadb-floor': 20,
  'sqlite-floor': 1,
};

/** One record as a fresh request writes it: the values the library's acquire binds. */
export interface FloorRecord {
  namespace: string;
  scope: string;
  key: string;
  fingerprint: string;
  token: string;
  leaseMs: number;
  ttlMs: number;
}

/** The two statements of a fresh key, on one engine. better-sqlite3 answers at once, the others with a promise. */
export interface FloorStatements {
  /** The insert of a fresh key; true when it inserted the row. */
  claim(record: FloorRecord): boolean | Promise<boolean>;
  /** The completion: the stored response in, the token out; true when it updated the row. */
  complete(record: FloorRecord, response: string): boolean | Promise<boolean>;
  close(): Promise<void>;
}

/** One guarded request: claim, the handler's work, completion, in the order and transactions the store uses. */
export interface SqlFloor {
  /** `claimed` is told how long the claim took (ms), as the library's events report `acquireMs`. */
  guard<T>(
    record: FloorRecord,
    work: () => Promise<T>,
    stored: (value: T) => string,
    claimed: (ms: number) => void,
  ): Promise<T>;
  close(): Promise<void>;
}

/** Thrown when the key is not fresh: the floor does not replay. */
export class FloorKeyTaken extends Error {}

export function isSqlFloorKind(kind: string): kind is SqlFloorKind {
  return (SQL_FLOOR_KINDS as readonly string[]).includes(kind);
}

/** Opens the floor `kind` on `url` (a file path for SQLite), with its guarded variant's pool size unless told. */
export async function openSqlFloor(kind: SqlFloorKind, url: string, poolSize = POOL_SIZES[kind]): Promise<SqlFloor> {
  switch (kind) {
    case 'postgres-floor':
      return inSequence(await (await import('./sql-floor-postgres')).openPostgresFloor(url, poolSize));
    case 'postgres-tx-floor':
      return (await import('./sql-floor-postgres')).openPostgresTransactionFloor(url, poolSize);
    case 'mariadb-floor':
      return inSequence(await (await import('./sql-floor-mariadb')).openMariadbFloor(url, poolSize));
    case 'sqlite-floor':
      return inSequence((await import('./sql-floor-sqlite')).openSqliteFloor(url));
  }
}

/** The store's non-transactional order: the claim commits alone, then the handler runs, then the completion commits. */
export function inSequence(statements: FloorStatements): SqlFloor {
  return {
    async guard(record, work, stored, claimed) {
      const started = performance.now();
      const claim = statements.claim(record);
      if (!(claim instanceof Promise ? await claim : claim)) throw new FloorKeyTaken(record.key);
      claimed(performance.now() - started);
      const value = await work();
      const completed = statements.complete(record, stored(value));
      if (!(completed instanceof Promise ? await completed : completed))
        throw new Error(`the completion of ${record.key} updated no row`);
      return value;
    },
    close: () => statements.close(),
  };
}

// The library's defaults: its namespace (keyPrefix), no scope, a 30 s lease, a 24 h TTL.
const NAMESPACE = 'idempotency';
const LEASE_MS = 30_000;
const TTL_MS = 24 * 60 * 60 * 1000;
const FLOOR = Symbol('SqlFloor');
const EXECUTED = Symbol('onExecuted');

/** What a request needs written: its key, a SHA-256 of what it asked, a fresh fencing token. */
function recordOf(method: string, url: string, key: string, body: unknown): FloorRecord {
  const fingerprint = createHash('sha256')
    .update(`${method} ${url} ${JSON.stringify(body)}`)
    .digest('hex');
  return { namespace: NAMESPACE, scope: '', key, fingerprint, token: randomUUID(), leaseMs: LEASE_MS, ttlMs: TTL_MS };
}

@Injectable()
class SqlFloorInterceptor implements NestInterceptor {
  constructor(
    @Inject(FLOOR) private readonly floor: SqlFloor,
    @Inject(EXECUTED) private readonly onExecuted: (claimMs: number | undefined) => void,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const http = context.switchToHttp();
    const request = http.getRequest<{ method: string; url: string; headers: Record<string, unknown>; body: unknown }>();
    const response = http.getResponse<{ statusCode: number }>();
    const key = request.headers['idempotency-key'];
    if (typeof key !== 'string') throw new BadRequestException('an Idempotency-Key header is required');
    const record = recordOf(request.method, request.url, key, request.body);
    // The form the library stores a JSON answer in: its status, the headers it replays (none here), its body.
    const stored = (body: unknown) => JSON.stringify({ status: response.statusCode, headers: {}, body });
    let claimMs: number | undefined;
    return from(
      this.floor
        .guard(
          record,
          () => lastValueFrom(next.handle()),
          stored,
          (ms) => (claimMs = ms),
        )
        .then(
          (value) => {
            this.onExecuted(claimMs);
            return value;
          },
          (error: unknown) => {
            throw error instanceof FloorKeyTaken ? new ConflictException(`key ${error.message} is not fresh`) : error;
          },
        ),
    );
  }
}

@Controller('orders')
class FloorOrdersController {
  @Post()
  @UseInterceptors(SqlFloorInterceptor)
  create(@Body() body: OrderBody) {
    return createOrder(body);
  }
}

/**
 * The trivial app's module with `floor` guarding its route; `onExecuted` is told of every request it completed, with
 * how long its claim took.
 */
export function sqlFloorModule(
  floor: SqlFloor,
  onExecuted: (claimMs: number | undefined) => void = () => undefined,
): DynamicModule {
  return {
    module: class SqlFloorBenchModule {},
    controllers: [FloorOrdersController],
    providers: [{ provide: FLOOR, useValue: floor }, { provide: EXECUTED, useValue: onExecuted }, SqlFloorInterceptor],
  };
}
