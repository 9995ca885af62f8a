import { createHash, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { IdempotencyRecordId, IdempotencyStore } from '../index';
import { acquireRequest as attempt } from './acquire-request';
import { assertBetween, assertCount, assertEqual, assertIncludes, assertThat } from './contract-assertions';
import type { ContractContext } from './contract-context';

type InspectableStore = IdempotencyStore & Required<Pick<IdempotencyStore, 'inspect' | 'forget'>>;

/**
 * The optional `inspect()` and `forget()`: a read that changes nothing, and a delete that leaves a running request's
 * record alone unless forced. `clockSlackMs` is how far the store's clock may be from ours in the times it reports.
 */
export function inspectAndForgetCases(context: ContractContext, clockSlackMs: number): void {
  const { it, id } = context;
  const store = () => context.store as InspectableStore;

  /** A completed record under `recordId` with `response`. */
  const completed = async (recordId: IdempotencyRecordId, response = '"done"', ttlMs = 60_000) => {
    const owner = attempt();
    assertIncludes(await store().acquire(recordId, owner), { state: 'acquired' }, 'the acquire of a fresh key');
    assertEqual(
      await store().complete(recordId, owner.token, response, ttlMs),
      true,
      "complete() with the owner's token",
    );
  };

  /** An epoch-ms time the store reported, about `fromNowMs` after a moment between `before` and now. */
  const assertAbout = (actual: unknown, before: number, fromNowMs: number, what: string) =>
    assertBetween(actual, before + fromNowMs - clockSlackMs, Date.now() + fromNowMs + clockSlackMs, what);

  it('implements both', async () => {
    assertEqual(typeof store().inspect, 'function', 'typeof store.inspect');
    assertEqual(typeof store().forget, 'function', 'typeof store.forget');
  });

  it('finds nothing under an absent key', async () => {
    assertEqual(await store().inspect(id()), undefined, 'inspect() of an absent key');
    assertEqual(await store().forget(id(), { force: false }), 'absent', 'forget() of an absent key');
    assertEqual(await store().forget(id(), { force: true }), 'absent', 'forget({ force: true }) of an absent key');
  });

  it('shows an in-flight record with its lease, its expiry and the fingerprint acquire would return', async () => {
    // A SHA-256 hex, which the Redis store keeps as binary: inspect must decode it as acquire does.
    const fingerprint = createHash('sha256').update(randomUUID()).digest('hex');
    const before = Date.now();
    await store().acquire(id(), attempt({ fingerprint, leaseMs: 10_000, ttlMs: 60_000 }));
    const snapshot = await store().inspect(id());
    assertThat(snapshot, snapshot !== undefined, 'a record', 'inspect() of an in-flight record');
    const { leaseExpiresAt, expiresAt, ...rest } = (snapshot ?? {}) as Record<string, unknown>;
    assertEqual(rest, { state: 'in_flight', fingerprint }, 'inspect() of an in-flight record, but its times');
    assertAbout(leaseExpiresAt, before, 10_000, 'leaseExpiresAt of a 10 s lease');
    assertAbout(expiresAt, before, 60_000, 'expiresAt of a 60 s TTL');
    // A read: the record is as it was.
    assertIncludes(
      await store().acquire(id(), attempt({ fingerprint })),
      { state: 'in_flight', fingerprint },
      'an acquire after inspect()',
    );
  });

  it('shows a completed record with the response byte for byte', async () => {
    const response = JSON.stringify({ status: 201, body: { text: 'zażółć 😀 "quoted" \\ back', n: 1 } });
    const before = Date.now();
    await completed(id(), response, 60_000);
    const snapshot = await store().inspect(id());
    assertThat(snapshot, snapshot !== undefined, 'a record', 'inspect() of a completed record');
    const { expiresAt, ...rest } = (snapshot ?? {}) as Record<string, unknown>;
    assertEqual(rest, { state: 'completed', fingerprint: 'fp-1', response }, 'inspect() of a completed record');
    assertAbout(expiresAt, before, 60_000, 'expiresAt of a 60 s TTL');
    assertEqual(
      await store().acquire(id(), attempt()),
      { state: 'completed', fingerprint: 'fp-1', response },
      'an acquire after inspect()',
    );
  });

  it('counts an expired record as absent', async () => {
    await completed(id(), '"done"', 300);
    await store().acquire(id('in-flight'), attempt({ leaseMs: 200, ttlMs: 300 }));
    await sleep(500);
    assertEqual(await store().inspect(id()), undefined, 'inspect() of a completed record past its TTL');
    assertEqual(await store().inspect(id('in-flight')), undefined, 'inspect() of an in-flight record past its TTL');
    assertEqual(await store().forget(id(), { force: false }), 'absent', 'forget() of the completed one');
    assertEqual(await store().forget(id('in-flight'), { force: true }), 'absent', 'forget() of the in-flight one');
  });

  it('forgets a completed record, so the next request with its key runs again', async () => {
    await completed(id());
    assertEqual(await store().forget(id(), { force: false }), 'forgotten', 'forget() of a completed record');
    assertEqual(await store().inspect(id()), undefined, 'inspect() after forget()');
    assertEqual(await store().forget(id(), { force: false }), 'absent', 'a second forget()');
    assertEqual(
      await store().acquire(id(), attempt({ fingerprint: 'another' })),
      { state: 'acquired', takenOver: false },
      'an acquire after forget()',
    );
  });

  it('leaves an in-flight record alone without force, and its holder completes it', async () => {
    const holder = attempt();
    await store().acquire(id(), holder);
    assertEqual(await store().forget(id(), { force: false }), 'in_flight', 'forget() of an in-flight record');
    assertIncludes(await store().inspect(id()), { state: 'in_flight' }, 'inspect() after it');
    assertEqual(
      await store().complete(id(), holder.token, '"held"', 60_000),
      true,
      "complete() with the holder's token",
    );
    assertIncludes(
      await store().inspect(id()),
      { state: 'completed', response: '"held"' },
      'inspect() after complete()',
    );
  });

  it('forgets an in-flight record with force, and fences its old holder out', async () => {
    const holder = attempt();
    await store().acquire(id(), holder);
    assertEqual(
      await store().forget(id(), { force: true }),
      'forgotten',
      'forget({ force: true }) of an in-flight one',
    );
    assertEqual(await store().inspect(id()), undefined, 'inspect() after it');
    assertEqual(await store().complete(id(), holder.token, '"stale"', 60_000), false, "the old holder's complete()");
    assertEqual(await store().release(id(), holder.token), false, "the old holder's release()");
    const next = attempt();
    assertEqual(await store().acquire(id(), next), { state: 'acquired', takenOver: false }, 'the next acquire');
    assertEqual(
      await store().complete(id(), holder.token, '"stale"', 60_000),
      false,
      "the old holder's complete() on the next one's record",
    );
    assertEqual(await store().complete(id(), next.token, '"next"', 60_000), true, "the next holder's complete()");
  });

  it('keeps keys that differ only in case, and scopes, apart', async () => {
    await completed(id('abc'), '"lower"');
    await completed(id('ABC'), '"upper"');
    await completed(id('abc', 'merchant-2'), '"other merchant"');
    assertEqual(await store().forget(id('abc'), { force: false }), 'forgotten', 'forget() of key abc');
    assertEqual(await store().inspect(id('abc')), undefined, 'inspect() of key abc after it');
    assertIncludes(await store().inspect(id('ABC')), { state: 'completed', response: '"upper"' }, 'key ABC');
    assertIncludes(await store().inspect(id('abc', 'merchant-2')), { response: '"other merchant"' }, 'another scope');
    assertEqual(await store().inspect(id('abc', 'MERCHANT-1')), undefined, 'inspect() of scope MERCHANT-1');
    assertEqual(await store().forget(id('abc', 'MERCHANT-1'), { force: true }), 'absent', 'forget() of MERCHANT-1');
    assertEqual(
      await store().inspect({ namespace: `${context.namespace}-x`, scope: 'merchant-1', key: 'ABC' }),
      undefined,
      'inspect() of key ABC in another namespace',
    );
  });

  it('gives exactly one of many concurrent forgets of one record the deletion', async () => {
    await completed(id('race'));
    const results = await Promise.all(Array.from({ length: 20 }, () => store().forget(id('race'), { force: false })));
    assertCount(results, 'forgotten', 1, 'forgotten, of 20 concurrent forget() calls');
    assertCount(results, 'absent', 19, 'absent, of 20 concurrent forget() calls');
  });

  it('gives exactly one of many concurrent forced forgets of an in-flight record the deletion', async () => {
    await store().acquire(id('race'), attempt());
    const results = await Promise.all(Array.from({ length: 20 }, () => store().forget(id('race'), { force: true })));
    assertCount(results, 'forgotten', 1, 'forgotten, of 20 concurrent forced forget() calls');
    assertCount(results, 'absent', 19, 'absent, of 20 concurrent forced forget() calls');
  });
}
