import request from 'supertest';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Body, CanActivate, Controller, ExecutionContext, Injectable, Post, UseGuards } from '@nestjs/common';
import {
  IdempotencyAcquireRequest,
  IdempotencyAcquireResult,
  IdempotencyKeyInvalidError,
  IdempotencyModule,
  IdempotencyRecordId,
  IdempotencyService,
  IdempotencyStore,
  Idempotent,
  MemoryIdempotencyStore,
} from '@nest-idempotency/core';
import { HTTP_ADAPTERS, RunningApp, startHttpApp } from '../support/http-app';
import { EVERY_STORE } from '../support/every-store';
import { describeWithServices } from '../support/services';
import { CallCounter, Gate } from './fixture.controller';

const TTL_MS = 60_000;
const LOCK_TIMEOUT_MS = 10_000;
// The stores' clocks (Redis's, the database's) and ours agree within this much on one machine.
const CLOCK_SLACK_MS = 1_000;

const runs = new CallCounter();
const gate = new Gate();

/** Every caller is merchant-1 unless it says otherwise: the default scope is this principal. */
@Injectable()
class MerchantGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest();
    request.user = { id: request.headers['x-merchant'] ?? 'merchant-1' };
    return true;
  }
}

@Controller('charges')
@UseGuards(MerchantGuard)
class ChargesFixtureController {
  @Post()
  @Idempotent()
  async create(@Body() body: { amount: number; hold?: boolean }) {
    if (body.hold) await gate.wait(5_000);
    return { run: runs.hit('charges'), amount: body.amount, note: 'zażółć 😀' };
  }
}

/** A store written before `inspect` and `forget` existed. */
class OlderStore extends IdempotencyStore {
  private readonly inner = new MemoryIdempotencyStore();
  acquire(id: IdempotencyRecordId, request: IdempotencyAcquireRequest): Promise<IdempotencyAcquireResult> {
    return this.inner.acquire(id, request);
  }
  complete(id: IdempotencyRecordId, token: string, response: string, ttlMs: number): Promise<boolean> {
    return this.inner.complete(id, token, response, ttlMs);
  }
  release(id: IdempotencyRecordId, token: string): Promise<boolean> {
    return this.inner.release(id, token);
  }
}

