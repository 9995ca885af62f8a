/** Which store a call used, as the `idempotency.store` attribute names it. */
export type IdempotencyStoreKind = 'memory' | 'redis' | 'typeorm' | 'custom';

/**
 * Set on the library's own store classes (and so on their subclasses); any other store is `custom`. A symbol
 * rather than `instanceof`, so that telling the kind needs neither ioredis nor TypeORM loaded.
 */
export const IDEMPOTENCY_STORE_KIND = Symbol.for('nest-idempotency:store-kind');

const kinds = new WeakMap<object, IdempotencyStoreKind>();

/** The kind of `store`, worked out once per store instance. */
export function storeKindOf(store: object): IdempotencyStoreKind {
  let kind = kinds.get(store);
  if (kind === undefined) {
    const declared = (store as { [IDEMPOTENCY_STORE_KIND]?: unknown })[IDEMPOTENCY_STORE_KIND];
    kind = declared === 'memory' || declared === 'redis' || declared === 'typeorm' ? declared : 'custom';
    kinds.set(store, kind);
  }
  return kind;
}

/** Marks a store class (and its subclasses) as one of the library's own, for `storeKindOf`. */
export function declareStoreKind(storeClass: Function, kind: Exclude<IdempotencyStoreKind, 'custom'>): void {
  Object.defineProperty(storeClass.prototype, IDEMPOTENCY_STORE_KIND, { value: kind });
}
