import { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { apiClient, MERCHANTS, PaymentsProcess, spawnPaymentsApp } from '../payments/payments-harness';
import { Operation, RetryingClient, getStatus } from './fault-client';
import { LedgerReport, LogicalPayment, LogicalRefund } from './ledger';

// Every app process a fault suite started, killed outright if the test process exits without closing them.
const started = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

/**
 * Spawns payments app processes one after another (the first migrates the schema; the others find it done),
 * each pushed onto `into` as soon as it listens, so that `afterAll` closes those that started even when a
 * later one fails to.
 */
export async function spawnApps(count: number, env: Record<string, string>, into: PaymentsProcess[]): Promise<void> {
  for (let i = 0; i < count; i++) into.push(await spawnApp(env));
}

/** Spawns one app process (the payments app unless `spawner` says otherwise), killed if the test process exits. */
export async function spawnApp(
  env: Record<string, string>,
  spawner: (env: Record<string, string>, timeoutMs: number) => Promise<PaymentsProcess> = spawnPaymentsApp,
): Promise<PaymentsProcess> {
  const app = await spawner(env, 60_000);
  started.add(app.child);
  app.child.once('exit', () => started.delete(app.child));
  return app;
}

/** Closes every app (SIGTERM, SIGKILL after 10 s), whatever state it is in; never throws. */
export async function closeApps(apps: PaymentsProcess[]): Promise<void> {
  await Promise.allSettled(apps.map((app) => app.close()));
}

/** Whether the process is still the one that was started (it has not exited). */
export function isAlive(app: PaymentsProcess): boolean {
  return app.child.exitCode === null && app.child.signalCode === null;
}

/** Polls `GET /health` on every instance until all answer 200; resolves the milliseconds it took. */
export async function waitForHealthy(urls: string[], timeoutMs = 20_000): Promise<number> {
  const started = Date.now();
  for (;;) {
    const statuses = await Promise.all(urls.map((url) => getStatus(url, '/health')));
    if (statuses.every((status) => status === 200)) return Date.now() - started;
    if (Date.now() - started > timeoutMs)
      throw new Error(`instances not healthy within ${timeoutMs} ms: ${statuses.join(', ')}`);
    await sleep(200);
  }
}

/** Creates customers (before any fault) and returns their start balances. */
export async function createCustomers(url: string, balances: number[]): Promise<Map<string, number>> {
  const client = apiClient(url);
  const result = new Map<string, number>();
  for (const [i, balance] of balances.entries()) {
    const customer = await client.createCustomer(balance, `Fault customer ${i}`);
    result.set(customer.id, balance);
  }
  return result;
}

/** The first merchant's API key, as the harness configures the apps. */
export const API_KEY = MERCHANTS.m1;

/**
 * A stream of payments from `workers` concurrent clients until `stop()`: each payment is one logical payment
 * (one key, one body, a unique reference) retried with that key until a definite answer; after a success, a
 * share of them get one partial refund, retried the same way. Attempts alternate over the instances.
 */
export class PaymentStream {
  readonly payments: LogicalPayment[] = [];
  readonly refunds: LogicalRefund[] = [];
  private stopping = false;
  private counter = 0;
  private running: Promise<void> | undefined;

  constructor(
    private readonly client: RetryingClient,
    private readonly urls: string[],
    private readonly customers: string[],
    private readonly options: { runId: string; workers: number; refundShare: number; pauseMs?: number },
  ) {}

  start(): void {
    this.running = Promise.all(Array.from({ length: this.options.workers }, () => this.worker())).then(() => undefined);
  }

  /** No new payments; resolves once those in progress got their answer (each bounded by the retry policy). */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.running;
  }

  private async worker(): Promise<void> {
    while (!this.stopping) {
      const n = this.counter++;
      const customerId = this.customers[n % this.customers.length];
      const amount = 100 + ((n * 37) % 800);
      const reference = `${this.options.runId}-${n}`;
      const first = await this.client.send(
        this.urls,
        '/payments',
        { customerId, amount, currency: 'EUR', reference },
        { start: n },
      );
      this.payments.push({ customerId, amount, reference, first, resends: [] });
      if (first.final === 'succeeded' && Math.random() < this.options.refundShare) {
        const paymentId = first.answer.id as string;
        const refundAmount = Math.max(1, Math.floor(amount / 3));
        const op = await this.client.send(
          this.urls,
          `/payments/${paymentId}/refunds`,
          { amount: refundAmount },
          { start: n + 1 },
        );
        this.refunds.push({ paymentId, amount: refundAmount, op });
      }
      await sleep(this.options.pauseMs ?? 10);
    }
  }
}

/** Re-sends every payment answered 201 (same key, same body), as a client that retries anyway would. */
export async function resendSucceeded(
  client: RetryingClient,
  urls: string[],
  payments: LogicalPayment[],
  concurrency = 4,
): Promise<Operation[]> {
  const queue = payments.filter((payment) => payment.first.final === 'succeeded');
  const results: Operation[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < queue.length) {
        const payment = queue[next++];
        const resend = await client.send(urls, '/payments', payment.first.body, {
          key: payment.first.key,
          start: next,
        });
        payment.resends.push(resend);
        results.push(resend);
      }
    }),
  );
  return results;
}

/** Counts of final outcomes. */
export function outcomes(operations: Operation[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const operation of operations) counts[operation.final] = (counts[operation.final] ?? 0) + 1;
  return counts;
}

/** The per-scenario summary printed at the end of each scenario. */
export function summary(title: string, lines: string[], report?: LedgerReport): string {
  const out = [`── ${title}`, ...lines.map((line) => `   ${line}`)];
  if (report) {
    out.push(`   double debits (payments or refunds applied twice): ${report.doubleDebits}`);
    for (const c of report.perCustomer) {
      out.push(
        `   customer ${c.customerId.slice(0, 8)}: ${c.start} → ${c.end} (debits ${c.debits} = seen ${c.seen} + in-flight ${c.inFlight}; refunds ${c.refunds})`,
      );
    }
    for (const note of report.notes) out.push(`   note: ${note}`);
    for (const violation of report.violations) out.push(`   VIOLATION: ${violation}`);
  }
  return out.join('\n');
}

/**
 * How the apps reported the idempotency store's outages (from their own output): each outage is one line when it
 * starts, one per 10 s while it lasts, one when the store answers again (core/store-outage-report.ts).
 */
export function failureLogCounts(apps: PaymentsProcess[]): string {
  const patterns: Array<[string, RegExp]> = [
    ['store outages', /\) unavailable \(/g],
    ['still-unavailable reports', /still unavailable after/g],
    ['store back', /answers again after/g],
  ];
  return patterns
    .map(
      ([name, pattern]) => `${name} ×${apps.reduce((sum, app) => sum + (app.output().match(pattern)?.length ?? 0), 0)}`,
    )
    .join('; ');
}

/** The last lines of each app's output, to print when a scenario fails. */
export function appOutputs(apps: PaymentsProcess[], lines = 30): string {
  return apps
    .map(
      (app, i) =>
        `--- app ${i} (pid ${app.child.pid}, ${isAlive(app) ? 'alive' : `exited ${app.child.exitCode ?? app.child.signalCode}`}):\n${app.output().split('\n').slice(-lines).join('\n')}`,
    )
    .join('\n');
}
