import { Controller, Post } from '@nestjs/common';
import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import request from 'supertest';
import { IdempotencyModule, Idempotent } from '@nest-idempotency/core';
import { RedisIdempotencyStore } from '@nest-idempotency/core/redis';
import { HTTP_ADAPTERS, RunningApp, startHttpApp } from '../support/http-app';
import { RedisServerProcess, startRedisServer } from '../support/redis-server';
import { TcpProxy } from '../support/tcp-proxy';
import { OtelTestSdk } from './otel-test-sdk';

const [, express] = HTTP_ADAPTERS[0];
const COMPLETED_ROUTE = 'POST /telemetry-deferred/completed';
const FAILING_ROUTE = 'POST /telemetry-deferred/failing';
// The store's wait for an answer: a cut link fails a call after it, so each failed attempt costs this much.
const COMMAND_TIMEOUT_MS = 300;
// A deferred call stops at the lease's end: long enough for a few attempts after the link comes back, short
// enough that a test that went wrong ends soon.
const LOCK_TIMEOUT_MS = 4_000;

/** Runs `fault` inside the handler, after the acquire went through and before the record is settled. */
@Controller('telemetry-deferred')
class FaultingController {
  static fault: () => Promise<unknown> = async () => undefined;

  @Post('completed')
  @Idempotent()
  async completed() {
    await FaultingController.fault();
    return { done: true };
  }

  @Post('failing')
  @Idempotent()
  async failing() {
    await FaultingController.fault();
    throw new Error('upstream broke');
  }
}

/**
 * Deferred settlements against the real SDK and a real fault: a redis-server of this suite's own, reached through a
 * proxy that the handler cuts after its acquire, so the completion (or release) that follows fails on a dead link
 * and is never sent. Restoring the link lets the background retry settle it.
 *
 * A cut link, not `CLIENT PAUSE … WRITE`: a paused Redis runs the held completion when the pause ends, so the retry
 * then finds the record completed and ends `not_owned`, not `settled` (the last test shows that). Nor a stop and
 * start: a server without persistence comes back without the in-flight record, so the retry would be `not_owned` too.
 */
