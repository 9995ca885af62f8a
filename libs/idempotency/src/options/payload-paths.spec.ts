import { compilePayloadSelection, EVERY_MEMBER, parsePayloadPath } from './payload-paths';

describe('parsePayloadPath', () => {
  it.each<[string, Array<string | typeof EVERY_MEMBER>]>([
    ['amount', ['amount']],
    ['customer.id', ['customer', 'id']],
    ['items.*.sku', ['items', EVERY_MEMBER, 'sku']],
    ['items.0.sku', ['items', '0', 'sku']],
    ['*', [EVERY_MEMBER]],
    ['metadata.example\\.com', ['metadata', 'example.com']],
    ['flags.\\*', ['flags', '*']],
    ['path.back\\\\slash', ['path', 'back\\slash']],
    ['__proto__.polluted', ['__proto__', 'polluted']],
  ])('reads %s', (written, segments) => {
    expect(parsePayloadPath(written)).toEqual(segments);
  });

  it.each([
    ['', 'is empty'],
    ['.amount', 'has an empty segment'],
    ['amount.', 'has an empty segment'],
    ['customer..id', 'has an empty segment'],
    ['items.*sku', 'has a "*" inside a key'],
    ['items.sku*', 'has a "*" inside a key'],
    ['items.**', 'has a "*" inside a key'],
    ['a\\b', 'has a "\\" that is not followed by ".", "*" or "\\"'],
    ['trailing\\', 'has a "\\" that is not followed by ".", "*" or "\\"'],
  ])('refuses %j: it %s', (written, problem) => {
    expect(() => parsePayloadPath(written)).toThrow(problem);
  });
});

describe('compilePayloadSelection', () => {
  it('parses include and exclude, sorted so the order they are listed in never matters', () => {
    const forward = compilePayloadSelection({ include: ['customer.id', 'amount', 'items.*.sku'] });
    const backward = compilePayloadSelection({ include: ['items.*.sku', 'amount', 'customer.id'] });
    expect(forward).toEqual({
      mode: 'include',
      paths: [['amount'], ['customer', 'id'], ['items', EVERY_MEMBER, 'sku']],
    });
    expect(backward).toEqual(forward);
    expect(compilePayloadSelection({ exclude: ['sentAt'] })).toEqual({ mode: 'exclude', paths: [['sentAt']] });
  });

  it('declares no selection for no paths and for an empty exclude (the whole payload counts)', () => {
    expect(compilePayloadSelection({})).toBeUndefined();
    expect(compilePayloadSelection({ exclude: [] })).toBeUndefined();
  });

  it.each<[string, Parameters<typeof compilePayloadSelection>[0], string]>([
    [
      'include with exclude',
      { include: ['amount'], exclude: ['sentAt'] },
      'Idempotency options "fingerprint.include" and "fingerprint.exclude" exclude each other',
    ],
    ['an empty include', { include: [] }, 'Idempotency option "fingerprint.include" is empty'],
    ['an empty path', { include: ['amount', ''] }, 'Idempotency option "fingerprint.include": the path "" is empty'],
    [
      'an empty segment',
      { exclude: ['trace..id'] },
      'Idempotency option "fingerprint.exclude": the path "trace..id" has an empty segment',
    ],
    ['a path given twice', { include: ['amount', 'amount'] }, 'lists the path "amount" twice'],
    ['an escaped path given twice', { exclude: ['host.a\\.b', 'host.a\\.b'] }, 'lists the path "host.a\\\\.b" twice'],
  ])('refuses %s, naming the option and the path', (_case, options, message) => {
    expect(() => compilePayloadSelection(options)).toThrow(message);
  });

  it('tells a key with a dot from two keys, and a literal star from every member', () => {
    const selection = compilePayloadSelection({ exclude: ['a.b', 'a\\.b', 'x.*', 'x.\\*'] });
    expect(selection?.paths).toHaveLength(4);
  });
});
