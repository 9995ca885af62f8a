import { MemoryIdempotencyStore } from '@nest-idempotency/core';
import { describeIdempotencyStoreContract } from './idempotency-store.contract';

describeIdempotencyStoreContract('memory', async () => ({ store: new MemoryIdempotencyStore() }));
