import fc from 'fast-check';
import {
  bytesOf,
  insertAll,
  keyHeaderName,
  longString,
  looksQuoted,
  ows,
  quoteKey,
  visibleChar,
  visibleString,
} from './arbitraries';
import { errorBodyProblem, fuzzParameters, FuzzTarget, Route, ROUTES, Tally } from './fuzz-target';
import { describeResponse, jsonBody, RawHeader, RawResponse, sendRaw } from './raw-http';

/**
 * Bad input, keys: generated `Idempotency-Key` headers, written byte for byte on a raw socket
 * (Node's HTTP client refuses control characters and non-ASCII), against the three idempotent writes of
 * the payments app. Every request carries a body the route would accept, so a key wrongly let through
 * shows up as a changed ledger.
 *
 * What each class of key must get (docs/protocol.md §1: 1-255 visible ASCII characters, the quoted sf-string
 * form accepted and unquoted, sent once):
 * - missing, empty, longer than 255, non-ASCII, inner space/tab, malformed quoted form, repeated header:
 *   400 from the app, with the JSON error body `{statusCode: 400, error, message}` naming the header;
 * - control characters (other than HTAB): 400. Node's HTTP parser refuses most of them before the app sees
 *   the request (its answer has no body); whatever reaches the app gets the app's JSON 400;
 * - a header block over Node's 16 KiB limit: 431 from Node's parser;
 * - valid keys, quoted or not, with optional whitespace around them (the parser strips it) and any header
 *   name case: 201, and a retry in any other form of the same key replays the same answer; a key reused
 *   for another request: 422.
 * A refused request changes no balance, writes no customer, payment or refund, and leaves no idempotency
 * record (counted in the `idempotency_records` table of the app's SQLite file).
 */

/** Where a refusal comes from: the app (JSON error body), Node's HTTP parser (no body), or either. */
type Refuser = 'app' | 'parser' | 'either';

interface KeyCase {
  kind: string;
  /** Each occurrence of the key header: its name's spelling, its raw value bytes, where it goes among the headers. */
  occurrences: Array<{ name: string; value: Buffer; at: number }>;
  status: 400 | 431;
  from: Refuser;
}

const single =
  (kind: string, status: 400 | 431 = 400, from: Refuser = 'app') =>
  ([name, bytes, at]: [string, number[] | string, number]): KeyCase => ({
    kind,
    occurrences: [{ name, value: typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : Buffer.from(bytes), at }],
    status,
    from,
  });

const inserts = (bytes: fc.Arbitrary<number[]>, max = 3) =>
  fc.array(fc.record({ at: fc.nat(), bytes }), { minLength: 1, maxLength: max });
/** Visible ASCII without `"` and `\`: the inside of a quoted key that needs no escaping. */
const plainInner = (min: number, max: number) =>
  fc.string({ unit: visibleChar.filter((c) => c !== '"' && c !== '\\'), minLength: min, maxLength: max });
const CONTROL_BYTES = [...Array.from({ length: 0x20 }, (_, i) => i).filter((code) => code !== 0x09), 0x7f];
const nonAsciiCodePoint = fc
  .integer({ min: 0x80, max: 0x10ffff })
  .filter((code) => code < 0xd800 || code > 0xdfff)
  .map((code) => [...Buffer.from(String.fromCodePoint(code), 'utf8')]);

