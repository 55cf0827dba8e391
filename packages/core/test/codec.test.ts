import { Buffer } from 'node:buffer';
import { randomFillSync } from 'node:crypto';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  CODEC_FORMAT_VERSION,
  type Codec,
  decodeFor,
  defaultCodec,
  encodeFor,
  StrataCodec,
} from '../src/codec/codec.js';
import { SerializationError } from '../src/errors.js';
import { MapCacheAdapter } from './support/map-cache-adapter.js';

const codec: Codec = new StrataCodec();
const roundTrip = (value: unknown): unknown => codec.decode(codec.encode(value));

function serializationError(fn: () => unknown): SerializationError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(SerializationError);
    return error as SerializationError;
  }
  throw new Error('expected a SerializationError');
}

/**
 * Where `actual` differs from `expected`, or undefined if it equals it exactly: same prototypes, same keys in the
 * same order, same primitives (`Object.is`), Map entries and Set members in the same order (decode preserves it).
 * `toStrictEqual` cannot say this alone: it matches Set members and Map keys out of order, and it compares
 * `constructor` properties, so it refuses two equal objects that both have an own `constructor` key.
 */
function mismatch(actual: unknown, expected: unknown, path = '$'): string | undefined {
  if (typeof expected !== 'object' || expected === null) {
    return Object.is(actual, expected) ? undefined : `${path}: ${String(actual)} is not ${String(expected)}`;
  }
  if (typeof actual !== 'object' || actual === null) return `${path}: ${String(actual)} is not an object`;
  if (Object.getPrototypeOf(actual) !== Object.getPrototypeOf(expected)) return `${path}: another prototype`;
  if (expected instanceof Date) {
    return Object.is((actual as Date).getTime(), expected.getTime()) ? undefined : `${path}: another time`;
  }
  if (ArrayBuffer.isView(expected)) {
    const [a, b] = [actual as Uint8Array, expected as Uint8Array];
    return a.length === b.length && a.every((byte, i) => byte === b[i]) ? undefined : `${path}: other bytes`;
  }
  if (expected instanceof Map || expected instanceof Set) {
    const kind = expected instanceof Map ? 'map' : 'set';
    const [a, b] = [[...(actual as Iterable<unknown>)], [...expected]];
    if (a.length !== b.length) return `${path}: ${a.length} members, not ${b.length}`;
    for (let i = 0; i < b.length; i++) {
      const found = mismatch(a[i], b[i], `${path}<${kind}>[${i}]`);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  const keys = Object.keys(expected);
  if (Object.keys(actual).join('\0') !== keys.join('\0')) return `${path}: other keys`;
  for (const key of keys) {
    const found = mismatch(
      Object.getOwnPropertyDescriptor(actual, key)?.value,
      Object.getOwnPropertyDescriptor(expected, key)?.value,
      `${path}[${JSON.stringify(key)}]`,
    );
    if (found !== undefined) return found;
  }
  return undefined;
}

/** Builds an object whose keys are all own data properties, `__proto__` included. */
function own(entries: Array<[string, unknown]>): Record<string, unknown> {
  const object: Record<string, unknown> = {};
  for (const [key, value] of entries) {
    Object.defineProperty(object, key, { value, writable: true, enumerable: true, configurable: true });
  }
  return object;
}

function hasKey(value: unknown, key: string): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (!Array.isArray(value) && Object.hasOwn(value, key)) return true;
  return Object.values(value).some((child) => hasKey(child, key));
}

const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((code) => String.fromCharCode(code));
const trickyString = fc.oneof(
  fc.string({ maxLength: 8 }),
  fc.string({ unit: fc.oneof(loneSurrogate, fc.constantFrom('a', '"', '\\', '$', 't', '😀')), maxLength: 6 }),
  fc.constantFrom(
    '{"$t":"Date","v":"2020-01-01T00:00:00.000Z"}',
    '{"$t":"BigInt","v":"1"}',
    '"$t"',
    '$t',
    'v',
    '',
    '__proto__',
  ),
);
const trickyKey = fc.oneof(
  fc.string({ maxLength: 4 }),
  fc.constantFrom('$t', 'v', '__proto__', 'constructor', 'toString', 'a b', '0', '\ud800'),
);
const finiteNumber = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }).filter((n) => !Object.is(n, -0)),
);
const bytes = fc.uint8Array({ maxLength: 10 });
const tagName = fc.constantFrom('Date', 'BigInt', 'Map', 'Set', 'Uint8Array', 'Buffer', 'Object', 'Nope');

