import { randomUUID } from 'node:crypto';
import {
  IdempotentAttemptEvent,
  IdempotentAttemptTimeoutError,
  IdempotentClient,
  IdempotentRequestOutcomeUnknownError,
  IdempotentRequestRejectedError,
  idempotencyKeyFor,
} from '@nest-idempotency/core/client';
import { waitFor } from '../microservices/broker-test-support';
import { HTTP_ADAPTERS, RunningApp, startHttpApp } from '../support/http-app';
import { ClientFactory, FRONT_ENDS } from './front-ends';
import { RETRY_TABLE } from './retry-table';
import { PaymentsScript, ScriptedPaymentsModule } from './scripted-payments.app';

/** What an error the client threw is, for assertions; fails the test if the call succeeded. */
async function failureOf(call: Promise<unknown>): Promise<any> {
  const outcome = await call.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  if (!('error' in outcome)) throw new Error(`expected the call to fail, got ${JSON.stringify(outcome.value)}`);
  return outcome.error;
}

describe.each(HTTP_ADAPTERS)('the idempotent client against @Idempotent() on %s', (_platform, adapter) => {
  let server: RunningApp;
  let script: PaymentsScript;

  beforeAll(async () => {
    server = await startHttpApp({ imports: [ScriptedPaymentsModule] }, adapter, { rawBody: true });
    script = server.app.get(PaymentsScript);
  });
  afterAll(async () => {
    // fetch's pool (undici) may hold a connection it opened and never sent on (seen after an aborted attempt); the
    // server would wait for it until its request timeout. No request is in flight by now.
    server?.app.getHttpServer().closeAllConnections();
    await server?.close();
  });

  describe.each(FRONT_ENDS)('through %s', (_frontEnd, setUp) => {
    let makeClient: ClientFactory;
    let events: IdempotentAttemptEvent[];
    let client: IdempotentClient;
    let key: string;

    beforeAll(async () => {
      makeClient = await setUp();
    });
    beforeEach(() => {
      events = [];
      client = makeClient({ baseUrl: server.url, baseDelayMs: 5, onAttempt: (event) => events.push(event) });
      key = idempotencyKeyFor('payment', randomUUID());
    });

    const pay = (options: Partial<Parameters<IdempotentClient['post']>[2]> = {}, body: unknown = { amount: 25 }) =>
      client.post<{ id: string; amount: number }>('/client/payments', body, { key, ...options });

    it('runs the first call, and replays the second with the same key (Idempotent-Replayed)', async () => {
      const first = await pay();
      const second = await pay();
      expect(first).toMatchObject({
        status: 201,
        replayed: false,
        attempts: 1,
        key,
        body: { id: 'pay_1', amount: 25 },
      });
      expect(second).toMatchObject({ status: 201, replayed: true, attempts: 1, key, body: first.body });
      expect(second.headers['idempotent-replayed']).toBe('true');
      expect(script.runsOf(key)).toHaveLength(1);
    });

    describe('the retry table', () => {
      it.each(RETRY_TABLE.filter(([status]) => status >= 400))(
        'an answer %i (Retry-After: %s) is %s',
        async (status, retryAfter, decision) => {
          script.gate.set(key, [{ status, retryAfter: retryAfter ? '0' : undefined }]);
          if (decision === 'retry') {
            const result = await pay();
            expect(result).toMatchObject({ status: 201, attempts: 2, replayed: false });
            expect(script.arrivalsOf(key)).toBe(2);
            expect(events.map((event) => event.decision)).toEqual(['retry', 'done']);
          } else {
            const error = await failureOf(pay());
            expect(error).toBeInstanceOf(IdempotentRequestRejectedError);
            expect(error).toMatchObject({ status, key, attempts: 1, response: { status } });
            expect(script.arrivalsOf(key)).toBe(1);
            expect(script.runsOf(key)).toHaveLength(0);
            expect(events.map((event) => event.decision)).toEqual(['rejected']);
          }
        },
      );
    });

    it("does not retry the server's own 422: the same key with another body", async () => {
      await pay();
      const error = await failureOf(pay({}, { amount: 26 }));
      expect(error).toBeInstanceOf(IdempotentRequestRejectedError);
      expect(error).toMatchObject({ status: 422, attempts: 1 });
      expect(script.runsOf(key)).toHaveLength(1);
    });

    it('sends one key and byte-identical bodies on every attempt (500s release the key, so each retry runs)', async () => {
      script.steps.set(key, ['fail', 'fail']);
      const body = { amount: 25, note: 'café ☕', nested: { b: 1, a: [1, 2] } };
      const result = await pay({}, body);
      expect(result).toMatchObject({ status: 201, attempts: 3, replayed: false, body: { id: 'pay_3' } });
      const runs = script.runsOf(key);
      expect(runs).toHaveLength(3);
      expect(new Set(runs).size).toBe(1);
      expect(Buffer.from(runs[0], 'base64').toString('utf8')).toBe(JSON.stringify(body));
      expect(events.map((event) => [event.attempt, event.key, event.status, event.decision])).toEqual([
        [1, key, 500, 'retry'],
        [2, key, 500, 'retry'],
        [3, key, 201, 'done'],
      ]);
    });

    it('retries a connection dropped after the work ran, and gets the replay: the work ran once', async () => {
      script.steps.set(key, ['drop']);
      const result = await pay();
      expect(result).toMatchObject({ status: 201, attempts: 2, replayed: true, body: { id: 'pay_1', amount: 25 } });
      expect(script.runsOf(key)).toHaveLength(1);
      expect(events[0]).toMatchObject({ attempt: 1, decision: 'retry', error: expect.anything() });
    });

    it('times an attempt out, meets the 409 of its own first attempt, honours its Retry-After, and gets the replay', async () => {
      script.steps.set(key, [{ delayMs: 800 }]);
      const result = await pay({ attemptTimeoutMs: 300 });
      expect(result).toMatchObject({ status: 201, replayed: true, body: { id: 'pay_1' } });
      expect(result.attempts).toBeGreaterThanOrEqual(3);
      expect(script.runsOf(key)).toHaveLength(1);
      expect(events[0]).toMatchObject({
        attempt: 1,
        decision: 'retry',
        error: expect.any(IdempotentAttemptTimeoutError),
      });
      const conflicts = events.filter((event) => event.status === 409);
      expect(conflicts.length).toBeGreaterThanOrEqual(1);
      // The server's in-progress answer says `Retry-After: 1`: the client waits exactly that.
      for (const conflict of conflicts) expect(conflict).toMatchObject({ decision: 'retry', delayMs: 1_000 });
    });

    it('honours Retry-After in seconds', async () => {
      script.gate.set(key, [{ status: 503, retryAfter: '1' }]);
      const result = await pay();
      expect(result).toMatchObject({ status: 201, attempts: 2 });
      expect(events[0]).toMatchObject({ status: 503, decision: 'retry', delayMs: 1_000 });
    });

    it('honours Retry-After as an HTTP date', async () => {
      script.gate.set(key, [{ status: 429, retryAfter: new Date(Date.now() + 2_000).toUTCString() }]);
      const result = await pay();
      expect(result).toMatchObject({ status: 201, attempts: 2 });
      expect(events[0]).toMatchObject({ status: 429, decision: 'retry' });
      // An HTTP date has whole seconds: the wait is up to two seconds, and more than none.
      expect(events[0].delayMs).toBeGreaterThan(0);
      expect(events[0].delayMs).toBeLessThanOrEqual(2_000);
    });

    it('ends at maxAttempts with an unknown outcome that carries the key, never "failed"', async () => {
      script.steps.set(key, ['fail', 'fail', 'fail']);
      const error = await failureOf(pay({ maxAttempts: 3 }));
      expect(error).toBeInstanceOf(IdempotentRequestOutcomeUnknownError);
      expect(error).toMatchObject({ reason: 'attempts', key, attempts: 3, lastResponse: { status: 500 } });
      expect(error.message).toContain(key);
      expect(error.message).not.toMatch(/fail/i);
      expect(script.arrivalsOf(key)).toBe(3);
      // The caller retries later with the same key, and the work runs (or is replayed).
      expect(await pay()).toMatchObject({ status: 201, replayed: false, body: { id: 'pay_4' } });
    });

    it('ends at the deadline with an unknown outcome, without sleeping past it', async () => {
      // Retry-After 1 s within 1.8 s: a second attempt after about 1 s, and no third (its wait would end past 2 s).
      script.gate.set(
        key,
        Array.from({ length: 10 }, () => ({ status: 503, retryAfter: '1' })),
      );
      const error = await failureOf(pay({ deadlineMs: 1_800, maxAttempts: 10 }));
      expect(error).toBeInstanceOf(IdempotentRequestOutcomeUnknownError);
      expect(error).toMatchObject({ reason: 'deadline', key, attempts: 2, lastResponse: { status: 503 } });
      expect(script.arrivalsOf(key)).toBe(2);
      expect(events.map((event) => event.decision)).toEqual(['retry', 'gave_up']);
    });

    it('ends at once when Retry-After is beyond the deadline', async () => {
      script.gate.set(key, [{ status: 503, retryAfter: '120' }]);
      const started = Date.now();
      const error = await failureOf(pay({ deadlineMs: 5_000 }));
      expect(error).toMatchObject({ reason: 'deadline', key, attempts: 1 });
      expect(Date.now() - started).toBeLessThan(4_000);
    });

    it('is cancelled by its AbortSignal while it waits to retry', async () => {
      const controller = new AbortController();
      client = makeClient({ baseUrl: server.url, onAttempt: () => controller.abort() });
      script.gate.set(key, [{ status: 503, retryAfter: '5' }]);
      const started = Date.now();
      const error = await failureOf(pay({ signal: controller.signal }));
      expect(error).toBeInstanceOf(IdempotentRequestOutcomeUnknownError);
      expect(error).toMatchObject({ reason: 'aborted', key, attempts: 1 });
      expect(script.arrivalsOf(key)).toBe(1);
      expect(Date.now() - started).toBeLessThan(4_000);
    });

    it('is cancelled by its AbortSignal during an attempt, whose outcome is then unknown', async () => {
      script.steps.set(key, [{ delayMs: 1_500 }]);
      const started = Date.now();
      const error = await failureOf(pay({ signal: AbortSignal.timeout(200) }));
      expect(error).toBeInstanceOf(IdempotentRequestOutcomeUnknownError);
      expect(error).toMatchObject({ reason: 'aborted', key, attempts: 1 });
      expect(Date.now() - started).toBeLessThan(1_400);
      expect(script.arrivalsOf(key)).toBe(1);
      // The server's run goes on without its caller; the suite closes the server once it has answered.
      await waitFor('the abandoned run to return', () => script.finished.includes(key));
    });
  });
});
