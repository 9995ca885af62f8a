import { MemoryIdempotencyStore } from '@nest-idempotency/core';
import { hash, randomUUID } from 'node:crypto';

/** Scopes the prefilled records are spread over: each stays under the default `maxEntriesPerScope` (a tenth). */
const PREFILL_SCOPES = 16;

/**
 * Fills the store with `count` completed records shaped like the ones the bench's requests leave (a 64-hex-digit
 * fingerprint, a response of about 100 bytes), each string its own, as real records' are: what the garbage
 * collector scans and the eviction walks is then what a store at its `maxEntries` holds. The records belong to
 * other scopes than the bench's requests (which have no principal), so a fresh key evicts at the store's bound,
 * the least recently used record of all, not at its own scope's.
 */
export async function prefillMemoryStore(store: MemoryIdempotencyStore, count: number): Promise<void> {
  const ttlMs = 24 * 60 * 60 * 1000;
  for (let i = 0; i < count; i++) {
    const id = { namespace: 'idempotency', scope: `prefill-tenant-${i % PREFILL_SCOPES}`, key: `prefill-${i}` };
    const token = randomUUID();
    const fingerprint = hash('sha256', id.key, 'hex');
    await store.acquire(id, { fingerprint, token, leaseMs: 60_000, ttlMs, durableWithWork: false });
    // JSON.stringify, as the library's serialisation: a flat string, not the rope a template literal builds.
    const response = JSON.stringify({
      id: i,
      amount: 2500,
      currency: 'EUR',
      reference: `order-${i}`,
      status: 'created',
    });
    if (!(await store.complete(id, token, response, ttlMs))) throw new Error(`prefill: record ${i} did not complete`);
  }
  if (store.size !== count) throw new Error(`prefill: the store holds ${store.size} records, not ${count}`);
}