/** Every kind of value the codec accepts, rich in tag lookalikes and awkward keys. */
const richValue: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    finiteNumber,
    trickyString,
    fc.date(),
    fc.constant(new Date(Number.NaN)),
    fc.constantFrom(new Date(8.64e15), new Date(-8.64e15), new Date(-1)),
    fc.bigInt({ min: -(2n ** 100n), max: 2n ** 100n }),
    bytes.map((b) => new Uint8Array(b)),
    bytes.map((b) => new Uint8Array(b).subarray(1)),
    bytes.map((b) => Buffer.from(b)),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(trickyKey, tie('value'), { maxKeys: 4, noNullPrototype: true }),
    fc.record({ $t: fc.oneof(tagName, tie('value')), v: tie('value') }, { noNullPrototype: true }),
    fc.tuple(tagName, tie('value')).map(([t, v]) =>
      own([
        ['v', v],
        ['$t', t],
      ]),
    ),
    fc.array(fc.tuple(tie('value'), tie('value')), { maxLength: 3 }).map((entries) => new Map(entries)),
    fc.array(tie('value'), { maxLength: 3 }).map((members) => new Set(members)),
  ),
})).value;

/** JSON values as `JSON.parse` would build them (no `-0`, which JSON cannot hold). */
const jsonValue = fc.jsonValue().map((value) => JSON.parse(JSON.stringify(value)) as unknown);

describe('StrataCodec', () => {
  it('exports a stateless default codec and format version 1', () => {
    expect(CODEC_FORMAT_VERSION).toBe(1);
    expect(defaultCodec).toBeInstanceOf(StrataCodec);
    const { encode, decode } = defaultCodec;
    expect(decode(encode({ a: new Date(0) }))).toStrictEqual({ a: new Date(0) });
  });

  it('stores a plain JSON value verbatim, as JSON.stringify does, and reads it back', () => {
    fc.assert(
      fc.property(jsonValue, (value) => {
        const text = codec.encode(value);
        // An own "$t" key is the one JSON shape that is escaped (see the tag lookalike tests).
        if (!hasKey(value, '$t')) expect(text).toBe(JSON.stringify(value));
        expect(codec.decode(text)).toStrictEqual(value);
      }),
      { numRuns: 300 },
    );
  });

  it('round-trips every accepted value exactly, with the same types', () => {
    fc.assert(
      fc.property(richValue, (value) => {
        const decoded = roundTrip(value);
        expect(mismatch(decoded, value)).toBeUndefined();
      }),
      { numRuns: 500 },
    );
  });

  it('decodes to fresh values every time', () => {
    const text = codec.encode({ a: [1], m: new Map([[1, { b: 2 }]]), bytes: new Uint8Array([1]) });
    const first = codec.decode(text) as { a: number[]; m: Map<number, object>; bytes: Uint8Array };
    const second = codec.decode(text) as typeof first;
    expect(first).toStrictEqual(second);
    expect(first.a).not.toBe(second.a);
    expect(first.m.get(1)).not.toBe(second.m.get(1));
    expect(first.bytes.buffer).not.toBe(second.bytes.buffer);
  });
});

describe('the stored format', () => {
  it.each<[string, unknown, string]>([
    ['a plain record', { id: 1, tags: ['a'], ok: true, n: null }, '{"id":1,"tags":["a"],"ok":true,"n":null}'],
    ['a valid Date', new Date(Date.UTC(2020, 0, 1)), '{"$t":"Date","v":"2020-01-01T00:00:00.000Z"}'],
    ['an invalid Date', new Date(Number.NaN), '{"$t":"Date","v":null}'],
    ['a BigInt', -123n, '{"$t":"BigInt","v":"-123"}'],
    [
      'a Map',
      new Map<unknown, unknown>([
        ['a', 1],
        [2n, [3]],
      ]),
      '{"$t":"Map","v":[["a",1],[{"$t":"BigInt","v":"2"},[3]]]}',
    ],
    ['a Set', new Set(['x', 1]), '{"$t":"Set","v":["x",1]}'],
    ['a Uint8Array', new Uint8Array([0, 255, 7]), '{"$t":"Uint8Array","v":"AP8H"}'],
    ['a Buffer', Buffer.from('hi'), '{"$t":"Buffer","v":"aGk="}'],
    ['an object with a $t key', { $t: 'Date', v: 'x' }, '{"$t":"Object","v":[["$t","Date"],["v","x"]]}'],
    [
      'a tag inside JSON',
      { at: new Date(0), n: 1 },
      '{"at":{"$t":"Date","v":"1970-01-01T00:00:00.000Z"},"n":1}',
    ],
    ['a string that looks like a tag', '{"$t":"Date"}', '"{\\"$t\\":\\"Date\\"}"'],
  ])('%s', (_, value, text) => {
    expect(codec.encode(value)).toBe(text);
    expect(codec.decode(text)).toStrictEqual(value);
  });

  it('accepts tag keys in any order, as a foreign writer may sort them', () => {
    expect(codec.decode('{"v":"5","$t":"BigInt"}')).toBe(5n);
  });
});

