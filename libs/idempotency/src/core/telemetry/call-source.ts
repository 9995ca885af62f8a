import { IdempotentCall } from '../idempotent-call';

/** What telemetry needs to know of a call: who made it, its route and its store. A refusal before any call has it too. */
export type CallSource = Pick<IdempotentCall, 'transport' | 'route'> & { options: { store: object } };

/** What a store call was doing when it failed, as `idempotency.operation` names it. */
export type StoreOperation = 'acquire' | 'complete' | 'release';
