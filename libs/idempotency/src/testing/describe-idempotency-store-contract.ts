import { randomUUID } from 'node:crypto';
import type { IdempotencyRecordId, IdempotencyStore } from '../index';
import type { ContractContext } from './contract-context';
import type { IdempotencyStoreContractOptions, IdempotencyStoreContractSubject } from './contract-options';
import { IdempotencyStoreContractRunner, suiteHooksOf } from './contract-runner';
import { expiryCases } from './expiry.cases';
import { inspectAndForgetCases } from './inspect-and-forget.cases';
import { ownershipCases } from './ownership.cases';
import { recordIdentityCases } from './record-identity.cases';

const DEFAULT_CLOCK_SLACK_MS = 1_000;

/**
 * Registers the `IdempotencyStore` contract, every case the library's own stores pass, as a suite named
 * `IdempotencyStore contract: <name>` with the runner given. The store is opened once for the suite; each case works
 * under a fresh namespace, so the store's server needs no cleaning between cases or runs.
 */
export function describeIdempotencyStoreContract(
  name: string,
  options: IdempotencyStoreContractOptions,
  runner: IdempotencyStoreContractRunner,
): void {
  const { beforeAll, afterAll } = suiteHooksOf(runner);
  runner.describe(`IdempotencyStore contract: ${name}`, () => {
    let subject: IdempotencyStoreContractSubject | undefined;
    let namespace = '';
    beforeAll(async () => {
      subject = await options.open();
    });
    afterAll(async () => {
      await subject?.close?.();
    });
    runner.beforeEach(async () => {
      namespace = `contract-${randomUUID()}`;
    });

    const context: ContractContext = {
      it: runner.it,
      get store(): IdempotencyStore {
        if (!subject) throw new Error(`IdempotencyStore contract: ${name}: open() has not resolved a store`);
        return subject.store;
      },
      get namespace() {
        return namespace;
      },
      id: (key = 'key-1', scope = 'merchant-1'): IdempotencyRecordId => ({ namespace, scope, key }),
    };
    ownershipCases(context);
    recordIdentityCases(context);
    expiryCases(context);
    if (options.inspectAndForget ?? true) {
      runner.describe('inspect and forget', () =>
        inspectAndForgetCases(context, options.clockSlackMs ?? DEFAULT_CLOCK_SLACK_MS),
      );
    }
  });
}