const invalidKey: fc.Arbitrary<KeyCase> = fc.oneof(
  fc.constant<KeyCase>({ kind: 'missing', occurrences: [], status: 400, from: 'app' }),
  fc.tuple(keyHeaderName, fc.constantFrom('', ' ', '\t', '   ', ' \t '), fc.nat()).map(single('empty')),
  fc
    .tuple(
      keyHeaderName,
      longString(256, 4_000).filter((key) => !looksQuoted(key)),
      fc.nat(),
    )
    .map(single('256+ characters')),
  fc.tuple(keyHeaderName, longString(256, 1_000).map(quoteKey), fc.nat()).map(single('256+ characters, quoted')),
  fc.tuple(keyHeaderName, longString(17_000, 24_000), fc.nat()).map(single('header over 16 KiB', 431, 'parser')),
  fc
    .tuple(
      keyHeaderName,
      fc.tuple(
        visibleString(0, 40),
        inserts(fc.array(fc.integer({ min: 0x80, max: 0xff }), { minLength: 1, maxLength: 3 })),
      ),
      fc.nat(),
    )
    .map(([name, [base, added], at]) =>
      single('non-ASCII (Latin-1 bytes)')([name, insertAll(bytesOf(base), added), at]),
    ),
  fc
    .tuple(keyHeaderName, fc.tuple(visibleString(0, 40), inserts(nonAsciiCodePoint)), fc.nat())
    .map(([name, [base, added], at]) => single('non-ASCII (UTF-8)')([name, insertAll(bytesOf(base), added), at])),
  fc
    .tuple(
      keyHeaderName,
      fc.tuple(visibleString(2, 60), inserts(fc.constantFrom([0x20], [0x09], [0x20, 0x20]))),
      fc.nat(),
    )
    .map(([name, [base, added], at]) =>
      single('space or tab inside')([name, insertAll(bytesOf(base), added, 1, 1), at]),
    ),
  fc
    .tuple(
      keyHeaderName,
      fc.tuple(visibleString(0, 40), inserts(fc.constantFrom(...CONTROL_BYTES).map((byte) => [byte]))),
      fc.nat(),
    )
    .map(([name, [base, added], at]) => [name, insertAll(bytesOf(base), added), at] as [string, number[], number])
    // CR LF would end the header line and start another: that is framing, not a key, so never generate it.
    .filter(([, bytes]) => !bytes.some((byte, i) => byte === 0x0d && bytes[i + 1] === 0x0a))
    .map(single('control characters', 400, 'either')),
  fc
    .tuple(
      keyHeaderName,
      fc.oneof(
        fc.constant('""'),
        fc.tuple(plainInner(0, 30), plainInner(0, 30)).map(([a, b]) => `"${a}"${b}"`),
        fc
          .tuple(
            plainInner(0, 30),
            visibleChar.filter((c) => c !== '"' && c !== '\\'),
            plainInner(0, 30),
          )
          .map(([a, c, b]) => `"${a}\\${c}${b}"`),
        plainInner(0, 30).map((a) => `"${a}\\"`),
        fc
          .tuple(plainInner(0, 30), fc.constantFrom(' ', '\t'), plainInner(0, 30))
          .map(([a, space, b]) => `"${a}${space}${b}"`),
      ),
      fc.nat(),
    )
    .map(single('malformed quoted form')),
  fc
    .array(fc.tuple(keyHeaderName, fc.oneof(visibleString(1, 40), fc.constant('')), fc.nat()), {
      minLength: 2,
      maxLength: 3,
    })
    .map((occurrences) => ({
      kind: 'repeated header',
      occurrences: occurrences.map(([name, value, at]) => ({ name, value: Buffer.from(value, 'latin1'), at })),
      status: 400 as const,
      from: 'app' as const,
    })),
);

/** A valid key as sent: quoted or not, whitespace around it, the header name in any case. */
interface KeyForm {
  name: string;
  quoted: boolean;
  lead: string;
  trail: string;
}
const keyForm: fc.Arbitrary<KeyForm> = fc.record({ name: keyHeaderName, quoted: fc.boolean(), lead: ows, trail: ows });
const renderKey = (key: string, form: KeyForm) => `${form.lead}${form.quoted ? quoteKey(key) : key}${form.trail}`;
/** Valid keys, short ones (which collide between cases, on purpose) up to exactly 255 characters. */
const validKey = fc
  .oneof(visibleString(1, 12), visibleString(1, 255), longString(250, 255))
  .filter((key) => !looksQuoted(key));

const wire = (bytes: Buffer) => JSON.stringify(bytes.toString('latin1'));