for (const setup of EVERY_STORE) {
  describeWithServices(setup.services, `IdempotencyService.inspect and forget on the ${setup.name} store`, () => {
    const keyPrefix = `inspect-${randomUUID()}`;
    let running: RunningApp;
    let service: IdempotencyService;
    let closeStore: (() => Promise<void>) | undefined;

    beforeAll(async () => {
      const { store, drop } = await setup.open();
      closeStore = drop;
      running = await startHttpApp(
        {
          imports: [
            IdempotencyModule.forRoot({
              store,
              keyPrefix,
              ttl: TTL_MS,
              lockTimeout: LOCK_TIMEOUT_MS,
              // On, so the test also shows that forget drops this process's cached copy.
              localCache: { maxEntries: 100 },
            }),
          ],
          controllers: [ChargesFixtureController],
        },
        HTTP_ADAPTERS[0][1],
      );
      service = running.app.get(IdempotencyService);
    });
    afterAll(async () => {
      gate.open();
      await running?.close();
      await closeStore?.();
    });
    beforeEach(() => {
      runs.reset();
      gate.reset();
    });

    const charge = (key: string, body: object = { amount: 100 }) =>
      request(running.url).post('/charges').set('Idempotency-Key', key).send(body);

    it('shows a completed request, then forgets it so the same request runs again', async () => {
      const key = `Key-${randomUUID()}`;
      const first = await charge(key).expect(201);
      await charge(key).expect(201).expect('Idempotent-Replayed', 'true');
      expect(runs.of('charges')).toBe(1);

      const before = Date.now();
      const inspection = await service.inspect({ key, scope: 'merchant-1' });
      expect(inspection).toEqual({
        state: 'completed',
        fingerprint: expect.stringMatching(/^[0-9a-f]{64}$/),
        expiresAt: expect.any(Date),
        completedAt: expect.any(Date),
        status: 201,
        stored: { status: 201, headers: expect.objectContaining({}), body: first.body },
      });
      const { expiresAt, completedAt } = inspection as { expiresAt: Date; completedAt: Date };
      expect(expiresAt.getTime() - completedAt.getTime()).toBe(TTL_MS);
      expect(Math.abs(completedAt.getTime() - before)).toBeLessThan(5_000 + CLOCK_SLACK_MS);
      // The key's record is the merchant's own, under this exact key.
      expect(await service.inspect({ key, scope: 'merchant-2' })).toBeUndefined();
      expect(await service.inspect({ key: key.toLowerCase(), scope: 'merchant-1' })).toBeUndefined();
      // The quoted form a client may send is the same key.
      expect(await service.inspect({ key: `"${key}"`, scope: 'merchant-1' })).toMatchObject({ state: 'completed' });

      expect(await service.forget({ key, scope: 'merchant-1' })).toBe('forgotten');
      expect(await service.inspect({ key, scope: 'merchant-1' })).toBeUndefined();
      const again = await charge(key).expect(201);
      expect(again.headers['idempotent-replayed']).toBeUndefined();
      expect(again.body.run).toBe(2);
      expect(await service.forget({ key, scope: 'merchant-2' })).toBe('absent');
    });

    it('shows a request still running with its lease, and refuses to forget it without force', async () => {
      const key = `running-${randomUUID()}`;
      const before = Date.now();
      const pending = charge(key, { amount: 5, hold: true }).then((response) => response);
      let inspection = await service.inspect({ key, scope: 'merchant-1' });
      for (let i = 0; !inspection && i < 100; i++) {
        await sleep(20);
        inspection = await service.inspect({ key, scope: 'merchant-1' });
      }
      expect(inspection).toEqual({
        state: 'in_flight',
        fingerprint: expect.stringMatching(/^[0-9a-f]{64}$/),
        leaseExpiresAt: expect.any(Date),
        expiresAt: expect.any(Date),
      });
      const { leaseExpiresAt } = inspection as { leaseExpiresAt: Date };
      expect(leaseExpiresAt.getTime()).toBeGreaterThanOrEqual(before + LOCK_TIMEOUT_MS - CLOCK_SLACK_MS);
      expect(leaseExpiresAt.getTime()).toBeLessThanOrEqual(Date.now() + LOCK_TIMEOUT_MS + CLOCK_SLACK_MS);

      expect(await service.forget({ key, scope: 'merchant-1' })).toBe('in_flight');
      gate.open();
      expect((await pending).status).toBe(201);
      expect(await service.inspect({ key, scope: 'merchant-1' })).toMatchObject({ state: 'completed', status: 201 });
    });

    it('forgets a running request with force: its completion is refused, and a retry runs', async () => {
      const key = `forced-${randomUUID()}`;
      const pending = charge(key, { amount: 5, hold: true }).then((response) => response);
      while (!(await service.inspect({ key, scope: 'merchant-1' }))) await sleep(20);
      expect(await service.forget({ key, scope: 'merchant-1', force: true })).toBe('forgotten');
      gate.open();
      await pending;
      // The first holder's record is gone and its completion was fenced out: the next request runs.
      expect(await service.inspect({ key, scope: 'merchant-1' })).toBeUndefined();
      expect((await charge(key, { amount: 5, hold: true }).expect(201)).body.run).toBe(2);
    });

    it('finds the records of run() and of message handlers where they live', async () => {
      await service.run('job-1', () => ({ done: true }), { scope: 'tenant-a' });
      expect(await service.inspect({ key: 'job-1', scope: 'tenant-a' })).toEqual({
        state: 'completed',
        fingerprint: '',
        expiresAt: expect.any(Date),
        completedAt: expect.any(Date),
        stored: { value: { done: true } },
      });
      await service.run('msg-1', () => 'ok', { keyPrefix: `${keyPrefix}:messages` });
      expect(await service.inspect({ key: 'msg-1' })).toBeUndefined();
      expect(await service.inspect({ key: 'msg-1', messages: true })).toMatchObject({ stored: { value: 'ok' } });
      expect(await service.forget({ key: 'msg-1', messages: true })).toBe('forgotten');
    });

    it('maps a long scope as the executor stores it', async () => {
      const scope = `user-${'x'.repeat(200)}`;
      await service.run('long-scope', () => 1, { scope });
      expect(await service.inspect({ key: 'long-scope', scope })).toMatchObject({ state: 'completed' });
      expect(await service.forget({ key: 'long-scope', scope })).toBe('forgotten');
    });

    it('refuses a key no request could send, as a request is refused', async () => {
      for (const key of ['', 'has space', 'k'.repeat(256), 'zażółć', '"bad\\q"']) {
        await expect(service.inspect({ key })).rejects.toBeInstanceOf(IdempotencyKeyInvalidError);
        await expect(service.forget({ key })).rejects.toBeInstanceOf(IdempotencyKeyInvalidError);
      }
      await expect(service.inspect({ key: 42 as unknown as string })).rejects.toBeInstanceOf(
        IdempotencyKeyInvalidError,
      );
    });
  });
}

describe('IdempotencyService.inspect and forget on a store without them', () => {
  it('names the store and the method it lacks', async () => {
    const running = await startHttpApp(
      { imports: [IdempotencyModule.forRoot({ store: new OlderStore() })] },
      HTTP_ADAPTERS[0][1],
    );
    try {
      const service = running.app.get(IdempotencyService);
      await expect(service.inspect({ key: 'k' })).rejects.toThrow(
        'OlderStore does not implement inspect(), which IdempotencyService.inspect() needs',
      );
      await expect(service.forget({ key: 'k' })).rejects.toThrow('OlderStore does not implement forget()');
    } finally {
      await running.close();
    }
  });
});
