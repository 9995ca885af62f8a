/*
 * What the library's OpenTelemetry reporting costs per guarded call (docs/operations.md quotes it):
 *
 *   npx ts-node -r tsconfig-paths/register --transpile-only bench/telemetry-cost.ts
 *
 * `IdempotencyService.run()` on the memory store, one new key per call (acquire, work, complete), in one process:
 * with telemetry off, without an SDK (the default: the global providers are OpenTelemetry's no-op ones), with an SDK
 * MeterProvider, and with an SDK MeterProvider and tracer provider (spans batched to an exporter that drops them,
 * context through AsyncLocalStorage). Variants take turns, round after round, so a slower stretch of the machine
 * falls on all of them; the figure is each one's median over the rounds.
 */
import { context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, BatchSpanProcessor, SpanExporter } from '@opentelemetry/sdk-trace-base';
import { IdempotencyService, MemoryIdempotencyStore } from '@nest-idempotency/core';

const CALLS_PER_ROUND = Number(process.env.CALLS ?? 20_000);
const ROUNDS = Number(process.env.ROUNDS ?? 7);

/** A reader nobody collects from: what each call costs, not what a scrape does. */
class IdleMetricReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

/** Takes the batches and drops them: the span's cost in the app, not an exporter's network. */
const droppingExporter: SpanExporter = {
  export: (_spans, done) => done({ code: 0 }),
  shutdown: async () => undefined,
};

async function main(): Promise<void> {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const meterProvider = new MeterProvider({ readers: [new IdleMetricReader()] });
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(droppingExporter)] });
  const variants: Array<[string, IdempotencyService]> = [
    ['telemetry: false', new IdempotencyService({ store: new MemoryIdempotencyStore(), telemetry: false })],
    ['no SDK (default)', new IdempotencyService({ store: new MemoryIdempotencyStore() })],
    ['metrics', new IdempotencyService({ store: new MemoryIdempotencyStore(), telemetry: { meterProvider } })],
    [
      'metrics + traces',
      new IdempotencyService({ store: new MemoryIdempotencyStore(), telemetry: { meterProvider, tracerProvider } }),
    ],
  ];
  const samples = new Map<string, number[]>(variants.map(([name]) => [name, []]));
  let next = 0;
  const round = async (service: IdempotencyService): Promise<number> => {
    const started = process.hrtime.bigint();
    for (let i = 0; i < CALLS_PER_ROUND; i++) await service.run(`k${next++}`, () => 1, { name: 'bench' });
    return Number(process.hrtime.bigint() - started) / CALLS_PER_ROUND / 1000;
  };
  for (const [, service] of variants) await round(service); // warm-up
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, service] of variants) samples.get(name)!.push(await round(service));
  }
  const floor = median(samples.get('telemetry: false')!);
  console.log(`${CALLS_PER_ROUND} calls x ${ROUNDS} rounds, Node.js ${process.version}`);
  for (const [name] of variants) {
    const us = median(samples.get(name)!);
    const extra = us - floor;
    console.log(`${name.padEnd(18)} ${us.toFixed(2)} µs/call  (${extra < 0 ? '' : '+'}${extra.toFixed(2)} µs)`);
  }
  await Promise.all(variants.map(([, service]) => service.onModuleDestroy()));
  await Promise.all([meterProvider.shutdown(), tracerProvider.shutdown()]);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

void main();