describe('rejected values', () => {
  class Point {
    x = 1;
  }
  class MyArray extends Array<number> {}
  class MyDate extends Date {}
  const circular: { self?: unknown } = {};
  circular.self = circular;
  const loop: unknown[] = [];
  loop.push({ back: loop });
  const selfMap = new Map<unknown, unknown>();
  selfMap.set('me', selfMap);
  const boom = new Error('boom');

  it.each<[string, unknown, string]>([
    ['a function', () => 1, '$'],
    ['a symbol', Symbol('s'), '$'],
    ['undefined', undefined, '$'],
    ['NaN', Number.NaN, '$'],
    ['Infinity', Number.POSITIVE_INFINITY, '$'],
    ['-Infinity', Number.NEGATIVE_INFINITY, '$'],
    ['-0', -0, '$'],
    ['NaN deep inside', { user: { tags: ['a', 'b', 'c', Number.NaN] } }, '$.user.tags[3]'],
    ['undefined in an array', [1, undefined], '$[1]'],
    // biome-ignore lint/suspicious/noSparseArray: a hole is exactly what is tested
    ['an array hole', [1, , 2], '$[1]'],
    ['a method', { f() {} }, '$.f'],
    ['an own toJSON', { toJSON: () => 1 }, '$.toJSON'],
    ['a symbol value', { a: Symbol('s') }, '$.a'],
    ['a symbol key', { a: { [Symbol('k')]: 1 } }, '$.a[Symbol(k)]'],
    ['a weird key', { 'a b': { '': -0 } }, '$["a b"][""]'],
    ['a digit key', { 0: Number.NaN }, '$["0"]'],
    ['a $t key', { $t: Number.NaN }, '$.$t'],
    ['inside an escaped object', { $t: 1, x: [Number.NaN] }, '$.x[0]'],
    ['a circular object', circular, '$.self'],
    ['a circular array', loop, '$[0].back'],
    ['a Map holding itself', selfMap, '$<map>[0].value'],
    [
      'a bad Map value',
      {
        m: new Map([
          [1, 1],
          [2, Number.NaN],
        ]),
      },
      '$.m<map>[1].value',
    ],
    ['a bad Map key', new Map([[Symbol('k'), 1]]), '$<map>[0].key'],
    ['undefined as a Map value', new Map([['k', undefined]]), '$<map>[0].value'],
    ['a bad Set member', { s: new Set([1, undefined]) }, '$.s<set>[1]'],
    ['a RegExp', /re/, '$'],
    ['an Error', new Error('e'), '$'],
    ['an Int32Array', new Int32Array(2), '$'],
    ['an ArrayBuffer', new ArrayBuffer(2), '$'],
    ['a DataView', new DataView(new ArrayBuffer(2)), '$'],
    ['a class instance', new Point(), '$'],
    ['an Array subclass', MyArray.from([1]), '$'],
    ['a Date subclass', new MyDate(0), '$'],
    ['a boxed number', Object(1), '$'],
    ['a boxed string', Object('s'), '$'],
    ['a boxed bigint', Object(1n), '$'],
    ['a WeakMap', new WeakMap(), '$'],
    ['a Promise', Promise.resolve(1), '$'],
    ['an object with a custom prototype', Object.create({ inherited: 1 }), '$'],
    ['a nested class instance', [{ at: [new Point()] }], '$[0].at[0]'],
  ])('%s', (_, value, path) => {
    const error = serializationError(() => codec.encode(value));
    expect(error.path).toBe(path);
    expect(error.code).toBe('CACHE_SERIALIZATION');
    expect(error.message).toContain(path);
  });

  it('wraps an error thrown by a getter as the cause', () => {
    const value = {
      a: {
        get b(): number {
          throw boom;
        },
      },
    };
    const error = serializationError(() => codec.encode(value));
    expect(error.path).toBe('$.a.b');
    expect(error.cause).toBe(boom);
  });

  it('names the class it refuses', () => {
    expect(serializationError(() => codec.encode(new Point())).message).toContain('Point');
    expect(serializationError(() => codec.encode(/re/)).message).toContain('RegExp');
  });
});

describe('prototype pollution', () => {
  afterEach(() => {
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.hasOwn(Object.prototype, 'polluted')).toBe(false);
  });

  function expectOwnProto(value: unknown, expected: unknown): void {
    const record = value as Record<string, unknown>;
    expect(Object.getPrototypeOf(record)).toBe(Object.prototype);
    expect(Object.hasOwn(record, '__proto__')).toBe(true);
    expect(Object.getOwnPropertyDescriptor(record, '__proto__')?.value).toStrictEqual(expected);
  }

  it.each([
    ['plain JSON', '{"__proto__":{"polluted":1}}', { polluted: 1 }],
    ['JSON with a tag elsewhere', '{"__proto__":{"polluted":1},"d":{"$t":"Date","v":null}}', { polluted: 1 }],
    ['a tag under __proto__', '{"__proto__":{"$t":"Set","v":["polluted"]}}', new Set(['polluted'])],
    ['an escaped object', '{"$t":"Object","v":[["__proto__",{"polluted":1}],["$t",1]]}', { polluted: 1 }],
  ])('decodes __proto__ in %s as own data', (_, text, expected) => {
    expectOwnProto(codec.decode(text), expected);
  });

  it('keeps __proto__ inside a Map as data', () => {
    const map = codec.decode('{"$t":"Map","v":[["__proto__",{"polluted":1}]]}') as Map<string, unknown>;
    expect(map.get('__proto__')).toStrictEqual({ polluted: 1 });
  });

  it('encodes an own __proto__ key as data, also when the object is copied to hold a tag', () => {
    const before = own([
      ['__proto__', { polluted: 1 }],
      ['d', new Date(0)],
    ]);
    const after = own([
      ['d', new Date(0)],
      ['__proto__', { polluted: 1 }],
    ]);
    for (const value of [
      before,
      after,
      own([
        ['__proto__', 1],
        ['$t', 2],
      ]),
    ]) {
      const decoded = roundTrip(value);
      expect(decoded).toStrictEqual(value);
      expectOwnProto(decoded, Object.getOwnPropertyDescriptor(value, '__proto__')?.value);
    }
  });
});

