/*
 * The client entry as a user imports it (`@nest-idempotency/core/client`), under both module resolutions, making
 * real calls to the fixture app: the first runs, the retry with the same key is replayed, a changed body is a typed
 * refusal, and a server that cannot be reached is an unknown outcome that carries the key. Only fetch: the fixture
 * installs neither @nestjs/axios nor axios, which proves the entry's types and code need no optional peer.
 */
import {
  createIdempotentFetch,
  idempotencyKeyFor,
  IdempotentRequestOutcomeUnknownError,
  IdempotentRequestRejectedError,
  IdempotentResponse,
} from '@nest-idempotency/core/client';

type Check = (name: string, ok: boolean, detail?: string) => void;

export async function exerciseClient(url: string, run: string, check: Check): Promise<void> {
  const client = createIdempotentFetch({ baseUrl: url, maxAttempts: 3, baseDelayMs: 10 });
  const key = idempotencyKeyFor('order', run, 1);
  const first: IdempotentResponse<{ order: number; item: string }> = await client.post(
    '/orders',
    { item: 'pen' },
    { key },
  );
  check(
    'client: the first call runs (201, not replayed)',
    first.status === 201 && !first.replayed && first.attempts === 1 && first.body.item === 'pen',
    JSON.stringify(first),
  );
  const again = await client.post('/orders', { item: 'pen' }, { key: idempotencyKeyFor('order', run, 1) });
  check(
    'client: the same intent derives the same key and is replayed',
    again.replayed && JSON.stringify(again.body) === JSON.stringify(first.body),
    JSON.stringify(again),
  );
  const refused = await client.post('/orders', { item: 'ink' }, { key }).catch((error: unknown) => error);
  check(
    'client: another body under the key is a typed refusal (422), not retried',
    refused instanceof IdempotentRequestRejectedError && refused.status === 422 && refused.attempts === 1,
    String(refused),
  );
  const nowhere = createIdempotentFetch({ baseUrl: 'http://127.0.0.1:9', maxAttempts: 2, baseDelayMs: 10 });
  const lost = await nowhere.post('/orders', { item: 'pen' }, { key }).catch((error: unknown) => error);
  check(
    'client: no server is an unknown outcome carrying the key',
    lost instanceof IdempotentRequestOutcomeUnknownError && lost.key === key && lost.attempts === 2,
    String(lost),
  );
}
