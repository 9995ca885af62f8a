import assert from 'node:assert/strict';
import { inspect } from 'node:util';

// node:assert rather than a runner's `expect`, so that the suite runs under any runner and its failures read the same
// in each. Every assertion names what it checked, because the stack of a user's failure points into the package's
// compiled files: the message alone has to say which step of the case went wrong and what came back.

const show = (value: unknown): string => inspect(value, { depth: 4, breakLength: Infinity, maxStringLength: 120 });

const failure = (what: string, expected: string, actual: unknown): string =>
  `${what}: expected ${expected}, got ${show(actual)}`;

/** A flat result without the properties set to undefined, which a store may leave on it (as Jest's toEqual does). */
const definedOnly = (value: unknown): unknown =>
  value !== null && typeof value === 'object' && !Array.isArray(value)
    ? Object.fromEntries(Object.entries(value).filter(([, property]) => property !== undefined))
    : value;

/** `actual` equals `expected` deeply and strictly. */
export function assertEqual(actual: unknown, expected: unknown, what: string): void {
  assert.deepEqual(definedOnly(actual), expected, failure(what, show(expected), actual));
}

/** `actual` is an object with every property of `expected`, deeply and strictly equal (others may be there too). */
export function assertIncludes(actual: unknown, expected: Record<string, unknown>, what: string): void {
  const message = failure(what, `an object with ${show(expected)}`, actual);
  assert.ok(actual !== null && typeof actual === 'object', message);
  const picked = Object.fromEntries(
    Object.keys(expected).map((name) => [name, (actual as Record<string, unknown>)[name]]),
  );
  assert.deepEqual(picked, expected, message);
}

/** `actual` is a number from `min` to `max`, both included. */
export function assertBetween(actual: unknown, min: number, max: number, what: string): void {
  assert.ok(
    typeof actual === 'number' && actual >= min && actual <= max,
    failure(what, `a number from ${min} to ${max}`, actual),
  );
}

/** `holds` is true of `actual`, which is shown with `expected` (what it should have been) when it is not. */
export function assertThat(actual: unknown, holds: boolean, expected: string, what: string): void {
  assert.ok(holds, failure(what, expected, actual));
}

/** Exactly `expected` of `results` are `value`. */
export function assertCount<T>(results: T[], value: T, expected: number, what: string): void {
  const count = results.filter((result) => result === value).length;
  assert.equal(count, expected, `${what}: expected ${expected} of ${results.length}, got ${count}`);
}