describe('foreign or corrupt text', () => {
  it.each<[string, string]>([
    ['{"$t":"Nope","v":1}', '$'],
    ['{"$t":1,"v":1}', '$'],
    ['{"$t":"Date"}', '$'],
    ['{"$t":"Date","v":"yesterday"}', '$'],
    ['{"$t":"Date","v":0}', '$'],
    ['{"$t":"Date","v":"2020-01-01T00:00:00.000Z","w":1}', '$'],
    ['{"$t":"BigInt","v":"1.5"}', '$'],
    ['{"$t":"BigInt","v":"-0"}', '$'],
    ['{"$t":"BigInt","v":1}', '$'],
    ['{"$t":"Uint8Array","v":"@@@@"}', '$'],
    ['{"$t":"Buffer","v":"aGk"}', '$'],
    ['{"$t":"Map","v":{}}', '$'],
    ['{"$t":"Map","v":[[1]]}', '$.v[0]'],
    ['{"$t":"Set","v":"x"}', '$'],
    ['{"$t":"Object","v":[[1,2]]}', '$.v[0]'],
    ['{"a":{"b b":[0,{"$t":"Nope","v":1}]}}', '$.a["b b"][1]'],
    ['{"$t":"Set","v":[{"$t":"Nope","v":1}]}', '$.v[0]'],
    ['not json', '$'],
    ['', '$'],
    ['{"a":1', '$'],
  ])('refuses %s', (text, path) => {
    const error = serializationError(() => codec.decode(text));
    expect(error.path).toBe(path);
  });

  it('keeps the JSON parse error as the cause', () => {
    expect(serializationError(() => codec.decode('not json')).cause).toBeInstanceOf(SyntaxError);
  });

  it('refuses a non-string', () => {
    expect(serializationError(() => codec.decode(42 as unknown as string)).path).toBe('$');
  });
});

describe('documented edge cases', () => {
  it('omits an object property whose value is undefined, as JSON does', () => {
    expect(codec.encode({ a: undefined, b: 1 })).toBe('{"b":1}');
    expect(roundTrip({ a: undefined, b: 1 })).toStrictEqual({ b: 1 });
    expect(roundTrip({ a: undefined, d: new Date(0), e: undefined })).toStrictEqual({ d: new Date(0) });
    expect(roundTrip(new Map([[1, { a: undefined }]]))).toStrictEqual(new Map([[1, {}]]));
    expect(roundTrip({ $t: undefined, a: 1 })).toStrictEqual({ a: 1 });
  });

  it('brings a Buffer back as a Buffer and a Uint8Array as a Uint8Array, neither on a shared pool', () => {
    const buffer = roundTrip(Buffer.from([1, 2, 3])) as Buffer;
    expect(Buffer.isBuffer(buffer)).toBe(true);
    expect([...buffer]).toStrictEqual([1, 2, 3]);
    expect(buffer.buffer.byteLength).toBe(3);
    const array = roundTrip(new Uint8Array([1, 2, 3])) as Uint8Array;
    expect(Object.getPrototypeOf(array)).toBe(Uint8Array.prototype);
    expect(array.buffer.byteLength).toBe(3);
  });

  it('encodes only the viewed bytes of a view on a larger buffer', () => {
    const whole = new Uint8Array([9, 1, 2, 9]);
    expect(codec.encode(whole.subarray(1, 3))).toBe('{"$t":"Uint8Array","v":"AQI="}');
    expect(codec.encode(Buffer.from(whole.buffer, 1, 2))).toBe('{"$t":"Buffer","v":"AQI="}');
    expect(codec.encode(new Uint8Array(0))).toBe('{"$t":"Uint8Array","v":""}');
  });

  it('stores a null-prototype object like any object; it comes back with Object.prototype', () => {
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { a: 1, d: new Date(0) });
    const plain = Object.assign(Object.create(null) as Record<string, unknown>, { a: 1 });
    expect(codec.encode(plain)).toBe('{"a":1}');
    const decoded = roundTrip(bare);
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
    expect(decoded).toStrictEqual({ a: 1, d: new Date(0) });
  });

  it('refuses an enumerable symbol key but ignores a non-enumerable one, as it does non-enumerable strings', () => {
    expect(serializationError(() => codec.encode({ [Symbol.for('k')]: 1 })).path).toBe('$[Symbol(k)]');
    const hidden = Object.defineProperty({ a: 1 }, Symbol('k'), { value: 1, enumerable: false });
    expect(roundTrip(hidden)).toStrictEqual({ a: 1 });
  });

  it('stores an invalid Date as null and brings back an invalid Date', () => {
    const decoded = roundTrip(new Date(Number.NaN));
    expect(decoded).toBeInstanceOf(Date);
    expect(Number.isNaN((decoded as Date).getTime())).toBe(true);
  });

  it('brings a shared reference back as separate copies', () => {
    const shared = { x: 1 };
    const when = new Date(0);
    const decoded = roundTrip({ a: shared, b: shared, c: [when, when] }) as Record<string, unknown[]>;
    expect(decoded).toStrictEqual({ a: shared, b: shared, c: [when, when] });
    expect(decoded.a).not.toBe(decoded.b);
    expect(decoded.c?.[0]).not.toBe(decoded.c?.[1]);
  });

  it('round-trips lone surrogates in string values and keys', () => {
    const value = { '\udc00': 'a\ud800b', list: ['\ud83d'] };
    expect(codec.encode(value)).toBe(JSON.stringify(value));
    expect(roundTrip(value)).toStrictEqual(value);
  });

  it('reads a getter as data, and never calls toJSON', () => {
    expect(
      roundTrip({
        get a() {
          return 1;
        },
      }),
    ).toStrictEqual({ a: 1 });
    expect(codec.encode(new Date(0))).toBe('{"$t":"Date","v":"1970-01-01T00:00:00.000Z"}');
  });

  it('keeps the order of keys, Map entries and Set members', () => {
    const value = {
      z: 1,
      a: new Map([
        ['z', 1],
        ['a', 2],
      ]),
      m: new Set([3, 1, 2]),
      d: new Date(0),
    };
    expect(mismatch(roundTrip(value), value)).toBeUndefined();
    expect(Object.keys(roundTrip(value) as object)).toStrictEqual(['z', 'a', 'm', 'd']);
  });
});

