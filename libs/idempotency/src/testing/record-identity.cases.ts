import { acquireRequest as attempt } from './acquire-request';
import { assertCount, assertIncludes } from './contract-assertions';
import type { ContractContext } from './contract-context';

/** Which record an id names: its three parts kept apart, compared byte for byte, and one winner of a race for it. */
export function recordIdentityCases(context: ContractContext): void {
  const { it, id } = context;
  const store = () => context.store;

  it('keeps namespace, scope and key apart, even when their characters could run together', async () => {
    const { namespace } = context;
    await store().acquire({ namespace, scope: 'a:b', key: 'c' }, attempt());
    const acquired = { state: 'acquired' };
    assertIncludes(
      await store().acquire({ namespace, scope: 'a', key: 'b:c' }, attempt()),
      acquired,
      'scope a, key b:c',
    );
    assertIncludes(
      await store().acquire({ namespace, scope: 'a:b', key: 'c' }, attempt()),
      { state: 'in_flight' },
      'scope a:b, key c again',
    );
    assertIncludes(
      await store().acquire({ namespace: `${namespace}-x`, scope: 'a:b', key: 'c' }, attempt()),
      acquired,
      'scope a:b, key c in another namespace',
    );
    assertIncludes(await store().acquire({ namespace, scope: '', key: 'a:b:c' }, attempt()), acquired, 'key a:b:c');
    assertIncludes(await store().acquire(id('k', 'merchant-2'), attempt()), acquired, 'another scope');
  });

  it('compares keys and scopes byte for byte: no case folding, no trailing-space padding', async () => {
    await store().acquire(id('abc', 'merchant'), attempt());
    const acquired = { state: 'acquired' };
    assertIncludes(await store().acquire(id('ABC', 'merchant'), attempt()), acquired, 'key ABC beside abc');
    assertIncludes(await store().acquire(id('abc', 'MERCHANT'), attempt()), acquired, 'scope MERCHANT beside merchant');
    assertIncludes(await store().acquire(id('abc', 'merchant '), attempt()), acquired, "scope 'merchant ' (a space)");
    assertIncludes(await store().acquire(id('abc', 'mérchant'), attempt()), acquired, 'scope mérchant');
    assertIncludes(await store().acquire(id('abc', 'merchant'), attempt()), { state: 'in_flight' }, 'the first again');
  });

  it('accepts every visible ASCII character and 255-character keys', async () => {
    const everyVisible = Array.from({ length: 0x7e - 0x21 + 1 }, (_, i) => String.fromCharCode(0x21 + i)).join('');
    const long = 'k'.repeat(255);
    for (const key of [everyVisible, long, '{tag}', '%', "'; DROP TABLE x; --"]) {
      assertIncludes(await store().acquire(id(key), attempt()), { state: 'acquired' }, `key ${key}`);
      assertIncludes(await store().acquire(id(key), attempt()), { state: 'in_flight' }, `key ${key} again`);
    }
  });

  it('gives exactly one of 100 concurrent acquires of one key the record', async () => {
    const results = await Promise.all(Array.from({ length: 100 }, () => store().acquire(id('race'), attempt())));
    const states = results.map((result) => result.state);
    assertCount(states, 'acquired', 1, 'acquired, of 100 concurrent acquires');
    assertCount(states, 'in_flight', 99, 'in flight, of 100 concurrent acquires');
  });
}
