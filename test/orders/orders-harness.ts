import { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import request from 'supertest';
import { OrdersAppModule } from '../../apps/orders/src/app.module';
import { loadOrdersConfig } from '../../apps/orders/src/config/orders-config';
import { setupOrdersApp } from '../../apps/orders/src/setup-app';
import { PaymentsProcess, spawnTypeScriptApp } from '../payments/payments-harness';

/** Two callers of the shop with known keys, so tests can check that each sees only its own orders. */
export const ORDER_CALLERS = { shop: 'sk_test_orders_shop', kiosk: 'sk_test_orders_kiosk' } as const;
export const ORDERS_API_KEYS = Object.entries(ORDER_CALLERS)
  .map(([caller, secret]) => `${caller}:${secret}`)
  .join(',');

/** An orders app serving on a loopback port, in this process. */
export interface OrdersApp {
  url: string;
  app: INestApplication;
  close: () => Promise<void>;
}

/** Starts the shop in this process, configured exactly as `main.ts` would from `env`. */
export async function startOrdersApp(env: Record<string, string>): Promise<OrdersApp> {
  const config = loadOrdersConfig({ API_KEYS: ORDERS_API_KEYS, ...env });
  const moduleRef = await Test.createTestingModule({ imports: [OrdersAppModule.forRoot(config)] }).compile();
  const app = moduleRef.createNestApplication({ logger: ['error'] });
  setupOrdersApp(app);
  await app.listen(0, '127.0.0.1');
  return { app, url: (await app.getUrl()).replace('[::1]', '127.0.0.1'), close: () => app.close() };
}

/** Spawns `apps/orders/src/main.ts` with `env` in its own Node process; resolves once it listens. */
export function spawnOrdersApp(env: Record<string, string>, timeoutMs = 60_000): Promise<PaymentsProcess> {
  return spawnTypeScriptApp('apps/orders/src/main.ts', { API_KEYS: ORDERS_API_KEYS, PORT: '0', ...env }, timeoutMs);
}

/** A small client of the shop for one caller. */
export function ordersClient(url: string, caller: keyof typeof ORDER_CALLERS = 'shop') {
  const auth = { Authorization: `Bearer ${ORDER_CALLERS[caller]}` };
  return {
    place: (body: unknown, key: string) =>
      request(url)
        .post('/orders')
        .set(auth)
        .set('Idempotency-Key', key)
        .send(body as object),
    get: (id: string) => request(url).get(`/orders/${id}`).set(auth),
  };
}
