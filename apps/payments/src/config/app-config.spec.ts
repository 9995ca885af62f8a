import { ConfigError, DEFAULT_SQLITE_PATH, loadAppConfig } from './app-config';

describe('loadAppConfig', () => {
  const load = (env: NodeJS.ProcessEnv) => loadAppConfig(env, () => 'generated-secret');

  it('defaults to SQLite, the TypeORM store, 24 h / 30 s and a demo merchant', () => {
    const config = load({});
    expect(config).toMatchObject({
      port: 3000,
      database: { type: 'sqlite', path: DEFAULT_SQLITE_PATH },
      idempotencyStore: 'typeorm',
      redisUrls: ['redis://127.0.0.1:6379'],
      idempotencyTtlMs: 86_400_000,
      idempotencyLockTimeoutMs: 30_000,
      memoryStoreMaxRecords: 100_000,
      memoryStoreMaxRecordsPerScope: 10_000,
      demoMerchant: true,
    });
    expect([...config.apiKeys]).toEqual([['demo', 'generated-secret']]);
  });

  it('reads every variable', () => {
    const config = load({
      PORT: '8080',
      DATABASE_URL: 'postgres://u@db:5432/payments',
      DATABASE_POOL_SIZE: '8',
      IDEMPOTENCY_STORE: 'redis',
      REDIS_URL: 'redis://a:7000, redis://b:7001',
      IDEMPOTENCY_TTL_SECONDS: '3600',
      IDEMPOTENCY_LOCK_TIMEOUT_SECONDS: '10',
      IDEMPOTENCY_MEMORY_MAX_RECORDS: '5000',
      IDEMPOTENCY_MEMORY_MAX_RECORDS_PER_SCOPE: '500',
      API_KEYS: 'acme:s1,globex:s2',
      AMQP_URL: 'amqp://u:p@mq:5672',
      AMQP_QUEUE: 'payment-requests',
    });
    expect(config).toMatchObject({
      port: 8080,
      database: { type: 'postgres', url: 'postgres://u@db:5432/payments', poolSize: 8 },
      idempotencyStore: 'redis',
      redisUrls: ['redis://a:7000', 'redis://b:7001'],
      idempotencyTtlMs: 3_600_000,
      idempotencyLockTimeoutMs: 10_000,
      memoryStoreMaxRecords: 5_000,
      memoryStoreMaxRecordsPerScope: 500,
      demoMerchant: false,
      amqp: { url: 'amqp://u:p@mq:5672', queue: 'payment-requests' },
    });
    expect(load({ AMQP_URL: 'amqps://mq' }).amqp).toEqual({ url: 'amqps://mq', queue: 'payments' });
    expect(load({}).amqp).toBeUndefined();
    expect([...config.apiKeys]).toEqual([
      ['acme', 's1'],
      ['globex', 's2'],
    ]);
    expect(load({ DATABASE_URL: 'mysql://root@127.0.0.1/test' }).database).toEqual({
      type: 'mysql',
      url: 'mysql://root@127.0.0.1/test',
      poolSize: 20,
    });
    expect(load({ DATABASE_URL: 'sqlite::memory:' }).database).toEqual({ type: 'sqlite', path: ':memory:' });
    // A smaller store without its own share: one merchant may use all of it.
    expect(load({ IDEMPOTENCY_MEMORY_MAX_RECORDS: '2000' }).memoryStoreMaxRecordsPerScope).toBe(2_000);
  });

  it('enables the admin routes only with a non-empty ADMIN_API_KEY', () => {
    expect(load({}).adminApiKey).toBeUndefined();
    expect(load({ ADMIN_API_KEY: '' }).adminApiKey).toBeUndefined();
    expect(load({ ADMIN_API_KEY: 'adm_0123456789abcdef' }).adminApiKey).toBe('adm_0123456789abcdef');
  });

  it.each([
    [{ PORT: 'eighty' }, 'Invalid PORT: "eighty" is not a whole number'],
    [{ PORT: '70000' }, 'Invalid PORT: 70000 is outside 0..65535'],
    [{ DATABASE_URL: 'oracle://x' }, 'Invalid DATABASE_URL: unsupported scheme "oracle:"'],
    [{ DATABASE_URL: 'not a url' }, 'Invalid DATABASE_URL'],
    [{ DATABASE_URL: 'sqlite:' }, 'Invalid DATABASE_URL: sqlite: needs a file path'],
    [{ DATABASE_POOL_SIZE: '0' }, 'Invalid DATABASE_POOL_SIZE: 0 is outside 1..1000'],
    [{ IDEMPOTENCY_STORE: 'mongo' }, 'Invalid IDEMPOTENCY_STORE: "mongo" is not one of typeorm, redis, memory'],
    [{ REDIS_URL: 'http://x' }, 'Invalid REDIS_URL'],
    [{ AMQP_URL: 'http://mq' }, 'Invalid AMQP_URL: unsupported scheme "http:" (amqp:// or amqps://)'],
    [{ AMQP_URL: 'not a url' }, 'Invalid AMQP_URL'],
    [{ IDEMPOTENCY_TTL_SECONDS: '0' }, 'Invalid IDEMPOTENCY_TTL_SECONDS'],
    [{ IDEMPOTENCY_LOCK_TIMEOUT_SECONDS: '1.5' }, 'Invalid IDEMPOTENCY_LOCK_TIMEOUT_SECONDS'],
    [
      { IDEMPOTENCY_TTL_SECONDS: '2' },
      'Invalid IDEMPOTENCY_TTL_SECONDS: 2 is shorter than IDEMPOTENCY_LOCK_TIMEOUT_SECONDS (30); a record must live at least as long as its lease',
    ],
    [
      { IDEMPOTENCY_TTL_SECONDS: '60', IDEMPOTENCY_LOCK_TIMEOUT_SECONDS: '61' },
      'Invalid IDEMPOTENCY_TTL_SECONDS: 60 is shorter than IDEMPOTENCY_LOCK_TIMEOUT_SECONDS (61)',
    ],
    [{ IDEMPOTENCY_MEMORY_MAX_RECORDS: '0' }, 'Invalid IDEMPOTENCY_MEMORY_MAX_RECORDS: 0 is outside 1..100000000'],
    [
      { IDEMPOTENCY_MEMORY_MAX_RECORDS_PER_SCOPE: 'ten' },
      'Invalid IDEMPOTENCY_MEMORY_MAX_RECORDS_PER_SCOPE: "ten" is not a whole number',
    ],
    [
      { IDEMPOTENCY_MEMORY_MAX_RECORDS: '100', IDEMPOTENCY_MEMORY_MAX_RECORDS_PER_SCOPE: '101' },
      'Invalid IDEMPOTENCY_MEMORY_MAX_RECORDS_PER_SCOPE: 101 is more than IDEMPOTENCY_MEMORY_MAX_RECORDS (100)',
    ],
    [{ API_KEYS: 'no-secret' }, 'Invalid API_KEYS: "no-secret" is not merchantId:secret'],
    [{ API_KEYS: 'a:x,a:y' }, 'Invalid API_KEYS: merchant "a" appears twice'],
    [{ API_KEYS: 'a:x,b:x' }, 'Invalid API_KEYS: two merchants share one secret'],
    [{ ADMIN_API_KEY: 'short' }, 'Invalid ADMIN_API_KEY: must be at least 16 characters, without spaces'],
    [{ ADMIN_API_KEY: 'has a space in it, long' }, 'Invalid ADMIN_API_KEY: must be at least 16 characters'],
    [
      { API_KEYS: 'a:sk_the_same_secret_1', ADMIN_API_KEY: 'sk_the_same_secret_1' },
      "Invalid ADMIN_API_KEY: it is a merchant's API key too",
    ],
  ])('refuses %j, naming the variable', (env, message) => {
    expect(() => load(env)).toThrow(ConfigError);
    expect(() => load(env)).toThrow(message);
  });
});
