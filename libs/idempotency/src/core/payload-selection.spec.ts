import { compilePayloadSelection, PayloadSelection } from '../options/payload-paths';
import { selectPayload, UnselectablePayloadError } from './payload-selection';

const include = (...paths: string[]) => compilePayloadSelection({ include: paths }) as PayloadSelection;
const exclude = (...paths: string[]) => compilePayloadSelection({ exclude: paths }) as PayloadSelection;

describe('selectPayload with include', () => {
  const order = {
    amount: 100,
    customer: { id: 'c-1', name: 'Ada' },
    items: [
      { sku: 'a', qty: 1 },
      { sku: 'b', qty: 2 },
    ],
    sentAt: '2026-12-07T13:00:00Z',
  };

  it('keeps the path and value of each included path, nested ones too', () => {
    expect(selectPayload(order, include('amount', 'customer.id'))).toEqual([
      [['amount'], 100],
      [['customer', 'id'], 'c-1'],
    ]);
  });

  it('reads every element of an array with *, as numbered positions', () => {
    expect(selectPayload(order, include('items.*.sku'))).toEqual([
      [['items', 0, 'sku'], 'a'],
      [['items', 1, 'sku'], 'b'],
    ]);
    expect(selectPayload(order, include('items.1.qty'))).toEqual([[['items', 1, 'qty'], 2]]);
    expect(selectPayload(order, include('items.2.qty', 'items.01.qty'))).toEqual([]);
  });

  it('reads every member of an object with *, in key order whatever order they came in', () => {
    const forward = selectPayload({ tags: { b: 2, a: 1 } }, include('tags.*'));
    expect(forward).toEqual([
      [['tags', 'a'], 1],
      [['tags', 'b'], 2],
    ]);
    expect(selectPayload({ tags: { a: 1, b: 2 } }, include('tags.*'))).toEqual(forward);
  });

  it('counts a missing path as absent, which null is not', () => {
    expect(selectPayload({ amount: 1 }, include('amount', 'note'))).toEqual([[['amount'], 1]]);
    expect(selectPayload({ amount: 1, note: null }, include('amount', 'note'))).toEqual([
      [['amount'], 1],
      [['note'], null],
    ]);
    expect(selectPayload({ amount: 1, note: undefined }, include('amount', 'note'))).toEqual([[['amount'], 1]]);
  });

  it('finds nothing below a value that is not an object, and in no payload at all', () => {
    expect(selectPayload({ customer: 'c-1' }, include('customer.id'))).toEqual([]);
    expect(selectPayload({ customer: null }, include('customer.id'))).toEqual([]);
    expect(selectPayload(undefined, include('amount'))).toEqual([]);
    expect(selectPayload(null, include('amount'))).toEqual([]);
  });

  it('tells an array element from an object member named by digits', () => {
    expect(selectPayload({ items: ['x'] }, include('items.0'))).not.toEqual(
      selectPayload({ items: { 0: 'x' } }, include('items.0')),
    );
  });

  it('reads keys with dots and stars written escaped', () => {
    const payload = { hosts: { 'example.com': 1, example: { com: 2 } }, flags: { '*': true, other: false } };
    expect(selectPayload(payload, include('hosts.example\\.com', 'flags.\\*'))).toEqual([
      [['flags', '*'], true],
      [['hosts', 'example.com'], 1],
    ]);
  });

  it('never follows a path into the prototype: only own enumerable keys', () => {
    expect(selectPayload({}, include('constructor.name', 'toString', '__proto__'))).toEqual([]);
    const parsed = JSON.parse('{"__proto__": {"admin": true}}');
    expect(selectPayload(parsed, include('__proto__.admin'))).toEqual([[['__proto__', 'admin'], true]]);
    expect(({} as Record<string, unknown>).admin).toBeUndefined();
  });
});

describe('selectPayload with exclude', () => {
  it('returns a copy without the excluded paths, and leaves the payload as it was', () => {
    const payload = { amount: 1, meta: { traceId: 't', source: 'app' }, sentAt: 's' };
    const kept = selectPayload(payload, exclude('sentAt', 'meta.traceId'));
    expect(kept).toEqual({ amount: 1, meta: { source: 'app' } });
    expect(payload).toEqual({ amount: 1, meta: { traceId: 't', source: 'app' }, sentAt: 's' });
  });

  it('returns the payload itself when none of the paths is in it', () => {
    const payload = { amount: 1, meta: { source: 'app' } };
    expect(selectPayload(payload, exclude('sentAt', 'meta.traceId', 'amount.cents'))).toBe(payload);
    expect(selectPayload(undefined, exclude('sentAt'))).toBeUndefined();
    expect(selectPayload(null, exclude('sentAt'))).toBeNull();
  });

  it('removes a field from every element with *, and an element by its index', () => {
    const payload = {
      items: [{ sku: 'a', nonce: 1 }, { sku: 'b', nonce: 2 }, { sku: 'c' }, 'plain'],
    };
    expect(selectPayload(payload, exclude('items.*.nonce'))).toEqual({
      items: [{ sku: 'a' }, { sku: 'b' }, { sku: 'c' }, 'plain'],
    });
    expect(selectPayload(payload, exclude('items.0'))).toEqual({
      items: [{ sku: 'b', nonce: 2 }, { sku: 'c' }, 'plain'],
    });
    expect(payload.items[0]).toEqual({ sku: 'a', nonce: 1 });
  });

  it('removes every member of an object with *, and works on an array payload', () => {
    expect(selectPayload({ amount: 1, labels: { a: 1, b: 2 } }, exclude('labels.*'))).toEqual({
      amount: 1,
      labels: {},
    });
    expect(selectPayload([{ id: 1, at: 'x' }], exclude('*.at'))).toEqual([{ id: 1 }]);
    expect(selectPayload({ amount: 1, items: [1, 2, 3] }, exclude('items.*'))).toEqual({ amount: 1, items: [] });
  });

  it('keeps an own "__proto__" key as data, and never sets a prototype', () => {
    const payload = JSON.parse('{"__proto__": {"admin": true, "nonce": 1}, "amount": 1}');
    const kept = selectPayload(payload, exclude('__proto__.nonce')) as Record<string, unknown>;
    expect(Object.getPrototypeOf(kept)).toBe(Object.prototype);
    expect(Object.keys(kept)).toEqual(['__proto__', 'amount']);
    expect(Object.getOwnPropertyDescriptor(kept, '__proto__')?.value).toEqual({ admin: true });
    expect(selectPayload({ amount: 1 }, exclude('constructor.name'))).toEqual({ amount: 1 });
  });
});

describe('selectPayload on a payload that has no fields', () => {
  it.each([
    ['a string', 'amount=1', 'it is a string, and fingerprint.include selects fields of a JSON object or array'],
    ['a Buffer', Buffer.from('{}'), 'it is a Buffer, and fingerprint.include selects fields of a JSON object or array'],
    ['a number', 7, 'it is a number, and fingerprint.include selects fields of a JSON object or array'],
  ])('refuses %s', (_case, payload, message) => {
    expect(() => selectPayload(payload, include('amount'))).toThrow(message);
    expect(() => selectPayload(payload, exclude('amount'))).toThrow(UnselectablePayloadError);
  });
});
