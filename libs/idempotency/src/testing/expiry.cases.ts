import { setTimeout as sleep } from 'node:timers/promises';
import { acquireRequest as attempt } from './acquire-request';
import { assertCount, assertEqual, assertIncludes } from './contract-assertions';
import type { ContractContext } from './contract-context';

/**
 * Leases and TTLs: a lease taken over only by the same request, a record gone once its TTL passed. Real (short)
 * durations, because the stores that matter keep their own clocks (Redis's, the database's).
 */
export function expiryCases(context: ContractContext): void {
  const { it } = context;
  const store = () => context.store;
  const id = () => context.id();

  it('lets a request with the same fingerprint take over an expired lease, and fences the old owner', async () => {
    const stale = attempt({ leaseMs: 150 });
    await store().acquire(id(), stale);
    assertIncludes(await store().acquire(id(), attempt()), { state: 'in_flight' }, 'an acquire within the lease');
    await sleep(300);
    const fresh = attempt();
    assertEqual(
      await store().acquire(id(), fresh),
      { state: 'acquired', takenOver: true },
      'an acquire after the lease expired',
    );
    assertEqual(await store().complete(id(), stale.token, '"stale"', 60_000), false, 'complete() with the old token');
    assertEqual(await store().release(id(), stale.token), false, 'release() with the old token');
    assertEqual(await store().complete(id(), fresh.token, '"fresh"', 60_000), true, 'complete() with the new token');
    assertIncludes(
      await store().acquire(id(), attempt()),
      { state: 'completed', response: '"fresh"' },
      'an acquire after the new owner completed',
    );
  });

  it('lets only one of many concurrent requests take over an expired lease', async () => {
    await store().acquire(id(), attempt({ leaseMs: 100 }));
    await sleep(250);
    const results = await Promise.all(Array.from({ length: 50 }, () => store().acquire(id(), attempt())));
    assertCount(
      results.map((result) => result.state),
      'acquired',
      1,
      'acquired, of 50 concurrent acquires of an expired lease',
    );
  });

  it('never hands an expired lease to a request with another fingerprint', async () => {
    await store().acquire(id(), attempt({ leaseMs: 100, fingerprint: 'original' }));
    await sleep(250);
    assertEqual(
      await store().acquire(id(), attempt({ fingerprint: 'other' })),
      { state: 'in_flight', fingerprint: 'original', retryAfterMs: 0 },
      'an acquire with another fingerprint after the lease expired',
    );
  });

  it('treats a completed record as absent once its TTL has passed', async () => {
    const owner = attempt();
    await store().acquire(id(), owner);
    await store().complete(id(), owner.token, '"done"', 300);
    assertIncludes(await store().acquire(id(), attempt()), { state: 'completed' }, 'an acquire within the TTL');
    await sleep(500);
    assertEqual(
      await store().acquire(id(), attempt({ fingerprint: 'another' })),
      { state: 'acquired', takenOver: false },
      'an acquire after the TTL',
    );
  });

  it('treats an abandoned in-flight record as absent once its TTL has passed', async () => {
    await store().acquire(id(), attempt({ leaseMs: 200, ttlMs: 300, fingerprint: 'original' }));
    await sleep(500);
    assertEqual(
      await store().acquire(id(), attempt({ fingerprint: 'another' })),
      { state: 'acquired', takenOver: false },
      'an acquire after the TTL',
    );
  });

  it('counts the TTL of a completed record from its completion', async () => {
    const owner = attempt({ ttlMs: 400 });
    await store().acquire(id(), owner);
    await sleep(250);
    await store().complete(id(), owner.token, '"done"', 1_000);
    await sleep(300);
    assertIncludes(
      await store().acquire(id(), attempt()),
      { state: 'completed' },
      'an acquire 550 ms after a 400 ms acquire TTL, 300 ms after a 1 s completion TTL',
    );
  });
}
