import { parseIdempotencyKey } from '../core/idempotency-key';
import { checkIdempotencyKey, idempotencyKeyFor } from './idempotency-key-for';

describe('idempotencyKeyFor', () => {
  it('derives the same key from the same intent, in a documented format', () => {
    expect(idempotencyKeyFor('payment', 'ord_42')).toBe('payment:ord_42');
    expect(idempotencyKeyFor('payment', 'ord_42')).toBe(idempotencyKeyFor('payment', 'ord_42'));
    expect(idempotencyKeyFor('refund', 42, 3n)).toBe('refund:42:3');
  });

  it('keeps parts apart: a ":" inside a part cannot make two intents one key', () => {
    expect(idempotencyKeyFor('a:b', 'c')).toBe('a%3Ab:c');
    expect(idempotencyKeyFor('a', 'b:c')).toBe('a:b%3Ac');
    expect(idempotencyKeyFor('a', 'b', 'c')).toBe('a:b:c');
  });

  it('percent-encodes anything that is not visible ASCII, so the key is always valid', () => {
    const key = idempotencyKeyFor('paiement', 'commande n° 7 / 2026');
    expect(key).toBe('paiement:commande%20n%C2%B0%207%20%2F%202026');
    expect(parseIdempotencyKey(key)).toEqual({ status: 'valid', key });
  });

  it('hashes a key longer than 255 characters, stably, into a valid key', () => {
    const id = 'x'.repeat(300);
    const key = idempotencyKeyFor('payment', id);
    expect(key).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(key).toBe(idempotencyKeyFor('payment', id));
    expect(key).not.toBe(idempotencyKeyFor('payment', `${id}y`));
    expect(idempotencyKeyFor('p', 'x'.repeat(253))).toHaveLength(255);
    expect(idempotencyKeyFor('p', 'x'.repeat(254))).toMatch(/^sha256:/);
  });

  it('refuses what would make one key for many intents: no id, an empty id, a non-integer number', () => {
    expect(() => (idempotencyKeyFor as (operation: string) => string)('payment')).toThrow(TypeError);
    expect(() => idempotencyKeyFor('payment', '')).toThrow('the id 1 is empty');
    expect(() => idempotencyKeyFor('', 'ord_1')).toThrow('the operation is empty');
    expect(() => idempotencyKeyFor('payment', 0.1 + 0.2)).toThrow('not a safe integer');
    expect(() => idempotencyKeyFor('payment', undefined as unknown as string)).toThrow('undefined');
  });
});

describe('checkIdempotencyKey', () => {
  it('passes a valid key and refuses what the server would refuse, before anything is sent', () => {
    expect(checkIdempotencyKey('abc')).toBe('abc');
    expect(() => checkIdempotencyKey('')).toThrow(TypeError);
    expect(() => checkIdempotencyKey('a b')).toThrow('visible ASCII');
    expect(() => checkIdempotencyKey('k'.repeat(256))).toThrow('longer than 255');
    expect(() => checkIdempotencyKey(undefined as unknown as string)).toThrow('not a string');
  });
});