describe('fuzz: Idempotency-Key headers against the payments app (SQLite + TypeORM store)', () => {
  let target: FuzzTarget;

  beforeAll(async () => {
    target = await FuzzTarget.start();
  }, 60_000);
  afterAll(() => target?.close());
  beforeEach(async () => {
    await target.resync();
    target.clearErrors();
  });

  const send = (route: Route, headers: RawHeader[], body: Record<string, unknown>): Promise<RawResponse> =>
    sendRaw(target.port, { path: target.path(route), headers, body: Buffer.from(JSON.stringify(body), 'utf8') });

  it('refuses every malformed, missing or repeated key with 400 (431 past 16 KiB of headers), and changes nothing', async () => {
    const tally = new Tally();
    await fc.assert(
      fc.asyncProperty(
        invalidKey,
        fc.constantFrom(...ROUTES),
        fc.integer({ min: 1, max: 100 }),
        async (keyCase, route, amount) => {
          const headers = target.headers('application/json');
          for (const { name, value, at } of keyCase.occurrences)
            headers.splice(at % (headers.length + 1), 0, [name, value]);
          const response = await send(route, headers, target.validBody(route, amount).body);
          const context = `${keyCase.kind} key ${keyCase.occurrences.map((o) => `${o.name}: ${wire(o.value).slice(0, 300)}`).join(' + ') || '(none)'} on POST ${target.path(route)}\n  -> ${describeResponse(response)}\n${target.lastErrors()}`;

          if (response.status !== keyCase.status) throw new Error(`${context}\nexpected ${keyCase.status}`);
          const fromApp = keyCase.from === 'app' || (keyCase.from === 'either' && response.body.length > 0);
          const bucket = `${keyCase.kind} (${fromApp ? 'app' : 'HTTP parser'})`;
          tally.add(bucket);
          if (fromApp) {
            const problem = errorBodyProblem(response, keyCase.status);
            if (problem) throw new Error(`${context}\n${problem}`);
            if (!/Idempotency-Key/.test(String(jsonBody(response).message)))
              throw new Error(`${context}\nthe message does not name the header`);
          }
          await target.expectLedger(context);
        },
      ),
      fuzzParameters(),
    );
    tally.report('invalid keys');
    // Every class of bad key was really generated (a guard against a generator that silently stops producing one).
    const kinds = new Set(tally.buckets().map((bucket) => bucket.replace(/ \([^()]*\)$/, '')));
    expect(kinds.size).toBe(11);
  }, 300_000);

  it('runs a valid key (quoted or not, any whitespace and header case) once, replays it in any other form, and answers 422 to its reuse', async () => {
    const seen = new Map<string, { signature: string; status: number; body: string }>();
    const tally = new Tally();
    const count = (bucket: string) => tally.add(bucket);

    await fc.assert(
      fc.asyncProperty(
        validKey,
        keyForm,
        keyForm,
        fc.constantFrom(...ROUTES),
        fc.integer({ min: 1, max: 100 }),
        async (key, firstForm, secondForm, route, amount) => {
          const { body, effect } = target.validBody(route, amount);
          const signature = `${target.path(route)} ${JSON.stringify(body)}`;
          const prior = seen.get(key);
          const attempt = (form: KeyForm) => {
            const headers = target.headers('application/json');
            headers.push([form.name, renderKey(key, form)]);
            return send(route, headers, body);
          };
          const first = await attempt(firstForm);
          const context = (response: RawResponse, form: KeyForm) =>
            `key ${JSON.stringify(key)} sent as ${form.name}: ${JSON.stringify(renderKey(key, form))} on POST ${target.path(route)} ${JSON.stringify(body)}` +
            `${prior ? ` (key used before for ${prior.signature})` : ''}\n  -> ${describeResponse(response)}\n${target.lastErrors()}`;
          const fail = (response: RawResponse, form: KeyForm, problem: string): never => {
            throw new Error(`${context(response, form)}\n${problem}`);
          };

          let expectedStatus: number;
          if (!prior) {
            expectedStatus = 201;
            if (first.status !== 201) fail(first, firstForm, 'expected 201 for a fresh valid key');
            if (first.headers['idempotent-replayed'])
              fail(first, firstForm, 'a first request must not be marked as replayed');
            const created = jsonBody(first);
            const echoed =
              route === 'customers'
                ? created?.name === body.name
                : route === 'payments'
                  ? created?.reference === body.reference && created?.amount === amount
                  : created?.amount === amount && created?.paymentId === target.paymentId;
            if (!echoed) fail(first, firstForm, 'the created resource does not match the request');
            seen.set(key, { signature, status: 201, body: first.body });
            target.apply(effect);
            count('fresh key: 201, then replayed');
          } else if (prior.signature === signature) {
            expectedStatus = prior.status;
            if (
              first.status !== prior.status ||
              first.body !== prior.body ||
              first.headers['idempotent-replayed']?.[0] !== 'true'
            ) {
              fail(first, firstForm, 'expected a replay of the first answer');
            }
            count('same key, same request: replayed twice');
          } else {
            expectedStatus = 422;
            const problem = errorBodyProblem(first, 422);
            if (problem) fail(first, firstForm, `expected 422 for a key reused with another request: ${problem}`);
            count('same key, another request: 422 twice');
          }

          const second = await attempt(secondForm);
          if (second.status !== expectedStatus)
            fail(second, secondForm, `the retry answered ${second.status}, the first attempt ${expectedStatus}`);
          if (expectedStatus === 201) {
            const original = seen.get(key)!.body;
            if (second.body !== original)
              fail(second, secondForm, `the replayed body differs from the original ${original}`);
            if (second.headers['idempotent-replayed']?.[0] !== 'true')
              fail(second, secondForm, 'the retry is not marked Idempotent-Replayed: true');
          }

          const records = await target.recordsFor(key);
          if (records.count !== 1 || records.completed !== 1)
            fail(second, secondForm, `expected one completed record for the key, found ${JSON.stringify(records)}`);
          await target.expectLedger(context(second, secondForm));
          count(firstForm.quoted === secondForm.quoted ? 'retried in the same form' : 'retried quoted <-> unquoted');
          if (key.length === 255) count('255 characters');
        },
      ),
      fuzzParameters(),
    );
    tally.report('valid keys');
    expect(tally.get('fresh key: 201, then replayed')).toBeGreaterThan(100);
    expect(tally.get('same key, another request: 422 twice')).toBeGreaterThan(0);
    expect(tally.get('retried quoted <-> unquoted')).toBeGreaterThan(100);
  }, 300_000);
});
