/*
 * The guard's own CPU per request, without HTTP: `@Idempotent()`'s interceptor called the way Nest calls it (an
 * ExecutionContextHost over a request and a response, a CallHandler whose handle() is the handler's Observable),
 * on the memory store nearly empty, on the memory store filled to its maxEntries, and on Redis, minus the same
 * handler behind a pass-through interceptor. One process, variants taking turns round after round, CPU time
 * (process.cpuUsage: the garbage collector's threads included), one fresh key per request. What bench/guard-cpu.ts
 * measures over HTTP is this plus what Nest charges for an interceptor that answers with a promise.
 *
 *   npx ts-node -r tsconfig-paths/register --transpile-only bench/guard-path-cost.ts
 *
 * Settings (environment): GUARD_PATH_CALLS per round (20,000), GUARD_PATH_ROUNDS (7), GUARD_PATH_PREFILL (1,000,000),
 * GUARD_PATH_CONCURRENCY requests in flight (20),
 * BENCH_REDIS_URL (redis://127.0.0.1:6379; `none` leaves Redis out).
 */
import 'reflect-metadata';
import { CallHandler, Controller, Post } from '@nestjs/common';
import { HttpAdapterHost, Reflector } from '@nestjs/core';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host';
import { lastValueFrom, Observable, of } from 'rxjs';
import { Idempotent, IdempotencyInterceptor, IdempotencyService, MemoryIdempotencyStore } from '@nest-idempotency/core';
import { RedisIdempotencyStore } from '@nest-idempotency/core/redis';
import { prefillMemoryStore } from './apps/memory-prefill';
import { median, range } from './lib/stats';

const CALLS = Number(process.env.GUARD_PATH_CALLS ?? 20_000);
const ROUNDS = Number(process.env.GUARD_PATH_ROUNDS ?? 7);
const PREFILL = Number(process.env.GUARD_PATH_PREFILL ?? 1_000_000);
/** Requests in flight at once, as the HTTP bench's connections: a store round trip overlaps the others. */
const CONCURRENCY = Number(process.env.GUARD_PATH_CONCURRENCY ?? 20);
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

@Controller('orders')
class OrdersController {
  @Post()
  @Idempotent()
  create(): void {}
}

/** The adapter calls the HTTP transport makes, as Express answers them for this handler. */
const adapterHost = {
  httpAdapter: {
    getRequestUrl: (request: { url: string }) => request.url,
    isHeadersSent: (response: { headersSent: boolean }) => response.headersSent,
    getHeader: () => undefined,
    setHeader: () => undefined,
    status: () => undefined,
  },
} as unknown as HttpAdapterHost;

let sequence = 0;

/** One request through `intercept` (or straight to the handler), to the handler's value. */
async function request(interceptor: IdempotencyInterceptor | undefined, runId: string): Promise<unknown> {
  const n = ++sequence;
  const body = { amount: 2500, currency: 'EUR', reference: `order-${n}` };
  const httpRequest = {
    method: 'POST',
    url: '/orders',
    headers: { 'content-type': 'application/json', 'idempotency-key': `${runId}-${n}` },
    body,
  };
  const response = { statusCode: 201, headersSent: false };
  const handler = OrdersController.prototype.create;
  const context = new ExecutionContextHost([httpRequest, response, undefined], OrdersController, handler);
  context.setType('http');
  const next: CallHandler = { handle: () => of({ id: n, ...body, status: 'created' }) };
  const answer: Observable<unknown> = interceptor ? await interceptor.intercept(context, next) : next.handle();
  return lastValueFrom(answer);
}

async function main(): Promise<void> {
  const runId = `${process.pid}-${Date.now()}`;
  const guarded = (store: MemoryIdempotencyStore | RedisIdempotencyStore) =>
    new IdempotencyInterceptor(new IdempotencyService({ store }), new Reflector(), adapterHost);
  const full = new MemoryIdempotencyStore({ maxEntries: PREFILL });
  await prefillMemoryStore(full, PREFILL);
  const variants: Array<[string, IdempotencyInterceptor | undefined]> = [
    ['pass-through', undefined],
    ['memory', guarded(new MemoryIdempotencyStore({ maxEntries: 2_000_000 }))],
    [`memory-full (${PREFILL})`, guarded(full)],
  ];
  const redis = REDIS_URL === 'none' ? undefined : new RedisIdempotencyStore(REDIS_URL);
  if (redis) variants.push(['redis', guarded(redis)]);

  const round = async (interceptor: IdempotencyInterceptor | undefined): Promise<number> => {
    const started = process.cpuUsage();
    let left = CALLS;
    const client = async () => {
      while (left-- > 0) await request(interceptor, runId);
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, client));
    const { user, system } = process.cpuUsage(started);
    return (user + system) / CALLS;
  };
  for (const [, interceptor] of variants) await round(interceptor); // warm-up
  const samples = new Map<string, number[]>(variants.map(([name]) => [name, []]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, interceptor] of r % 2 ? [...variants].reverse() : variants) {
      samples.get(name)!.push(await round(interceptor));
    }
  }
  const floor = samples.get('pass-through')!;
  console.log(`${CALLS} requests x ${ROUNDS} rounds, Node.js ${process.version}; µs of CPU per request`);
  for (const [name] of variants) {
    const own = samples.get(name)!;
    const above = own.map((value, r) => value - floor[r]);
    const [low, high] = range(above)!;
    const aboveText =
      name === 'pass-through' ? '' : `   guard: ${median(above)!.toFixed(1)} (${low.toFixed(1)}–${high.toFixed(1)})`;
    console.log(`  ${name.padEnd(24)} ${median(own)!.toFixed(1).padStart(6)}${aboveText}`);
  }
  full.close();
  await redis?.close();
}

void main();
