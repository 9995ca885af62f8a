/*
 * The sample payments app as the bench runs it: configured from the environment exactly as `main.ts` does
 * (DATABASE_URL, IDEMPOTENCY_STORE, REDIS_URL, API_KEYS), set up by the same `setupApp`, and started on a free
 * loopback port. The idempotency events the app already sends to its metrics are also recorded for the harness.
 *
 *   BENCH_PAYMENTS_GUARDED  1 → the app as shipped; 0 → the same app with `POST /payments` served by a copy of the
 *                           route without `@Idempotent()` (see unguarded-payments.module.ts)
 */
import 'reflect-metadata';
import { DynamicModule } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { IdempotencyEvent } from '@nest-idempotency/core';
import { AppModule } from '../../apps/payments/src/app.module';
import { loadAppConfig } from '../../apps/payments/src/config/app-config';
import { MetricsService } from '../../apps/payments/src/metrics/metrics.service';
import { PaymentsModule } from '../../apps/payments/src/payments/payments.module';
import { setupApp } from '../../apps/payments/src/setup-app';
import { AcquireRecorder, serveBenchApp } from './app-process';
import { UnguardedPaymentsModule } from './unguarded-payments.module';

const recorder = new AcquireRecorder();

/** The app's own module with PaymentsModule swapped for the unguarded copy, everything else untouched. */
function withoutIdempotentPayments(module: DynamicModule): DynamicModule {
  const imports = module.imports ?? [];
  if (!imports.includes(PaymentsModule))
    throw new Error('AppModule no longer imports PaymentsModule; update bench/apps/payments-app.ts');
  return {
    ...module,
    imports: imports.map((imported) => (imported === PaymentsModule ? UnguardedPaymentsModule : imported)),
  };
}

async function start() {
  const config = loadAppConfig(process.env, () => 'unused');
  const guarded = process.env.BENCH_PAYMENTS_GUARDED === '1';
  const root = AppModule.forRoot(config);
  const app = await NestFactory.create(guarded ? root : withoutIdempotentPayments(root), { logger: ['error', 'warn'] });
  setupApp(app);
  // The app's events hook feeds `metrics.idempotency.record`; record the same events for the harness as well.
  const metrics = app.get(MetricsService).idempotency;
  const record = metrics.record.bind(metrics);
  metrics.record = (event: IdempotencyEvent) => {
    record(event);
    recorder.record(event);
  };
  await app.listen(0, '127.0.0.1');
  const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  return { url, close: () => app.close() };
}

serveBenchApp(start, recorder);
