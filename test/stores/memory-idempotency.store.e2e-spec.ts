import { MemoryIdempotencyStore } from '@app/idempotency';
import { describeIdempotencyStoreContract } from './idempotency-store.contract';

describeIdempotencyStoreContract('memory', async () => ({ store: new MemoryIdempotencyStore() }));
