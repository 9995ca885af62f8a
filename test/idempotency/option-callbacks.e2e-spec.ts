import { BadRequestException, Controller, ExecutionContext, Post } from '@nestjs/common';
import request from 'supertest';
import { IdempotencyEvent, IdempotencyModule, Idempotent, sharedScope } from '@nest-idempotency/core';
import { captureLogs } from '../support/captured-logs';
import { HTTP_ADAPTERS, RunningApp, startHttpApp } from '../support/http-app';
import { CallCounter } from './fixture.controller';

/**
 * The application's option callbacks can fail: a `scope` that throws or rejects (a guard forgot to set the user), a
 * `storeResponse` with a bug. That is the server's configuration at fault: a clean, logged 500 naming the route and
 * the option (or the callback's own HttpException), and no record left to block the retry.
 */

const calls = new CallCounter();

/** Fails the way the `x-scope` header asks, so one route shows each failure and the retry that follows. */
function tenantScope(context: ExecutionContext): string | undefined | Promise<string | undefined> {
  const request = context.switchToHttp().getRequest();
  switch (request.headers['x-scope']) {
    case 'throw':
      return request.user.tenantId; // no guard set request.user: a TypeError
    case 'reject':
      return Promise.reject(new Error('tenant lookup failed'));
    case 'number':
      return 42 as unknown as string;
    case 'refuse':
      throw new BadRequestException('The X-Tenant header is required.');
    default:
      return 'tenant-1';
  }
}

@Controller()
class OptionCallbacksController {
  @Post('scoped')
  @Idempotent({ scope: tenantScope })
  scoped(): { run: number } {
    return { run: calls.hit('scoped') };
  }

  @Post('policy')
  @Idempotent({
    scope: sharedScope,
    storeResponse: () => {
      throw new Error('policy bug');
    },
  })
  policy(): { run: number } {
    return { run: calls.hit('policy') };
  }
}

describe.each(HTTP_ADAPTERS)('option callbacks that fail, on HTTP (%s)', (_platform, adapter) => {
  let running: RunningApp;
  const logs = captureLogs();
  const { errors } = logs;
  const events: IdempotencyEvent[] = [];
  let keySeq = 0;
  const newKey = () => `cb-${Date.now()}-${++keySeq}`;

  beforeAll(async () => {
    running = await startHttpApp(
      {
        imports: [IdempotencyModule.forRoot({ events: (event) => events.push(event) })],
        controllers: [OptionCallbacksController],
      },
      adapter,
    );
    running.app.useLogger(logs.logger);
  });
  afterAll(() => running.close());
  beforeEach(() => {
    calls.reset();
    logs.clear();
    events.length = 0;
  });

  it.each([
    ['throws', 'throw', `the idempotency option "scope" threw: Cannot read properties of undefined`],
    ['rejects', 'reject', 'the idempotency option "scope" threw: tenant lookup failed'],
    ['returns a number', 'number', 'the idempotency option "scope" returned number, not a string or undefined'],
  ])('answers a scope that %s with a clean 500, logged, and keeps no record', async (_case, failure, logged) => {
    const key = newKey();
    const failed = await request(running.url).post('/scoped').set('Idempotency-Key', key).set('x-scope', failure);
    expect(failed.status).toBe(500);
    expect(failed.body).toEqual({
      statusCode: 500,
      error: 'Internal Server Error',
      message:
        'The request was not processed: the server could not apply its idempotency settings. Nothing was recorded.',
    });
    expect(calls.of('scoped')).toBe(0);
    expect(errors).toEqual([expect.stringContaining(`POST /scoped: ${logged}`)]);
    expect(events).toEqual([]);

    // Nothing was recorded: once the scope answers, the same key runs at once (no 409 for a lease).
    const retried = await request(running.url).post('/scoped').set('Idempotency-Key', key).expect(201);
    expect(retried.body).toEqual({ run: 1 });
  });

  it("answers with the scope's own HttpException: it judged the request", async () => {
    const key = newKey();
    const refused = await request(running.url).post('/scoped').set('Idempotency-Key', key).set('x-scope', 'refuse');
    expect(refused.status).toBe(400);
    expect(refused.body.message).toBe('The X-Tenant header is required.');
    expect(errors).toEqual([]);
    await request(running.url).post('/scoped').set('Idempotency-Key', key).expect(201);
  });

  it('sends the result when storeResponse throws, logs it, and releases the key', async () => {
    const key = newKey();
    const first = await request(running.url).post('/policy').set('Idempotency-Key', key).expect(201);
    expect(first.body).toEqual({ run: 1 });
    expect(errors).toEqual([expect.stringContaining('POST /policy: the idempotency option "storeResponse" threw')]);
    expect(events.map((event) => event.outcome)).toEqual(['released']);

    const retried = await request(running.url).post('/policy').set('Idempotency-Key', key).expect(201);
    expect(retried.body).toEqual({ run: 2 });
    expect(retried.headers['idempotent-replayed']).toBeUndefined();
  });
});
