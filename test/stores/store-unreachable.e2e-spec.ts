import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { IdempotencyAcquireRequest, IdempotencyRecordId } from '@nest-idempotency/core';
import { RedisIdempotencyStore } from '@nest-idempotency/core/redis';
import { TypeOrmIdempotencyStore } from '@nest-idempotency/core/typeorm';
import { freePorts, RedisServerProcess, startRedisServer } from '../support/redis-server';
import { describeWithServices, TEST_SERVICES } from '../support/services';
import { TcpProxy } from '../support/tcp-proxy';

/**
 * The stores mark a call that never reached their server (`notSent`, IdempotencyStoreUnreachableError), and only
 * such a call: the library then makes no deferred release for a failed acquire, which cannot have written a record.
 */
const id = (): IdempotencyRecordId => ({ namespace: 'unreachable-test', scope: '', key: randomUUID() });
const request = (): IdempotencyAcquireRequest => ({
  fingerprint: 'f',
  token: randomUUID(),
  leaseMs: 5_000,
  ttlMs: 60_000,
});
const rejection = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error('the call succeeded');
    },
    (error: Error & { notSent?: boolean }) => ({ name: error.name, notSent: error.notSent === true }),
  );

describe('RedisIdempotencyStore: which failures are marked as never sent', () => {
  let redis: RedisServerProcess | undefined;
  let proxy: TcpProxy | undefined;
  const stores: RedisIdempotencyStore[] = [];

  afterAll(async () => {
    await Promise.allSettled(stores.map((store) => store.close()));
    await Promise.allSettled([proxy?.close(), redis?.dispose()]);
  });

  it('marks a call made while no connection could be had', async () => {
    const [port] = await freePorts(1);
    const store = new RedisIdempotencyStore(`redis://127.0.0.1:${port}`, { commandTimeout: 300 });
    stores.push(store);
    expect(await rejection(store.acquire(id(), request()))).toEqual({
      name: 'IdempotencyStoreUnreachableError',
      notSent: true,
    });
  });

  it('does not mark a call that was written and got no answer', async () => {
    redis = await startRedisServer();
    proxy = new TcpProxy(redis.address);
    await proxy.start();
    // A timeout long enough that the write surely goes out first, even on a loaded machine whose event loop stalls:
    // the test is about a call that was written, so one that expired unwritten would test the other case.
    const store = new RedisIdempotencyStore(`redis://127.0.0.1:${proxy.port}`, { commandTimeout: 1_500 });
    stores.push(store);
    await store.acquire(id(), request());
    void proxy.holdFrom(() => true);
    expect(await rejection(store.acquire(id(), request()))).toEqual({ name: 'Error', notSent: false });
  });
});

describeWithServices(['postgres'], 'TypeOrmIdempotencyStore (PostgreSQL): which failures are marked', () => {
  let proxy: TcpProxy | undefined;
  let dataSource: DataSource | undefined;

  afterAll(async () => {
    await Promise.allSettled([dataSource?.destroy(), proxy?.close()]);
  });

  it('marks a call for which the pool could give no connection, not one that was sent and got no answer', async () => {
    const url = new URL(TEST_SERVICES.postgres);
    proxy = new TcpProxy({ host: url.hostname, port: Number(url.port || 5432) });
    await proxy.start();
    url.port = String(proxy.port);
    dataSource = await new DataSource({ type: 'postgres', url: url.toString() }).initialize();
    const store = new TypeOrmIdempotencyStore(dataSource, { callTimeout: 300, sweepIntervalMs: 0 });

    // Sent, and held on its way: a timeout, which may still run on the server.
    void proxy.holdFrom(() => true);
    expect(await rejection(store.acquire(id(), request()))).toEqual({ name: 'Error', notSent: false });

    // The link refused: no connection, nothing sent.
    await proxy.cut();
    expect(await rejection(store.acquire(id(), request()))).toEqual({
      name: 'IdempotencyStoreUnreachableError',
      notSent: true,
    });
  });
});