describe('OpenTelemetry of deferred settlements (real Redis, link cut mid-call)', () => {
  const sdk = new OtelTestSdk();
  const telemetry = { meterProvider: sdk.meterProvider, tracerProvider: sdk.tracerProvider };
  let server: RedisServerProcess;
  let proxy: TcpProxy;
  let admin: Redis;

  beforeAll(async () => {
    sdk.start();
    server = await startRedisServer();
    proxy = new TcpProxy(server.address);
    await proxy.start();
    admin = new Redis(server.url);
  }, 30_000);
  afterAll(async () => {
    // The proxy first: a QUIT still closing through it would otherwise hold the process open (see redis-pause).
    await proxy?.close();
    admin?.disconnect();
    await server?.dispose();
    await sdk.shutdown();
  }, 30_000);
  afterEach(async () => {
    FaultingController.fault = async () => undefined;
    if (!proxy.listening) await proxy.restore();
  });

  /** An app whose store reaches Redis through the proxy, answering one request with a fresh key first. */
  const startApp = async (): Promise<RunningApp> => {
    const store = new RedisIdempotencyStore(`redis://127.0.0.1:${proxy.port}`, { commandTimeout: COMMAND_TIMEOUT_MS });
    const app = await startHttpApp(
      {
        imports: [
          IdempotencyModule.forRoot({
            store,
            keyPrefix: 'telemetry-deferred',
            lockTimeout: LOCK_TIMEOUT_MS,
            telemetry,
          }),
        ],
        controllers: [FaultingController],
      },
      express,
    );
    // Loads the scripts over the link, so that what fails later is the settlement itself.
    expect((await post(app, 'completed', randomUUID())).status).toBe(201);
    return app;
  };
  /**
   * Closes apps with the link cut. A store closed over the live link leaves a socket request through the proxy that
   * never completes, and Node then spins at exit (in its handle cleanup) instead of ending the test process.
   */
  const closeBehindCutLink = async (...apps: Array<RunningApp | undefined>) => {
    await proxy.cut();
    await Promise.all(apps.map((app) => app?.close()));
    await proxy.restore();
  };
  const post = (app: RunningApp, path: 'completed' | 'failing', key: string) =>
    request(app.url).post(`/telemetry-deferred/${path}`).set('Idempotency-Key', key).send({});
  const attributes = (route: string) => ({
    'idempotency.transport': 'http',
    'idempotency.route': route,
    'idempotency.store': 'redis',
  });
  const pending = () => sdk.total('idempotency.deferred_settlements.pending');
  const settlements = (route: string, action: string, result: string) =>
    sdk.total('idempotency.deferred_settlements', {
      ...attributes(route),
      'idempotency.action': action,
      'idempotency.result': result,
    });
  const storeErrors = (route: string, operation: string, effect: string) =>
    sdk.total('idempotency.store.errors', {
      ...attributes(route),
      'idempotency.operation': operation,
      'idempotency.effect': effect,
    });
  /** Polls until `read` gives `expected` (a deferred call retries on its own timer), failing after `timeoutMs`. */
  const eventually = async (read: () => Promise<number>, expected: number, timeoutMs = LOCK_TIMEOUT_MS) => {
    const deadline = Date.now() + timeoutMs;
    let value = await read();
    while (value !== expected && Date.now() < deadline) {
      await sleep(50);
      value = await read();
    }
    expect(value).toBe(expected);
  };

  describe('one app, the link cut in the handler and restored', () => {
    let app: RunningApp;

    beforeAll(async () => {
      app = await startApp();
    }, 30_000);
    afterAll(() => closeBehindCutLink(app));

    it('counts a completion that failed as complete_deferred, pending while it waits, then complete/settled once', async () => {
      FaultingController.fault = () => proxy.cut();
      const key = randomUUID();
      const answered = await post(app, 'completed', key);
      // The work ran: its answer goes out though its record could not be completed.
      expect(answered.status).toBe(201);
      expect(answered.body).toEqual({ done: true });

      const route = attributes(COMPLETED_ROUTE);
      expect(await storeErrors(COMPLETED_ROUTE, 'complete', 'complete_deferred')).toBe(1);
      expect(await sdk.total('idempotency.requests', { ...route, 'idempotency.outcome': 'store_error' })).toBe(1);
      // Attempts fail on the cut link meanwhile: still waiting, nothing settled yet.
      await sleep(2 * COMMAND_TIMEOUT_MS);
      expect(await pending()).toBe(1);
      expect(await settlements(COMPLETED_ROUTE, 'complete', 'settled')).toBe(0);

      await proxy.restore();
      await eventually(() => settlements(COMPLETED_ROUTE, 'complete', 'settled'), 1);
      expect(await pending()).toBe(0);
      // Once, and no other result for it; the store error was counted once, when the completion first failed.
      const points = await sdk.points('idempotency.deferred_settlements', route);
      expect(points).toEqual([
        expect.objectContaining({
          value: 1,
          attributes: { ...route, 'idempotency.action': 'complete', 'idempotency.result': 'settled' },
        }),
      ]);
      expect(await storeErrors(COMPLETED_ROUTE, 'complete', 'complete_deferred')).toBe(1);
      // The deferred completion stored the result: the retry is a replay, not a 409 nor a second run.
      const replay = await post(app, 'completed', key);
      expect(replay.status).toBe(201);
      expect(replay.headers['idempotent-replayed']).toBe('true');
    });

    it('counts a release that failed after a handler error as release_deferred, then release/settled', async () => {
      FaultingController.fault = () => proxy.cut();
      const key = randomUUID();
      expect((await post(app, 'failing', key)).status).toBe(500);

      expect(await storeErrors(FAILING_ROUTE, 'release', 'release_deferred')).toBe(1);
      const route = attributes(FAILING_ROUTE);
      expect(await sdk.total('idempotency.requests', { ...route, 'idempotency.outcome': 'released' })).toBe(1);
      expect(await pending()).toBe(1);

      await proxy.restore();
      await eventually(() => settlements(FAILING_ROUTE, 'release', 'settled'), 1);
      expect(await pending()).toBe(0);
      // Released: the retry runs the handler again (and fails again), rather than meeting a 409.
      expect((await post(app, 'failing', key)).status).toBe(500);
    });
  });

  it('sums the pending settlements of every module reporting to one MeterProvider, the first one too', async () => {
    // Two modules (two apps in one process) share the provider; the one with a pending call started first.
    const first = await startApp();
    const second = await startApp();
    try {
      FaultingController.fault = () => proxy.cut();
      expect((await post(first, 'completed', randomUUID())).status).toBe(201);
      expect(await pending()).toBe(1);
      await proxy.restore();
      await eventually(pending, 0);
    } finally {
      await closeBehindCutLink(first, second);
    }
  }, 15_000);

  it('counts complete/gave_up when the app shuts down with the link still cut', async () => {
    const app = await startApp();
    FaultingController.fault = () => proxy.cut();
    try {
      expect((await post(app, 'completed', randomUUID())).status).toBe(201);
      expect(await pending()).toBe(1);
    } finally {
      // Shutting down makes one last attempt, which fails on the cut link.
      await app.close();
      await proxy.restore();
    }
    expect(await settlements(COMPLETED_ROUTE, 'complete', 'gave_up')).toBe(1);
    expect(await pending()).toBe(0);
  }, 15_000);

  it('counts complete/not_owned when Redis held the completion back and ran it after the retry gave up waiting', async () => {
    const app = await startApp();
    const before = await settlements(COMPLETED_ROUTE, 'complete', 'not_owned');
    const pauseMs = 1_000;
    FaultingController.fault = async () =>
      expect(await admin.call('CLIENT', 'PAUSE', String(pauseMs), 'WRITE')).toBe('OK');
    try {
      const key = randomUUID();
      expect((await post(app, 'completed', key)).status).toBe(201);
      expect(await pending()).toBe(1);
      await eventually(() => settlements(COMPLETED_ROUTE, 'complete', 'not_owned'), before + 1);
      expect(await pending()).toBe(0);
      // The held completion did land: the record is completed, and replays.
      expect((await post(app, 'completed', key)).headers['idempotent-replayed']).toBe('true');
    } finally {
      await closeBehindCutLink(app);
    }
  }, 15_000);
});
