import fc from 'fast-check';

/** Characters that trip naive adapters: glob metacharacters, separators, whitespace, multi-byte and astral. */
const TRICKY_CHARS = [
  '*',
  '?',
  '[',
  ']',
  '\\',
  '^',
  '-',
  ':',
  ' ',
  '\t',
  '\n',
  '{',
  '}',
  'é',
  '€',
  '😀',
  '\u0000',
];

const codePoint = fc
  .integer({ min: 0, max: 0x10ffff })
  .filter((cp) => cp < 0xd800 || cp > 0xdfff)
  .map((cp) => String.fromCodePoint(cp));

const keyChar = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('a', 'b', 'c', 'x', 'y', '1', '2') },
  { weight: 3, arbitrary: fc.constantFrom(...TRICKY_CHARS) },
  { weight: 1, arbitrary: codePoint },
);

/** Any valid key: a non-empty, well-formed Unicode string, rich in glob metacharacters and multi-byte characters. */
export const keyArb: fc.Arbitrary<string> = fc.string({ unit: keyChar, minLength: 1, maxLength: 12 });

/** Keys drawn from a small set, so that generated calls collide on the same keys. */
export const smallKeyArb: fc.Arbitrary<string> = fc.constantFrom(
  'a',
  'b',
  'ab',
  'a*',
  'b?',
  '[a]',
  'é',
  'a\\b',
  'x:y',
);

/** Strings that are not valid keys: empty, or with a lone surrogate. */
export const invalidKeyStringArb: fc.Arbitrary<string> = fc.oneof(
  fc.constant(''),
  fc
    .tuple(fc.string({ maxLength: 3 }), fc.integer({ min: 0xd800, max: 0xdfff }), fc.string({ maxLength: 3 }))
    .map(([a, s, b]) => a + String.fromCharCode(s) + b)
    .filter((s) => !s.isWellFormed()),
);

/** Values that are not keys at all. */
export const nonStringArb: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(undefined),
  fc.constant(null),
  fc.integer(),
  fc.boolean(),
  fc.constant({}),
  fc.constant([]),
  fc.constant(Symbol('k')),
);

/**
 * TTLs that must be refused (an object is the options form, `{ ttl, grace, tags }`: one with a bad `ttl` is refused
 * as a bad TTL).
 */
export const invalidTtlArb: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(0, -0, -1, -0.5, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 2 ** 60),
  fc.constantFrom('10', true, { ttl: 0 }, { ttl: '10' }, [], 10n),
  fc.double({ max: 0, noNaN: true }),
);

const jsonNumber = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }).filter((n) => !Object.is(n, -0)),
);
const jsonKey = fc.oneof(
  fc.string({ maxLength: 6 }),
  fc.constantFrom('$t', 'v', '__proto__', 'constructor', 'toString'),
);

/** Plain JSON values (no `-0`): stored verbatim as JSON text. */
export const jsonValueArb: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    jsonNumber,
    fc.string({ maxLength: 12 }),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(jsonKey, tie('value'), { maxKeys: 4, noNullPrototype: true }),
  ),
})).value;

const uint8 = fc.uint8Array({ maxLength: 8 }).map((a) => new Uint8Array(a));

/** Every kind of value the default codec accepts: JSON plus Date (valid and invalid), BigInt, Map, Set, Uint8Array. */
export const valueArb: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    jsonNumber,
    fc.string({ maxLength: 12 }),
    fc.constantFrom('{"$t":"Date","v":"2020-01-01T00:00:00.000Z"}', '$t', ''),
    fc.date(),
    fc.constant(new Date(Number.NaN)),
    fc.bigInt({ min: -(2n ** 80n), max: 2n ** 80n }),
    uint8,
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(jsonKey, tie('value'), { maxKeys: 4, noNullPrototype: true }),
    fc.array(fc.tuple(tie('value'), tie('value')), { maxLength: 3 }).map((entries) => new Map(entries)),
    fc.array(tie('value'), { maxLength: 3 }).map((items) => new Set(items)),
  ),
})).value;

/** Values the default codec must refuse with `SerializationError`. */
export const unserializableArb: fc.Arbitrary<unknown> = fc.constantFrom<unknown>(
  () => 1,
  Symbol('s'),
  undefined,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  -0,
  { nested: { n: Number.NaN } },
  [1, undefined, 2],
  // biome-ignore lint/suspicious/noSparseArray: a hole is exactly what is tested
  [1, , 2],
  new (class Point {
    x = 1;
  })(),
  /re/,
  new Error('e'),
  new Int32Array(2),
  { f() {} },
  { [Symbol('k')]: 1 },
);

/** A circular object (built fresh, so each test may mutate it). */
export function circular(): unknown {
  const o: { self?: unknown } = {};
  o.self = o;
  return o;
}

/** TTLs in seconds that keep a key alive through any test (long enough never to expire mid-run). */
export const longTtlArb: fc.Arbitrary<number | undefined> = fc.option(
  fc.integer({ min: 100, max: 100_000 }),
  {
    nil: undefined,
  },
);

const patternChar = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom('a', 'b', 'x', 'é') },
  { weight: 4, arbitrary: fc.constantFrom('*', '?', '[', ']', '^', '-', '\\', ':') },
);

/** Redis glob patterns, short and rich in metacharacters, so that they match generated keys often. */
export const patternArb: fc.Arbitrary<string> = fc.string({ unit: patternChar, maxLength: 6 });
