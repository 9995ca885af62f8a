import { All, Controller, Get, Head, Post, Type } from '@nestjs/common';
import request from 'supertest';
import { IdempotencyEvent, IdempotencyModule, Idempotent, sharedScope } from '@nest-idempotency/core';
import { bootAndClose, HTTP_ADAPTERS, RunningApp, startHttpApp } from '../support/http-app';
import { CallCounter } from './fixture.controller';

/**
 * Idempotency keys are for the methods that change something. A controller-wide `@Idempotent()` guards its POST,
 * PUT, PATCH and DELETE routes and lets its reads run as they are; on a GET, HEAD or OPTIONS route the decorator
 * stops start-up.
 */

const calls = new CallCounter();

@Controller('accounts')
@Idempotent()
class AccountsController {
  @Get()
  list(): { run: number } {
    return { run: calls.hit('list') };
  }

  @Post()
  open(): { run: number } {
    return { run: calls.hit('open') };
  }

  /** Any method: the request's own method decides whether it is guarded. */
  @All('any')
  any(): { run: number } {
    return { run: calls.hit('any') };
  }
}

@Controller('balances')
class BalancesController {
  @Get(':id')
  @Idempotent()
  show(): number {
    return 1;
  }
}

@Controller('balances')
@Idempotent()
class HeadBalancesController {
  @Head()
  @Idempotent({ required: false })
  check(): void {}

  @Post()
  create(): number {
    return 1;
  }
}

describe.each(HTTP_ADAPTERS)('safe methods under a controller-wide @Idempotent() (%s)', (_platform, adapter) => {
  let running: RunningApp;
  const events: IdempotencyEvent[] = [];

  beforeAll(async () => {
    running = await startHttpApp(
      {
        imports: [IdempotencyModule.forRoot({ scope: sharedScope, events: (event) => events.push(event) })],
        controllers: [AccountsController],
      },
      adapter,
    );
  });
  afterAll(() => running.close());
  beforeEach(() => {
    calls.reset();
    events.length = 0;
  });

  it('runs a GET without a key, and with one neither records nor replays it', async () => {
    const bare = await request(running.url).get('/accounts').expect(200);
    expect(bare.body).toEqual({ run: 1 });
    const keyed = await request(running.url).get('/accounts').set('Idempotency-Key', 'read-1').expect(200);
    const again = await request(running.url).get('/accounts').set('Idempotency-Key', 'read-1').expect(200);
    expect([keyed.body, again.body]).toEqual([{ run: 2 }, { run: 3 }]);
    expect(again.headers['idempotent-replayed']).toBeUndefined();
    expect(events).toEqual([]);
  });

  it('still demands a key on the POST route, and replays it', async () => {
    await request(running.url).post('/accounts').expect(400);
    const first = await request(running.url).post('/accounts').set('Idempotency-Key', 'open-1').expect(201);
    const second = await request(running.url).post('/accounts').set('Idempotency-Key', 'open-1').expect(201);
    expect(second.body).toEqual(first.body);
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(calls.of('open')).toBe(1);
  });

  it('guards an @All() route by the method of each request', async () => {
    await request(running.url).get('/accounts/any').expect(200);
    await request(running.url).delete('/accounts/any').expect(400);
    await request(running.url).delete('/accounts/any').set('Idempotency-Key', 'close-1').expect(200);
    await request(running.url).delete('/accounts/any').set('Idempotency-Key', 'close-1').expect(200);
    expect(calls.of('any')).toBe(2);
    expect(events.map((event) => event.outcome)).toEqual(['missing_key', 'executed', 'replayed']);
  });
});

describe('@Idempotent() on a safe method', () => {
  it.each<[string, Type, string]>([
    ['a GET route', BalancesController, '@Idempotent() on BalancesController.show: GET is a safe method'],
    ['a HEAD route, under a controller-wide one too', HeadBalancesController, 'HeadBalancesController.check: HEAD'],
  ])('stops start-up on %s, naming it', async (_case, controller, message) => {
    await expect(bootAndClose({ imports: [IdempotencyModule.forRoot({})], controllers: [controller] })).rejects.toThrow(
      message,
    );
  });
});
