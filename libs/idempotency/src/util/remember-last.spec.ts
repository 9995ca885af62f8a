import { rememberLast } from './remember-last';

describe('rememberLast', () => {
  it('computes once for a run of equal inputs, again whenever the input changes, and gives each its own result', () => {
    const inputs: string[] = [];
    const upper = rememberLast((input: string) => (inputs.push(input), input.toUpperCase()));
    expect(['a', 'a', 'b', 'b', 'a', ''].map(upper)).toEqual(['A', 'A', 'B', 'B', 'A', '']);
    expect(inputs).toEqual(['a', 'b', 'a', '']);
  });
});
