import { randomUUID } from 'node:crypto';
import { acquireRequest as attempt } from './acquire-request';
import { assertEqual, assertIncludes, assertThat } from './contract-assertions';
import type { ContractContext } from './contract-context';

/** Acquire, complete and release: who owns a record, and what its owner's token (and only that) may do with it. */
export function ownershipCases(context: ContractContext): void {
  const { it } = context;
  const store = () => context.store;
  const id = () => context.id();

  it('acquires an absent key, then reports it in flight with the remaining lease', async () => {
    assertEqual(await store().acquire(id(), attempt()), { state: 'acquired', takenOver: false }, 'the first acquire');
    const second = await store().acquire(id(), attempt());
    assertIncludes(second, { state: 'in_flight', fingerprint: 'fp-1' }, 'the second acquire');
    const retryAfterMs = (second as { retryAfterMs: number }).retryAfterMs;
    const fresh = retryAfterMs > 8_000 && retryAfterMs <= 10_000;
    assertThat(retryAfterMs, fresh, 'more than 8000 and at most 10000', 'retryAfterMs of a 10 s lease just taken');
  });

  it('returns the stored fingerprint to a request with another one', async () => {
    await store().acquire(id(), attempt({ fingerprint: 'original' }));
    assertIncludes(
      await store().acquire(id(), attempt({ fingerprint: 'other' })),
      { state: 'in_flight', fingerprint: 'original' },
      'an acquire with another fingerprint',
    );
  });

  it('completes with the owning token and returns the exact response afterwards', async () => {
    const first = attempt();
    await store().acquire(id(), first);
    const response = JSON.stringify({ status: 201, body: { text: 'zażółć 😀 "quoted" \\ back', n: 1 } });
    assertEqual(await store().complete(id(), first.token, response, 60_000), true, "complete() with the owner's token");
    assertEqual(
      await store().acquire(id(), attempt()),
      { state: 'completed', fingerprint: 'fp-1', response },
      'an acquire after complete()',
    );
  });

  it('keeps a large response byte for byte', async () => {
    const first = attempt();
    await store().acquire(id(), first);
    const response = JSON.stringify({ body: 'x'.repeat(200_000) });
    assertEqual(await store().complete(id(), first.token, response, 60_000), true, 'complete() with 200 KB');
    const replay = await store().acquire(id(), attempt());
    // Compared here rather than by assertEqual, whose failure would print 200 KB.
    const replayed = replay.state === 'completed' && replay.response;
    assertThat(replay, replayed === response, 'the 200 KB response as completed', 'the replay of a 200 KB response');
  });

  it('refuses complete and release from a token that does not own the record', async () => {
    const owner = attempt();
    await store().acquire(id(), owner);
    assertEqual(
      await store().complete(id(), randomUUID(), '"stale"', 60_000),
      false,
      'complete() with a foreign token',
    );
    assertEqual(await store().release(id(), randomUUID()), false, 'release() with a foreign token');
    assertIncludes(await store().acquire(id(), attempt()), { state: 'in_flight' }, 'an acquire after both refusals');
    assertEqual(await store().complete(id(), owner.token, '"mine"', 60_000), true, "complete() with the owner's token");
  });

  it('releases with the owning token so the next request acquires again', async () => {
    const owner = attempt();
    await store().acquire(id(), owner);
    assertEqual(await store().release(id(), owner.token), true, "release() with the owner's token");
    assertEqual(await store().release(id(), owner.token), false, 'a second release() with it');
    assertEqual(
      await store().acquire(id(), attempt()),
      { state: 'acquired', takenOver: false },
      'an acquire after release()',
    );
  });

  it('never completes or releases a completed record again', async () => {
    const owner = attempt();
    await store().acquire(id(), owner);
    await store().complete(id(), owner.token, '"first"', 60_000);
    assertEqual(await store().complete(id(), owner.token, '"second"', 60_000), false, 'a second complete()');
    assertEqual(await store().release(id(), owner.token), false, 'release() after complete()');
    assertIncludes(
      await store().acquire(id(), attempt()),
      { state: 'completed', response: '"first"' },
      'an acquire after both refusals',
    );
  });
}
