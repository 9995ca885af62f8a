import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_ORDERS_SQLITE_PATH, loadOrdersConfig, OrdersConfigError } from './orders-config';

describe('loadOrdersConfig', () => {
  const required = { API_KEYS: 'shop:s1', PAYMENTS_API_KEY: 'sk_pay' };
  const load = (env: NodeJS.ProcessEnv) => loadOrdersConfig({ ...required, ...env }, '/nonexistent/demo-api-key');

  it('defaults to port 3001, SQLite, payments on 127.0.0.1:3000 and a 5 s recovery interval', () => {
    expect(load({})).toMatchObject({
      port: 3001,
      database: { type: 'sqlite', path: DEFAULT_ORDERS_SQLITE_PATH },
      paymentsUrl: 'http://127.0.0.1:3000',
      paymentsApiKey: 'sk_pay',
      paymentsAttemptTimeoutMs: 3_000,
      paymentsDeadlineMs: 10_000,
      recoveryIntervalMs: 5_000,
      idempotencyLockTimeoutMs: 30_000,
    });
    expect([...load({ API_KEYS: 'shop:s1, kiosk:s2' }).apiKeys]).toEqual([
      ['shop', 's1'],
      ['kiosk', 's2'],
    ]);
  });

  it('reads PostgreSQL, the payments URL and the intervals', () => {
    expect(
      load({
        DATABASE_URL: 'postgres://u@db:5432/orders',
        PAYMENTS_URL: 'http://payments:3000/',
        ORDERS_RECOVERY_INTERVAL_MS: '250',
      }),
    ).toMatchObject({
      database: { type: 'postgres', url: 'postgres://u@db:5432/orders', poolSize: 10 },
      paymentsUrl: 'http://payments:3000',
      recoveryIntervalMs: 250,
    });
  });

  it("takes the payments app's demo key when PAYMENTS_API_KEY is unset and that app ran here", () => {
    const dir = mkdtempSync(join(tmpdir(), 'orders-config-'));
    try {
      writeFileSync(join(dir, 'demo-api-key'), 'sk_demo_abc\n');
      expect(loadOrdersConfig({ API_KEYS: 'shop:s1' }, join(dir, 'demo-api-key')).paymentsApiKey).toBe('sk_demo_abc');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each([
    [{ API_KEYS: '' }, 'Invalid API_KEYS: unset'],
    [{ API_KEYS: 'shop' }, 'Invalid API_KEYS: "shop" is not callerId:secret'],
    [{ API_KEYS: 'a:x,a:y' }, 'Invalid API_KEYS: caller "a" appears twice'],
    [{ API_KEYS: 'a:x,b:x' }, 'Invalid API_KEYS: two callers share one secret'],
    [{ PAYMENTS_API_KEY: '' }, 'Invalid PAYMENTS_API_KEY: unset'],
    [{ PAYMENTS_URL: 'ftp://x' }, 'Invalid PAYMENTS_URL'],
    [{ DATABASE_URL: 'mysql://x' }, 'Invalid DATABASE_URL'],
    [{ PORT: 'eighty' }, 'Invalid PORT: "eighty" is not a whole number'],
    [{ ORDERS_RECOVERY_INTERVAL_MS: '0' }, 'Invalid ORDERS_RECOVERY_INTERVAL_MS: 0 is outside'],
    [{ PAYMENTS_DEADLINE_MS: '500', PAYMENTS_ATTEMPT_TIMEOUT_MS: '1000' }, 'Invalid PAYMENTS_DEADLINE_MS'],
    [{ IDEMPOTENCY_LOCK_TIMEOUT_SECONDS: '10' }, 'Invalid IDEMPOTENCY_LOCK_TIMEOUT_SECONDS'],
  ])('refuses %j, naming the variable', (env, message) => {
    expect(() => load(env)).toThrow(OrdersConfigError);
    expect(() => load(env)).toThrow(message);
  });
});
