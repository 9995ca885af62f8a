import { Controller, INestApplication, Post } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { IdempotencyModule, Idempotent } from '@nest-idempotency/core';
import { RedisIdempotencyStore } from '@nest-idempotency/core/redis';

/**
 * A stock Nest e2e spec with the Redis store, run by `redis-store-exit.e2e-spec.ts` in a Jest of its own: the Jest
 * must exit at once after it, with nothing open. `REDIS_URL` is a reachable Redis, `UNREACHABLE_URL` a loopback port
 * nothing listens on.
 */
@Controller('orders')
class OrdersController {
  @Post()
  @Idempotent()
  create() {
    return { created: true };
  }
}

async function startApp(url: string): Promise<INestApplication> {
  const moduleRef = await Test.createTestingModule({
    imports: [IdempotencyModule.forRoot({ store: new RedisIdempotencyStore(url, { commandTimeout: 300 }) })],
    controllers: [OrdersController],
  }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  await app.init();
  return app;
}

const post = (app: INestApplication, key: string) =>
  request(app.getHttpServer()).post('/orders').set('Idempotency-Key', key).send({});

describe('an app on the Redis store', () => {
  it('closes right after init, while the store is still connecting', async () => {
    const app = await startApp(process.env.REDIS_URL!);
    await app.close();
  });

  it('closes after serving a request', async () => {
    const app = await startApp(process.env.REDIS_URL!);
    expect((await post(app, `exit-${Date.now()}-${Math.random()}`)).status).toBe(201);
    await app.close();
  });

  it('closes while Redis is unreachable and the store reconnects', async () => {
    const app = await startApp(process.env.UNREACHABLE_URL!);
    expect((await post(app, `exit-${Date.now()}-${Math.random()}`)).status).toBe(503);
    await app.close();
  });

  it('closes right after init while Redis is unreachable', async () => {
    const app = await startApp(process.env.UNREACHABLE_URL!);
    await app.close();
  });
});
