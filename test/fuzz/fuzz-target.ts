import { INestApplication, LoggerService } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { TransactionHost } from '@nestjs-cls/transactional';
import { TransactionalAdapterTypeOrm } from '@nestjs-cls/transactional-adapter-typeorm';
import fc from 'fast-check';
import { AddressInfo } from 'node:net';
import { AppModule } from '../../apps/payments/src/app.module';
import { loadAppConfig } from '../../apps/payments/src/config/app-config';
import { setupApp } from '../../apps/payments/src/setup-app';
import { API_KEYS, createSqliteFile, MERCHANTS } from '../payments/payments-harness';
import { describeResponse, jsonBody, RawHeader, RawResponse, sendRaw } from './raw-http';

/**
 * The payments app as the fuzz suites drive it: one instance on an SQLite file with the TypeORM idempotency
 * store (the default configuration, so idempotency records sit in the `idempotency_records` table of the
 * same file and can be counted), one customer with a large balance and one large payment to refund from.
 * Every request goes over a raw socket (see raw-http.ts).
 */

/** The three `@Idempotent()` writes of the app. */
export type Route = 'customers' | 'payments' | 'refunds';
export const ROUTES: readonly Route[] = ['customers', 'payments', 'refunds'];

/** Everything a write can change. A rejected request must leave all of it as it was. */
export interface Ledger {
  /** The fuzz customer's balance, read through `GET /customers/:id`. */
  balance: number;
  /** What has been refunded of the fuzz payment, read through `GET /payments/:id`. */
  refunded: number;
  customers: number;
  payments: number;
  refunds: number;
  /** Rows in `idempotency_records`, any key, any state. */
  records: number;
}

/** fast-check parameters: 1,000 cases a property unless FUZZ_RUNS says more; FUZZ_SEED replays a run. */
export function fuzzParameters<T>(numRuns = 1000): fc.Parameters<T> {
  const runs = Math.max(numRuns, Number(process.env.FUZZ_RUNS ?? 0) || 0);
  const seed = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);
  return { numRuns: runs, ...(seed === undefined ? {} : { seed }), maxSkipsPerRun: 20 };
}

/** Counts generated cases per class; `report` prints the counts when FUZZ_STATS is set. */
export class Tally {
  private readonly counts = new Map<string, number>();
  add(bucket: string): void {
    this.counts.set(bucket, (this.counts.get(bucket) ?? 0) + 1);
  }
  get(bucket: string): number {
    return this.counts.get(bucket) ?? 0;
  }
  buckets(): string[] {
    return [...this.counts.keys()];
  }
  report(title: string): void {
    if (!process.env.FUZZ_STATS) return;
    console.log(
      `${title}:\n${[...this.counts]
        .sort()
        .map(([bucket, n]) => `  ${String(n).padStart(5)}  ${bucket}`)
        .join('\n')}`,
    );
  }
}

/** Keeps the last error logs of the app (the ExceptionsHandler's stack traces), instead of printing thousands. */
class CapturingLogger implements LoggerService {
  readonly errors: string[] = [];
  error(message: unknown, ...rest: unknown[]): void {
    this.errors.push(
      [message, ...rest]
        .map((part) => (part instanceof Error ? part.stack : String(part)))
        .join(' | ')
        .slice(0, 1_500),
    );
    if (this.errors.length > 20) this.errors.shift();
  }
  log(): void {}
  warn(): void {}
  debug(): void {}
  verbose(): void {}
  fatal(message: unknown, ...rest: unknown[]): void {
    this.error(message, ...rest);
  }
}

export class FuzzTarget {
  private sequence = 0;
  /** What the ledger must read now; the suites update it for every request that succeeds. */
  expected!: Ledger;
  customerId!: string;
  paymentId!: string;

  private constructor(
    readonly app: INestApplication,
    readonly port: number,
    private readonly txHost: TransactionHost<TransactionalAdapterTypeOrm>,
    private readonly logger: CapturingLogger,
    private readonly removeFile: () => void,
  ) {}

  static async start(): Promise<FuzzTarget> {
    const file = createSqliteFile();
    const config = loadAppConfig({ API_KEYS, DATABASE_URL: file.url, IDEMPOTENCY_STORE: 'typeorm' }, () => 'unused');
    const moduleRef = await Test.createTestingModule({ imports: [AppModule.forRoot(config)] }).compile();
    const logger = new CapturingLogger();
    const app = moduleRef.createNestApplication({ logger });
    setupApp(app);
    await app.listen(0, '127.0.0.1');
    const port = (app.getHttpServer().address() as AddressInfo).port;
    const target = new FuzzTarget(app, port, app.get(TransactionHost), logger, file.remove);
    await target.seed();
    return target;
  }

  async close(): Promise<void> {
    await this.app.close();
    this.removeFile();
  }

  /** A string no other request of this process has used: keys, references and names stay unique. */
  unique(prefix = 'fz'): string {
    return `${prefix}-${process.pid.toString(36)}-${Date.now().toString(36)}-${(++this.sequence).toString(36)}`;
  }

  path(route: Route): string {
    return route === 'customers'
      ? '/customers'
      : route === 'payments'
        ? '/payments'
        : `/payments/${this.paymentId}/refunds`;
  }

  /** A body the route accepts (fresh name or reference), and what it changes when it succeeds with a new key. */
  validBody(route: Route, amount = 1): { body: Record<string, unknown>; effect: Partial<Ledger> } {
    switch (route) {
      case 'customers':
        return { body: { name: this.unique('customer'), balance: amount }, effect: { customers: 1, records: 1 } };
      case 'payments':
        return {
          body: { customerId: this.customerId, amount, currency: 'EUR', reference: this.unique('ref') },
          effect: { balance: -amount, payments: 1, records: 1 },
        };
      case 'refunds':
        return { body: { amount }, effect: { balance: amount, refunded: amount, refunds: 1, records: 1 } };
    }
  }