/** Runs `fn` with `key` defined on `target` (a prototype) as `descriptor`, and removes it afterwards. */
function whileDefined<T>(target: object, key: PropertyKey, descriptor: PropertyDescriptor, fn: () => T): T {
  const saved = Object.getOwnPropertyDescriptor(target, key);
  Object.defineProperty(target, key, { configurable: true, ...descriptor });
  try {
    return fn();
  } finally {
    if (saved === undefined) delete (target as Record<PropertyKey, unknown>)[key];
    else Object.defineProperty(target, key, saved);
  }
}

/** What `fn` threw (as a SerializationError), or a failure; it may run while prototypes are changed. */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return new Error('expected a SerializationError');
}

describe('the value is read as data, never through its own code', () => {
  it('never calls a toJSON of the value: hidden, on an array or nested, it is not data and is ignored', () => {
    const toJSON = vi.fn(() => ({ $t: 'Date', v: '2020-01-01T00:00:00.000Z' }));
    const hidden = <T extends object>(value: T): T =>
      Object.defineProperty(value, 'toJSON', { value: toJSON });
    expect(codec.encode(hidden({ a: 1 }))).toBe('{"a":1}');
    expect(codec.encode(hidden([1, 2]))).toBe('[1,2]');
    expect(codec.encode({ x: [hidden({ y: hidden([hidden({})]) })] })).toBe('{"x":[{"y":[{}]}]}');
    // A toJSON returning a tag does not forge a Date, and one returning undefined does not store invalid JSON.
    expect(roundTrip(hidden({ a: 1 }))).toStrictEqual({ a: 1 });
    const nothing = Object.defineProperty({ a: 1 }, 'toJSON', { value: () => undefined });
    expect(codec.decode(codec.encode(nothing))).toStrictEqual({ a: 1 });
    expect(codec.decode(codec.encode([nothing]))).toStrictEqual([{ a: 1 }]);
    expect(toJSON).not.toHaveBeenCalled();
  });

  it('ignores a toJSON added to Object.prototype or Array.prototype, and writes the same text', () => {
    const value = {
      a: [1, { b: 'x', c: [] }],
      d: new Date(0),
      m: new Map<unknown, unknown>([[1, [2, {}]]]),
      s: new Set([{}]),
      big: 1n,
      bytes: Buffer.from([1]),
      $t: [0],
    };
    const expected = codec.encode(value);
    const toJSON = vi.fn(() => 'polluted');
    for (const proto of [Object.prototype, Array.prototype]) {
      const texts = whileDefined(proto, 'toJSON', { value: toJSON, writable: true }, () => [
        codec.encode(value),
        codec.encode([]),
        codec.encode({}),
      ]);
      expect(texts).toStrictEqual([expected, '[]', '{}']);
    }
    expect(toJSON).not.toHaveBeenCalled();
  });

  it('ignores a toJSON added to Object.prototype by a getter while the value is read', () => {
    const toJSON = vi.fn(() => 'polluted');
    let text: unknown;
    try {
      text = codec.encode({
        get a(): number {
          Object.defineProperty(Object.prototype, 'toJSON', { value: toJSON, configurable: true });
          return 1;
        },
        b: { c: [2] },
      });
    } finally {
      delete (Object.prototype as { toJSON?: unknown }).toJSON;
    }
    expect(text).toBe('{"a":1,"b":{"c":[2]}}');
    expect(toJSON).not.toHaveBeenCalled();
  });

  it('runs no setter of Object.prototype while it copies the value', () => {
    let calls = 0;
    const text = whileDefined(
      Object.prototype,
      'name',
      {
        set: () => {
          calls++;
        },
      },
      () => codec.encode({ name: 'x', list: [{ name: 'y' }, 1], d: new Date(0) }),
    );
    expect(text).toBe(
      '{"name":"x","list":[{"name":"y"},1],"d":{"$t":"Date","v":"1970-01-01T00:00:00.000Z"}}',
    );
    expect(calls).toBe(0);
  });

  it("reads a Date's time through Date.prototype's own methods, whatever the Date or a later change says", () => {
    const liar = vi.fn(() => 'garbage');
    const date = new Date(Date.UTC(2020, 0, 1));
    for (const key of ['toISOString', 'getTime', 'valueOf', 'toJSON', Symbol.toPrimitive]) {
      Object.defineProperty(date, key, { value: liar });
    }
    const text = whileDefined(Date.prototype, 'toISOString', { value: liar }, () =>
      whileDefined(Date.prototype, 'getTime', { value: liar }, () => codec.encode({ date })),
    );
    expect(text).toBe('{"date":{"$t":"Date","v":"2020-01-01T00:00:00.000Z"}}');
    expect(liar).not.toHaveBeenCalled();
  });

  it('reads Maps, Sets and bytes through their prototypes: their own iterators or byte offsets are not asked', () => {
    const liar = vi.fn(() => {
      throw new Error('asked');
    });
    const hide = <T extends object>(value: T, keys: PropertyKey[]): T => {
      for (const key of keys) Object.defineProperty(value, key, { get: liar });
      return value;
    };
    const value = {
      m: hide(new Map([[1, 2]]), [Symbol.iterator, 'entries', 'forEach', 'size']),
      s: hide(new Set([3]), [Symbol.iterator, 'values', 'forEach', 'size']),
      u: hide(new Uint8Array([9, 1, 2, 9]).subarray(1, 3), ['buffer', 'byteOffset', 'byteLength', 'length']),
      b: hide(Buffer.from([1, 2]), ['buffer', 'byteOffset', 'byteLength', 'length', 'toString']),
    };
    const text = whileDefined(Map.prototype, Symbol.iterator, { value: liar }, () =>
      whileDefined(Set.prototype, 'forEach', { value: liar }, () => codec.encode(value)),
    );
    expect(text).toBe(
      '{"m":{"$t":"Map","v":[[1,2]]},"s":{"$t":"Set","v":[3]},' +
        '"u":{"$t":"Uint8Array","v":"AQI="},"b":{"$t":"Buffer","v":"AQI="}}',
    );
    expect(liar).not.toHaveBeenCalled();
  });

  it('reads each getter once, and stores the value it read and checked', () => {
    let reads = 0;
    const changing = {
      get a(): unknown {
        reads++;
        return reads === 1 ? 'first' : Number.NaN;
      },
    };
    expect(codec.encode({ x: changing })).toBe('{"x":{"a":"first"}}');
    expect(reads).toBe(1);
    let elementReads = 0;
    const list = Object.defineProperty([0, 0], 1, {
      get: () => (++elementReads === 1 ? { b: 1 } : undefined),
      enumerable: true,
    });
    expect(codec.encode(list)).toBe('[0,{"b":1}]');
    expect(elementReads).toBe(1);
  });

  it('finds a hole where it is, also in a sparse array of the greatest length (no copy of it is made first)', () => {
    const sparse: unknown[] = [];
    sparse.length = 2 ** 32 - 1;
    sparse[5] = 1;
    expect(serializationError(() => codec.encode({ sparse })).path).toBe('$.sparse[0]');
  });

  it('refuses a Proxy anywhere in the value, naming where, and runs none of its traps', () => {
    const trap = vi.fn();
    // Every trap V8 looks up on this handler is recorded.
    const handler = new Proxy({}, { get: (_, name) => trap(name) });
    const proxy = <T extends object>(target: T): T => new Proxy(target, handler as ProxyHandler<T>);
    const revocable = Proxy.revocable({}, {});
    revocable.revoke();
    const cases: Array<[unknown, string]> = [
      [proxy({}), '$'],
      [proxy([1]), '$'],
      [{ a: [1, proxy({ b: 1 })] }, '$.a[1]'],
      [{ d: proxy(new Date(0)) }, '$.d'],
      [new Map([[1, proxy(new Map())]]), '$<map>[0].value'],
      [new Set([proxy(new Uint8Array(1))]), '$<set>[0]'],
      [{ r: revocable.proxy }, '$.r'],
    ];
    for (const [value, path] of cases) {
      const error = serializationError(() => codec.encode(value));
      expect(error.path).toBe(path);
      expect(error.message).toContain('Proxy');
    }
    expect(serializationError(() => codec.encode({ o: Object.create(proxy({})) })).path).toBe('$.o');
    expect(trap).not.toHaveBeenCalled();
  });
});

