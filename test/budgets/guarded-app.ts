import { randomUUID } from 'node:crypto';
import { Controller, Injectable, ModuleMetadata, Post } from '@nestjs/common';
import { getDataSourceToken, InjectDataSource, TypeOrmModule } from '@nestjs/typeorm';
import request from 'supertest';
import { DataSource, DataSourceOptions } from 'typeorm';
import { Idempotent, IdempotencyModule } from '@nest-idempotency/core';
import {
  CreateIdempotencyRecords1764259200000,
  IdempotencyTransaction,
  TypeOrmIdempotencyStore,
} from '@nest-idempotency/core/typeorm';
import { HTTP_ADAPTERS, RunningApp, startHttpApp } from '../support/http-app';

/** The table the transactional route writes its one row into; `CREATE_WRITES_TABLE` makes it on every dialect. */
export const WRITES_TABLE = 'budget_writes';
export const CREATE_WRITES_TABLE = `CREATE TABLE ${WRITES_TABLE} (note varchar(16) NOT NULL)`;

/** Holds the `held` route's handler until the test lets it go, so a second request meets its record in flight. */
@Injectable()
export class HeldHandler {
  private enter!: () => void;
  private leave!: () => void;
  entered = new Promise<void>((resolve) => (this.enter = resolve));
  private left = new Promise<void>((resolve) => (this.leave = resolve));

  async hold(): Promise<void> {
    this.enter();
    await this.left;
  }

  release(): void {
    this.leave();
    this.entered = new Promise<void>((resolve) => (this.enter = resolve));
    this.left = new Promise<void>((resolve) => (this.leave = resolve));
  }
}

/** Guarded handlers that cost the engine nothing themselves: what a request costs is the library's. */
@Controller('budget')
class BudgetController {
  constructor(private readonly held: HeldHandler) {}

  @Post()
  @Idempotent()
  create() {
    return { ok: true };
  }

  @Post('held')
  @Idempotent()
  async hold() {
    await this.held.hold();
    return { ok: true };
  }
}

/** The transactional mode's handler: one INSERT of its own, in the request's transaction. */
@Controller('budget')
class TransactionalBudgetController {
  constructor(
    private readonly transaction: IdempotencyTransaction,
    @InjectDataSource() private readonly dataSource: DataSource,
  ) {}

  @Post('transactional')
  @Idempotent({ transactional: true })
  async create() {
    const manager = this.transaction.managerFor(this.dataSource);
    if (!manager) throw new Error('no idempotency transaction around this request');
    await manager.query(`INSERT INTO ${WRITES_TABLE} (note) VALUES ('budget')`);
    return { ok: true };
  }
}

/** A running app with the guarded routes, and the requests whose costs the budgets hold. */
export class GuardedApp {
  private constructor(
    private readonly running: RunningApp,
    private readonly held: HeldHandler,
  ) {}

  /**
   * Starts an Express app on `imports` (which must register `IdempotencyModule`); `transactional` adds the
   * transactional route, whose module needs `TypeOrmModule` among the imports.
   */
  /** The app on the TypeORM store over one migrated DataSource made from `options`, with the transactional route. */
  static startOnTypeOrm(options: DataSourceOptions): Promise<GuardedApp> {
    return GuardedApp.start(
      [
        TypeOrmModule.forRoot({
          ...options,
          migrations: [CreateIdempotencyRecords1764259200000],
          migrationsRun: true,
        } as DataSourceOptions),
        IdempotencyModule.forRootAsync({
          inject: [getDataSourceToken()],
          useFactory: (source: DataSource) => ({
            store: new TypeOrmIdempotencyStore(source, { sweepIntervalMs: 0 }),
            scope: () => 'budgets',
          }),
        }),
      ],
      { transactional: true },
    );
  }

  static async start(imports: ModuleMetadata['imports'], options: { transactional?: boolean } = {}) {
    const [, express] = HTTP_ADAPTERS[0];
    const running = await startHttpApp(
      {
        imports,
        controllers: options.transactional ? [BudgetController, TransactionalBudgetController] : [BudgetController],
        providers: [HeldHandler],
      },
      express,
    );
    return new GuardedApp(running, running.app.get(HeldHandler));
  }

  get app() {
    return this.running.app;
  }

  close(): Promise<void> {
    return this.running.close();
  }

  /** A request with a key never used before (201); resolves the key. */
  async fresh(route: '' | 'transactional' = ''): Promise<string> {
    const key = `budget-${randomUUID()}`;
    const response = await this.post(route, key, { n: 1 });
    if (response.status !== 201) throw new Error(`a fresh key answered ${response.status}: ${response.text}`);
    return key;
  }

  /** The same request again, answered from its record. */
  async replay(key: string, route: '' | 'transactional' = ''): Promise<void> {
    const response = await this.post(route, key, { n: 1 });
    if (response.status !== 201 || response.headers['idempotent-replayed'] !== 'true') {
      throw new Error(`a replay answered ${response.status} without Idempotent-Replayed: ${response.text}`);
    }
  }

  /** The key of a completed request with another body (422). */
  async mismatch(key: string): Promise<void> {
    const response = await this.post('', key, { n: 2 });
    if (response.status !== 422) throw new Error(`a mismatch answered ${response.status}: ${response.text}`);
  }

  /**
   * Holds a first request in its handler, then runs `measure` around a second one with the same key (409), then
   * lets the first finish; resolves what `measure` resolved.
   */
  async conflict<T>(measure: (second: () => Promise<void>) => Promise<T>): Promise<T> {
    const key = `budget-${randomUUID()}`;
    const first = this.post('held', key, { n: 1 }).then((response) => response);
    let measured: T;
    try {
      await this.held.entered;
      measured = await measure(async () => {
        const response = await this.post('held', key, { n: 1 });
        if (response.status !== 409) throw new Error(`a conflict answered ${response.status}: ${response.text}`);
      });
    } finally {
      this.held.release();
    }
    const response = await first;
    if (response.status !== 201) throw new Error(`the held request answered ${response.status}: ${response.text}`);
    return measured;
  }

  private post(route: string, key: string, body: object) {
    return request(this.running.url)
      .post(route ? `/budget/${route}` : '/budget')
      .set('Idempotency-Key', key)
      .send(body);
  }
}
