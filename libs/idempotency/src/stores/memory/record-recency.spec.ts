import { RecencyEntry, RecordRecency } from './record-recency';

interface Entry extends RecencyEntry {
  name: string;
}
const entry = (name: string): Entry => ({
  name,
  older: undefined,
  newer: undefined,
  olderInScope: undefined,
  newerInScope: undefined,
});

/** The names from least to most recently used, walking the links `list` uses. */
function order(list: RecordRecency<Entry>, inScope: boolean): string[] {
  const names: string[] = [];
  for (let at = list.oldest; at; at = inScope ? at.newerInScope : at.newer) names.push(at.name);
  return names;
}

describe('RecordRecency', () => {
  it('keeps a value in one list of each kind, each in its own order', () => {
    const store = new RecordRecency<Entry>(false);
    const scope = new RecordRecency<Entry>(true);
    const [a, b, c] = ['a', 'b', 'c'].map(entry);
    for (const value of [a, b, c]) store.push(value);
    for (const value of [c, b, a]) scope.push(value);
    store.touch(a);
    expect(order(store, false)).toEqual(['b', 'c', 'a']);
    expect(order(scope, true)).toEqual(['c', 'b', 'a']);
    scope.remove(b);
    expect(order(scope, true)).toEqual(['c', 'a']);
    expect(order(store, false)).toEqual(['b', 'c', 'a']);
    expect([store.size, scope.size]).toEqual([3, 2]);
    expect(b.olderInScope ?? b.newerInScope).toBeUndefined();
  });

  it('finds the least recently used after removing and touching at either end', () => {
    const list = new RecordRecency<Entry>(false);
    const [a, b, c] = ['a', 'b', 'c'].map(entry);
    for (const value of [a, b, c]) list.push(value);
    list.remove(a);
    expect(list.oldest).toBe(b);
    list.touch(b);
    expect(order(list, false)).toEqual(['c', 'b']);
    list.remove(b);
    list.remove(c);
    expect(list.oldest).toBeUndefined();
    expect(list.size).toBe(0);
    list.push(a);
    expect(order(list, false)).toEqual(['a']);
  });
});