describe('bytes of any size', () => {
  const MIB = 2 ** 20;
  const sizes = [0, 1, 2, 3, Math.round(3.3 * MIB), 64 * MIB];
  const makers: Array<[string, (size: number) => Uint8Array]> = [
    ['Uint8Array', (size) => randomFillSync(new Uint8Array(size))],
    ['Buffer', (size) => randomFillSync(Buffer.alloc(size))],
    [
      'Uint8Array view on part of a larger buffer',
      (size) => randomFillSync(new Uint8Array(size + 9)).subarray(4, 4 + size),
    ],
    [
      'Buffer view on part of a larger buffer',
      (size) => {
        const whole = randomFillSync(new Uint8Array(size + 9));
        return Buffer.from(whole.buffer, 4, size);
      },
    ],
  ];

  describe.each(makers)('%s', (kind, make) => {
    it.each(sizes)('of %i bytes round-trips with the same type and content', (size) => {
      const bytes = make(size);
      const decoded = roundTrip({ bytes }) as { bytes: Uint8Array };
      expect(Object.getPrototypeOf(decoded.bytes)).toBe(Object.getPrototypeOf(bytes));
      expect(decoded.bytes.byteLength).toBe(size);
      const same = Buffer.compare(
        Buffer.from(decoded.bytes.buffer, decoded.bytes.byteOffset, decoded.bytes.byteLength),
        Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
      );
      expect(same, kind).toBe(0);
    });
  });

  it.each<[string, () => Uint8Array]>([
    ['Uint8Array', () => new Uint8Array(400 * MIB)],
    ['Buffer', () => Buffer.alloc(400 * MIB)],
  ])('refuses a %s too large for a JavaScript string as base64, before encoding it', (_, make) => {
    // Zero-filled lazily: the refusal must come before the bytes are read.
    const error = serializationError(() => codec.encode({ big: make() }));
    expect(error.path).toBe('$.big');
    expect(error.message).toContain('too large');
  });

  it('refuses a value whose JSON text would be too long for a JavaScript string as too large', () => {
    const tooLong = new RangeError('Invalid string length');
    const stringify = vi.spyOn(JSON, 'stringify').mockImplementationOnce(() => {
      throw tooLong;
    });
    try {
      const error = serializationError(() => codec.encode({ a: 'x' }));
      expect(error.path).toBe('$');
      expect(error.message).toContain('too large');
      expect(error.cause).toBe(tooLong);
    } finally {
      stringify.mockRestore();
    }
  });
});

