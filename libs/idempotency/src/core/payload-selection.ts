import { EVERY_MEMBER, PayloadPath, PayloadSelection } from '../options/payload-paths';

/** Where a selected value sits: object keys as strings, array indices as numbers (so `[x]` never equals `{"0": x}`). */
export type SelectedAt = Array<string | number>;

/**
 * A payload `fingerprint.include` or `fingerprint.exclude` cannot select from: not an object or an array (a raw
 * string or Buffer body, a number). Fingerprinting it whole would not be what the route asked for, and fingerprinting
 * nothing of it would make every such payload the same request, so the call is refused.
 */
export class UnselectablePayloadError extends Error {
  constructor(
    /** What the payload is, as "a string". */
    readonly kind: string,
    readonly mode: PayloadSelection['mode'],
  ) {
    super(`it is ${kind}, and fingerprint.${mode} selects fields of a JSON object or array`);
    this.name = 'UnselectablePayloadError';
  }
}

/**
 * What of `payload` the selection keeps, ready to canonicalise. Include: the `[path, value]` of each included path
 * present, in the paths' sorted order (a path missing from the payload is absent, which `null` is not). Exclude: the
 * payload without the excluded paths, the payload itself when none is there. Never changes `payload`, and follows
 * only its own enumerable properties (never `__proto__` into a prototype). No payload (`undefined`, `null`) selects
 * nothing; any other non-object is an `UnselectablePayloadError`.
 */
export function selectPayload(payload: unknown, selection: PayloadSelection): unknown {
  if (payload !== undefined && payload !== null && (typeof payload !== 'object' || Buffer.isBuffer(payload))) {
    throw new UnselectablePayloadError(describeKind(payload), selection.mode);
  }
  if (selection.mode === 'exclude') {
    let kept: unknown = payload;
    for (const path of selection.paths) kept = without(kept, path, 0);
    return kept;
  }
  const selected: Array<[SelectedAt, unknown]> = [];
  for (const path of selection.paths) collect(payload, path, 0, [], selected);
  return selected;
}

function collect(value: unknown, path: PayloadPath, depth: number, at: SelectedAt, into: Array<[SelectedAt, unknown]>) {
  if (value === undefined) return;
  if (depth === path.length) {
    into.push([at, value]);
    return;
  }
  if (typeof value !== 'object' || value === null) return;
  for (const member of membersAt(value, path[depth])) {
    collect((value as Record<string | number, unknown>)[member], path, depth + 1, [...at, member], into);
  }
}

/** `value` without `path` (from `depth` on): copied along the path where something goes, else `value` itself. */
function without(value: unknown, path: PayloadPath, depth: number): unknown {
  if (typeof value !== 'object' || value === null) return value;
  const members = membersAt(value, path[depth]);
  if (members.length === 0) return value;
  const last = depth === path.length - 1;
  if (Array.isArray(value)) {
    // `*` names every element; any other segment one, so the filter stays linear in the array's length.
    if (last) return path[depth] === EVERY_MEMBER ? [] : value.filter((_element, index) => index !== members[0]);
    let copy: unknown[] | undefined;
    for (const index of members as number[]) {
      const kept = without(value[index], path, depth + 1);
      if (kept !== value[index]) (copy ??= value.slice())[index] = kept;
    }
    return copy ?? value;
  }
  const object = value as Record<string, unknown>;
  // The spread copies an own "__proto__" key as an own data property, which assignment and delete then reach:
  // it stays data, and no prototype is ever set.
  let copy: Record<string, unknown> | undefined;
  for (const key of members as string[]) {
    if (last) {
      copy ??= { ...object };
      delete copy[key];
      continue;
    }
    const kept = without(object[key], path, depth + 1);
    if (kept !== object[key]) {
      copy ??= { ...object };
      copy[key] = kept;
    }
  }
  return copy ?? value;
}

/**
 * The members of `value` a segment names: every element or own enumerable key (sorted, so key order never
 * matters) for `*`; else the element at a digits-only index of an array, or the own enumerable key of an object.
 */
function membersAt(value: object, segment: PayloadPath[number]): Array<string | number> {
  if (Array.isArray(value)) {
    if (segment === EVERY_MEMBER) return value.map((_element, index) => index);
    if (!ARRAY_INDEX.test(segment)) return NONE;
    const index = Number(segment);
    return index < value.length ? [index] : NONE;
  }
  if (segment === EVERY_MEMBER) return Object.keys(value).sort();
  return Object.prototype.propertyIsEnumerable.call(value, segment) ? [segment] : NONE;
}

const ARRAY_INDEX = /^(?:0|[1-9][0-9]{0,8})$/;
const NONE: never[] = [];

function describeKind(payload: unknown): string {
  return Buffer.isBuffer(payload) ? 'a Buffer' : `a ${typeof payload}`;
}
