/**
 * The `fingerprint.include` / `fingerprint.exclude` paths: dot paths into a body, a message's payload or a mutation's
 * arguments (`amount`, `customer.id`, `items.*.sku`), parsed once when a handler's options are resolved, so a
 * misspelt path stops start-up instead of silently fingerprinting the wrong thing.
 */

/** A path segment that stands for every element of an array or every member of an object. */
export const EVERY_MEMBER: unique symbol = Symbol('every member');

/** One parsed path: object keys (or array indices, written as digits) and `EVERY_MEMBER`. */
export type PayloadPath = ReadonlyArray<string | typeof EVERY_MEMBER>;

/** Which parts of a payload make up its fingerprint: only `paths` (include), or everything but them (exclude). */
export interface PayloadSelection {
  readonly mode: 'include' | 'exclude';
  /** Sorted by their written form, so the order the option lists them in never changes a fingerprint. */
  readonly paths: readonly PayloadPath[];
}

/** What `fingerprint` may say about the payload; the other fields (headers) are not this file's business. */
export interface FingerprintPathOptions {
  include?: readonly string[];
  exclude?: readonly string[];
}

/**
 * The selection a `fingerprint` option declares: undefined when it declares none (`exclude: []` included, which a
 * route uses to fingerprint the whole payload under a module-wide selection). Throws, naming the option and the
 * path, on `include` with `exclude`, an empty `include`, a path that does not parse, and a path given twice.
 */
export function compilePayloadSelection(options: FingerprintPathOptions): PayloadSelection | undefined {
  const { include, exclude } = options;
  if (include !== undefined && exclude !== undefined) {
    throw new Error(
      'Idempotency options "fingerprint.include" and "fingerprint.exclude" exclude each other: ' +
        'list the paths that make up the fingerprint, or the ones left out of it, not both',
    );
  }
  if (include !== undefined) {
    if (include.length === 0) {
      throw new Error(
        'Idempotency option "fingerprint.include" is empty, which would leave the whole payload out of the ' +
          'fingerprint: list the paths that make two requests different',
      );
    }
    return { mode: 'include', paths: parsePaths('fingerprint.include', include) };
  }
  if (exclude === undefined || exclude.length === 0) return undefined;
  return { mode: 'exclude', paths: parsePaths('fingerprint.exclude', exclude) };
}

function parsePaths(option: string, written: readonly string[]): PayloadPath[] {
  const byForm = new Map<string, PayloadPath>();
  for (const path of written) {
    let parsed: PayloadPath;
    try {
      parsed = parsePayloadPath(path);
    } catch (error) {
      throw new Error(`Idempotency option "${option}": the path ${JSON.stringify(path)} ${(error as Error).message}`);
    }
    const form = writtenForm(parsed);
    if (byForm.has(form))
      throw new Error(`Idempotency option "${option}" lists the path ${JSON.stringify(path)} twice`);
    byForm.set(form, parsed);
  }
  return [...byForm.keys()].sort().map((form) => byForm.get(form)!);
}

/**
 * Parses `customer.id`, `items.*.sku`, `metadata.example\.com`: segments split on `.`; `*` alone is every member;
 * `\.`, `\*` and `\\` are a literal dot, star and backslash in a key. Throws with what is wrong, as "is empty".
 */
export function parsePayloadPath(path: string): PayloadPath {
  if (path.length === 0) throw new Error('is empty');
  const segments: Array<string | typeof EVERY_MEMBER> = [];
  let key = '';
  /** Characters the segment so far is written with, escapes counting one. */
  let written = 0;
  let unescapedStar = false;
  const endSegment = () => {
    if (written === 0) {
      throw new Error('has an empty segment (write a key that contains a dot with "\\.", as in "a\\.b")');
    }
    if (unescapedStar && written > 1) {
      throw new Error('has a "*" inside a key: "*" stands alone for every member; a key containing a star is "\\*"');
    }
    segments.push(unescapedStar ? EVERY_MEMBER : key);
    key = '';
    written = 0;
    unescapedStar = false;
  };
  for (let index = 0; index < path.length; index++) {
    const char = path[index];
    if (char === '.') {
      endSegment();
      continue;
    }
    if (char === '\\') {
      const escaped = path[index + 1];
      if (escaped !== '.' && escaped !== '*' && escaped !== '\\') {
        throw new Error('has a "\\" that is not followed by ".", "*" or "\\"');
      }
      key += escaped;
      index++;
    } else {
      if (char === '*') unescapedStar = true;
      key += char;
    }
    written++;
  }
  endSegment();
  return segments;
}

/** The path written back with the escapes it needs: one form per path, for finding duplicates and sorting. */
function writtenForm(path: PayloadPath): string {
  return path.map((segment) => (segment === EVERY_MEMBER ? '*' : segment.replace(/[\\.*]/g, '\\$&'))).join('.');
}