describe('own properties the codec would lose', () => {
  const k = Symbol('k');
  const add = <T extends object>(value: T, key: PropertyKey): T =>
    Object.defineProperty(value, key, { value: () => 1, enumerable: true });
  const match = /b(c)/.exec('abc');

  it.each<[string, unknown, string]>([
    ['a Date with a string key', add(new Date(0), 'extra'), '"extra"'],
    ['a Date with an own toISOString', add(new Date(0), 'toISOString'), '"toISOString"'],
    ['a Date with a symbol key', add(new Date(0), k), 'Symbol(k)'],
    ['a Map with a string key', add(new Map([[1, 2]]), 'extra'), '"extra"'],
    ['a Map with a symbol key', add(new Map(), k), 'Symbol(k)'],
    ['a Set with a string key', add(new Set([1]), 'extra'), '"extra"'],
    ['a Set with a symbol key', add(new Set(), k), 'Symbol(k)'],
    ['a short Uint8Array', add(new Uint8Array(3), 'extra'), '"extra"'],
    ['a long Uint8Array', add(new Uint8Array(1000), 'extra'), 'named properties'],
    ['an empty Uint8Array with a symbol key', add(new Uint8Array(0), k), 'Symbol(k)'],
    ['a short Buffer', add(Buffer.from('hi'), 'extra'), '"extra"'],
    ['a long Buffer', add(Buffer.alloc(1000), 'extra'), 'named properties'],
    ['a long Buffer with a symbol key', add(Buffer.alloc(1000), k), 'Symbol(k)'],
    ['a short array', add([1, 2], 'extra'), '"extra"'],
    ['a long array', add(new Array<number>(1000).fill(0), 'extra'), '"extra"'],
    ['an array with a symbol key', add([1], k), 'Symbol(k)'],
    ['an array with its own toJSON', add([1, 2], 'toJSON'), '"toJSON"'],
    ['a RegExp match (index, input, groups)', match, '"index"'],
  ])('refuses %s, naming the property', (_, value, property) => {
    const error = serializationError(() => codec.encode({ v: value }));
    expect(error.path).toBe('$.v');
    expect(error.message).toContain(property);
  });

  it('ignores their non-enumerable own properties, as it does those of plain objects', () => {
    const hide = <T extends object>(value: T): T => {
      Object.defineProperty(value, 'hidden', { value: 1 });
      return Object.defineProperty(value, Symbol('hidden'), { value: 1 });
    };
    const value = [
      hide(new Date(0)),
      hide(new Map([[1, 2]])),
      hide(new Set([1])),
      hide(new Uint8Array([1])),
      hide(Buffer.alloc(1000)),
      hide([1]),
    ];
    expect(mismatch(roundTrip(value), value)).toBeUndefined();
  });

  it('checks a 64 MiB Uint8Array or Buffer without listing its indices', () => {
    const keys = vi.spyOn(Object, 'keys');
    const all = vi.spyOn(Reflect, 'ownKeys');
    const names = vi.spyOn(Object, 'getOwnPropertyNames');
    vi.clearAllMocks(); // spying itself lists a few keys
    try {
      for (const bytes of [new Uint8Array(64 * 2 ** 20), Buffer.alloc(64 * 2 ** 20)]) {
        expect(serializationError(() => codec.encode([add(bytes, 'extra')])).path).toBe('$[0]');
      }
      for (const spy of [keys, all, names]) {
        for (const [target] of spy.mock.calls) expect(ArrayBuffer.isView(target)).toBe(false);
      }
    } finally {
      vi.restoreAllMocks();
    }
  });
});