  /** The headers every write sends besides the key: the API key and, unless told otherwise, a JSON content type. */
  headers(contentType: string | null = 'application/json', key?: string): RawHeader[] {
    const headers: RawHeader[] = [['Authorization', `Bearer ${MERCHANTS.m1}`]];
    if (contentType !== null) headers.push(['Content-Type', contentType]);
    if (key !== undefined) headers.push(['Idempotency-Key', key]);
    return headers;
  }

  /** POSTs `body` (JSON unless it is already bytes) with a key to `route`. */
  post(route: Route, body: unknown, key: string): Promise<RawResponse> {
    const bytes = Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body), 'utf8');
    return sendRaw(this.port, { path: this.path(route), headers: this.headers('application/json', key), body: bytes });
  }

  async get(path: string): Promise<RawResponse> {
    return sendRaw(this.port, {
      method: 'GET',
      path,
      headers: [['Authorization', `Bearer ${MERCHANTS.m1}`]],
      framing: 'none',
    });
  }

  /** Reads the ledger: the balance and refunded amount through the API, the counts from the database. */
  async ledger(): Promise<Ledger> {
    const customer = await this.get(`/customers/${this.customerId}`);
    const payment = await this.get(`/payments/${this.paymentId}`);
    if (customer.status !== 200 || payment.status !== 200) {
      throw new Error(`ledger read failed: ${describeResponse(customer)} / ${describeResponse(payment)}`);
    }
    const [counts] = await this.query(
      `SELECT (SELECT COUNT(*) FROM customers) AS customers, (SELECT COUNT(*) FROM payments) AS payments,
              (SELECT COUNT(*) FROM refunds) AS refunds, (SELECT COUNT(*) FROM idempotency_records) AS records`,
    );
    return {
      balance: jsonBody(customer).balance,
      refunded: jsonBody(payment).refundedAmount,
      customers: Number(counts.customers),
      payments: Number(counts.payments),
      refunds: Number(counts.refunds),
      records: Number(counts.records),
    };
  }

  /** The idempotency records stored for `key` (any scope), and how many of them are completed. */
  async recordsFor(key: string): Promise<{ count: number; completed: number }> {
    const [row] = await this.query(
      `SELECT COUNT(*) AS count, COALESCE(SUM(CASE WHEN token IS NULL AND response IS NOT NULL THEN 1 ELSE 0 END), 0) AS completed
         FROM idempotency_records WHERE "key" = ?`,
      [key],
    );
    return { count: Number(row.count), completed: Number(row.completed) };
  }

  /** Re-reads the ledger into `expected` (at the start of each property). */
  async resync(): Promise<void> {
    this.expected = await this.ledger();
  }

  /** Adds what a successful write changed to `expected`. */
  apply(effect: Partial<Ledger>): void {
    for (const [field, delta] of Object.entries(effect) as Array<[keyof Ledger, number]>) this.expected[field] += delta;
  }

  /** The ledger must read exactly `expected`. */
  async expectLedger(context: string): Promise<void> {
    const actual = await this.ledger();
    if (JSON.stringify(actual) !== JSON.stringify(this.expected)) {
      throw new Error(
        `${context}\nledger changed: expected ${JSON.stringify(this.expected)}, got ${JSON.stringify(actual)}`,
      );
    }
  }

  /** The last errors the app logged, for failure messages. */
  lastErrors(count = 2): string {
    return this.logger.errors.slice(-count).join('\n');
  }

  clearErrors(): void {
    this.logger.errors.length = 0;
  }

  /** Runs SQL in a transaction of the app's own, so it takes turns with the app on SQLite's one connection. */
  private query(sql: string, parameters: unknown[] = []): Promise<any[]> {
    return this.txHost.withTransaction(() => this.txHost.tx.query(sql, parameters));
  }

  private async seed(): Promise<void> {
    const customer = await this.post(
      'customers',
      { name: 'fuzz customer', balance: 100_000_000_000 },
      this.unique('seed'),
    );
    if (customer.status !== 201) throw new Error(`seed customer not created: ${describeResponse(customer)}`);
    this.customerId = jsonBody(customer).id;
    const payment = await this.post(
      'payments',
      { customerId: this.customerId, amount: 10_000_000_000, currency: 'EUR', reference: this.unique('seed-payment') },
      this.unique('seed'),
    );
    if (payment.status !== 201) throw new Error(`seed payment not created: ${describeResponse(payment)}`);
    this.paymentId = jsonBody(payment).id;
    await this.resync();
  }
}

/** The error body the payments app promises for bad input (README, The payments app): JSON `{statusCode, error, message}` with the status. */
export function errorBodyProblem(response: RawResponse, status: number): string | undefined {
  if (response.status !== status) return `expected status ${status}, got ${response.status}`;
  const body = jsonBody(response);
  if (typeof body !== 'object' || body === null)
    return `expected a JSON error body, got ${JSON.stringify(response.body.slice(0, 200))}`;
  if (body.statusCode !== status) return `body.statusCode is ${JSON.stringify(body.statusCode)}, not ${status}`;
  const message = body.message;
  const messageOk =
    typeof message === 'string'
      ? message.length > 0
      : Array.isArray(message) && message.length > 0 && message.every((m) => typeof m === 'string');
  if (!messageOk) return `body.message is not a non-empty string or string list: ${JSON.stringify(message)}`;
  if (typeof body.error !== 'string' || body.error.length === 0) return `body.error is missing: ${response.body}`;
  return undefined;
}
