import { MemoryIdempotencyStore } from '@nest-idempotency/core';
import { describeIdempotencyStoreContract } from '@nest-idempotency/core/testing';
import { testRunner } from '../support/test-runner';

describeIdempotencyStoreContract('memory', { open: () => ({ store: new MemoryIdempotencyStore() }) }, testRunner);