describe('errors name what failed and where', () => {
  it.each([
    ['not json', '$'],
    ['{"$t":"Nope","v":1}', '$'],
    ['{"a":[{"$t":"Buffer","v":"aGk"}]}', '$.a[0]'],
  ])('decoding %s says it could not decode, not serialize', (text, path) => {
    const error = serializationError(() => codec.decode(text));
    expect(error.message.startsWith(`Cannot decode stored value at ${path}: `)).toBe(true);
    expect(error.message).not.toContain('serialize');
    expect(error.operation).toBe('decode');
    expect(error.code).toBe('CACHE_SERIALIZATION');
  });

  it('encodeFor names the key of a refused value, keeping path, reason, cause and code', () => {
    const boom = new Error('boom');
    const value = {
      tags: [
        'a',
        {
          get x(): never {
            throw boom;
          },
        },
      ],
    };
    const plain = serializationError(() => codec.encode(value));
    const error = serializationError(() => encodeFor(codec, 'user:1', value));
    expect(error.key).toBe('user:1');
    expect(error.path).toBe('$.tags[1].x');
    expect(error.reason).toBe(plain.reason);
    expect(error.cause).toBe(boom);
    expect(error.code).toBe('CACHE_SERIALIZATION');
    expect(error.operation).toBe('encode');
    expect(error.message).toBe(`Cannot serialize the value of key "user:1" at $.tags[1].x: ${plain.reason}`);
    expect(
      Object.hasOwn(
        serializationError(() => encodeFor(codec, 'k', Number.NaN)),
        'cause',
      ),
    ).toBe(false);
    expect(encodeFor(codec, 'k', { a: 1 })).toBe('{"a":1}');
  });

  it('decodeFor names the key of unreadable text, as a decoding failure whatever the codec said', () => {
    const error = serializationError(() => decodeFor(codec, 'user:1', 'not json'));
    expect(error.key).toBe('user:1');
    expect(error.cause).toBeInstanceOf(SyntaxError);
    expect(error.message).toBe(
      'Cannot decode the stored value of key "user:1" at $: the stored text is not valid JSON',
    );
    const strict: Codec = {
      encode: () => '1',
      decode: () => {
        throw new SerializationError('$.x', 'bad');
      },
    };
    const foreign = serializationError(() => decodeFor(strict, 'k', '1'));
    expect(foreign.message).toBe('Cannot decode the stored value of key "k" at $.x: bad');
    expect(foreign.operation).toBe('decode');
    expect(decodeFor(codec, 'k', '{"a":1}')).toStrictEqual({ a: 1 });
  });

  it('encodeFor and decodeFor pass through an error that names a key already, or is not a SerializationError', () => {
    const keyed = new SerializationError('$', 'bad', { key: 'first' });
    const other = new TypeError('bug');
    const throwing = (error: unknown): Codec => ({
      encode: () => {
        throw error;
      },
      decode: () => {
        throw error;
      },
    });
    expect(thrown(() => encodeFor(throwing(keyed), 'second', 1))).toBe(keyed);
    expect(thrown(() => decodeFor(throwing(keyed), 'second', '1'))).toBe(keyed);
    expect(thrown(() => encodeFor(throwing(other), 'k', 1))).toBe(other);
    expect(thrown(() => decodeFor(throwing(other), 'k', '1'))).toBe(other);
  });

  it("setMany names the failing item's key and the path inside it, and writes nothing", async () => {
    const store = new Map();
    const cache = new MapCacheAdapter({ store, namespace: 'ns', now: () => 0 });
    const items = { 'user:1': { ok: true }, 'user:2': { profile: { tags: ['a', 'b', Number.NaN] } } };
    const error = await cache.setMany(items).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SerializationError);
    expect((error as SerializationError).key).toBe('user:2');
    expect((error as SerializationError).path).toBe('$.profile.tags[2]');
    expect((error as SerializationError).message).toContain('key "user:2" at $.profile.tags[2]');
    expect(store.size).toBe(0);
  });
});
