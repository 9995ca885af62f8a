import { HttpException } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  IdempotencyError,
  IdempotencyEvent,
  IdempotencyInProgressError,
  IdempotencyKeyInvalidError,
  IdempotencyKeyMismatchError,
  IdempotencyModule,
  IdempotencyService,
  IdempotencyStore,
  MemoryIdempotencyStore,
} from '@nest-idempotency/core';

/** The programmatic entry point, as a message consumer with at-least-once delivery uses it. */
describe('IdempotencyService.run', () => {
  let service: IdempotencyService;
  const events: IdempotencyEvent[] = [];

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        IdempotencyModule.forRootAsync({
          useFactory: () => ({
            store: new MemoryIdempotencyStore(),
            events: (event: IdempotencyEvent) => events.push(event),
          }),
        }),
      ],
    }).compile();
    service = moduleRef.get(IdempotencyService);
  });
  beforeEach(() => (events.length = 0));

  it('runs the work once per key and returns the first result to redeliveries', async () => {
    let runs = 0;
    const consume = () =>
      service.run('msg-1', async () => ({ charged: ++runs, at: 'once' }), { name: 'charge-consumer' });
    expect(await consume()).toEqual({ charged: 1, at: 'once' });
    expect(await consume()).toEqual({ charged: 1, at: 'once' });
    expect(runs).toBe(1);
    expect(events.map((event) => [event.outcome, event.route])).toEqual([
      ['executed', 'charge-consumer'],
      ['replayed', 'charge-consumer'],
    ]);
  });

  it('stores undefined and falsy results faithfully', async () => {
    let runs = 0;
    for (const value of [undefined, 0, '', false, null]) {
      const key = `falsy-${String(value)}-${typeof value}`;
      await service.run(key, () => (runs++, value));
      expect(await service.run(key, () => (runs++, 'again'))).toEqual(value);
    }
    expect(runs).toBe(5);
  });

  it('does not store a failure, so the next delivery runs again', async () => {
    let runs = 0;
    const work = async () => {
      if (++runs === 1) throw new Error('downstream timeout');
      return 'ok';
    };
    await expect(service.run('msg-fail', work)).rejects.toThrow('downstream timeout');
    expect(await service.run('msg-fail', work)).toBe('ok');
    expect(runs).toBe(2);
    expect(events.map((event) => event.outcome)).toEqual(['released', 'executed']);
  });

  it('rejects a concurrent duplicate with a conflict, or waits for the first with onConflict', async () => {
    let runs = 0;
    const slow = async () => {
      runs++;
      await sleep(200);
      return 'done';
    };
    const first = service.run('msg-slow', slow);
    await sleep(20);
    await expect(service.run('msg-slow', slow)).rejects.toBeInstanceOf(IdempotencyInProgressError);
    expect(await service.run('msg-slow', slow, { onConflict: { wait: 2_000 } })).toBe('done');
    expect(await first).toBe('done');
    expect(runs).toBe(1);
  });

  it('keeps scopes apart and refuses a key reused for another payload', async () => {
    expect(await service.run('shared', () => 'a', { scope: 'tenant-a', fingerprint: { amount: 1 } })).toBe('a');
    expect(await service.run('shared', () => 'b', { scope: 'tenant-b', fingerprint: { amount: 1 } })).toBe('b');
    await expect(
      service.run('shared', () => 'c', { scope: 'tenant-a', fingerprint: { amount: 2 } }),
    ).rejects.toBeInstanceOf(IdempotencyKeyMismatchError);
  });

  it('keeps long scopes apart by their hash, so no store refuses a long principal', async () => {
    const long = (suffix: string) => `${'p'.repeat(300)}${suffix}`;
    expect(await service.run('k', () => 'a', { scope: long('a') })).toBe('a');
    expect(await service.run('k', () => 'b', { scope: long('b') })).toBe('b');
    expect(await service.run('k', () => 'again', { scope: long('a') })).toBe('a');
    expect(events.at(-1)?.scope).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('refuses an invalid key before touching the store', async () => {
    const refusal = await service.run('bad key', () => 1).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(IdempotencyKeyInvalidError);
    // No transport's exception: a message consumer gets the protocol's own error with a stable code.
    expect(refusal).toBeInstanceOf(IdempotencyError);
    expect(refusal).not.toBeInstanceOf(HttpException);
    expect(refusal).toMatchObject({ code: 'IDEMPOTENCY_KEY_INVALID', retryable: false });
    expect(events.map((event) => event.outcome)).toEqual(['invalid_key']);
  });

  it('exports the configured store under the IdempotencyStore token', async () => {
    const moduleRef = await Test.createTestingModule({ imports: [IdempotencyModule.forRoot({})] }).compile();
    expect(moduleRef.get(IdempotencyStore)).toBeInstanceOf(MemoryIdempotencyStore);
  });

  it('refuses a bad configuration at start-up, naming the option', async () => {
    await expect(
      Test.createTestingModule({ imports: [IdempotencyModule.forRoot({ ttl: 1_000, lockTimeout: 5_000 })] }).compile(),
    ).rejects.toThrow('"lockTimeout" (5000 ms) must not exceed "ttl" (1000 ms)');
    await expect(
      Test.createTestingModule({ imports: [IdempotencyModule.forRoot({ ttl: -1 })] }).compile(),
    ).rejects.toThrow('"ttl" must be a positive whole number');
    await expect(
      Test.createTestingModule({ imports: [IdempotencyModule.forRoot({ retryAfter: 40_000 })] }).compile(),
    ).rejects.toThrow('"retryAfter" (40000 ms) must not exceed "lockTimeout" (30000 ms)');
    await expect(
      Test.createTestingModule({ imports: [IdempotencyModule.forRoot({ retryAfter: 0 })] }).compile(),
    ).rejects.toThrow('"retryAfter" must be a positive whole number');
  });
});
