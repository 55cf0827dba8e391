import { Buffer } from 'node:buffer';
import { inspect } from 'node:util';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { extraElementProperty, extraProperty } from '../src/codec/codec-extras.js';

const MIB = 2 ** 20;
/** Lazily zeroed: allocating them costs address space, not time or touched memory. */
const large = {
  Uint8Array: (): Uint8Array => new Uint8Array(64 * MIB),
  Buffer: (): Uint8Array => Buffer.alloc(64 * MIB),
};

function withProperty<T extends object>(value: T, key: PropertyKey, descriptor: PropertyDescriptor): T {
  return Object.defineProperty(value, key, { configurable: true, ...descriptor });
}

describe('extraElementProperty', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  const makers: Array<[string, (length: number) => Uint8Array | unknown[]]> = [
    ['Uint8Array', (n) => new Uint8Array(n)],
    ['Buffer', (n) => Buffer.alloc(n)],
    ['array', (n) => new Array<number>(n).fill(1)],
  ];
  const lengths = [0, 1, 3, 64, 65, 1000];

  describe.each(makers)('on a %s', (_, make) => {
    it.each(lengths)('of length %i finds nothing when there is nothing', (length) => {
      expect(extraElementProperty(make(length), length)).toBeUndefined();
    });

    it.each(lengths)('of length %i finds an own enumerable named property', (length) => {
      const value = Object.assign(make(length), { extra: 1 });
      const found = extraElementProperty(value, length);
      // A long typed array's property is found but not named: naming it would list every index.
      if (length > 64 && !Array.isArray(value)) expect(found).toBeNull();
      else expect(found).toBe('extra');
    });

    it.each(lengths)('of length %i finds an own enumerable symbol-keyed property, by name', (length) => {
      const key = Symbol('k');
      expect(
        extraElementProperty(withProperty(make(length), key, { value: 1, enumerable: true }), length),
      ).toBe(key);
    });

    it.each(lengths)('of length %i ignores non-enumerable properties', (length) => {
      const value = withProperty(make(length), 'hidden', { value: 1, enumerable: false });
      withProperty(value, Symbol('hidden'), { value: 1, enumerable: false });
      expect(extraElementProperty(value, length)).toBeUndefined();
    });
  });

  it.each([
    ["a key that reads like the element count ('... 1000 more items')", '... 1000 more items', 1],
    ['a value that reads like the element count', 'x', '... 1000 more items ]'],
    ['a value ending in brackets', 'x', []],
    ['an undefined value', 'x', undefined],
    ['a key named __proto__', '__proto__', 1],
  ])('finds %s on a long typed array and array', (_, key, value) => {
    for (const make of [(n: number) => new Uint8Array(n), (n: number) => new Array<number>(n).fill(0)]) {
      const target = withProperty(make(1000), key, { value, enumerable: true, writable: true });
      expect(extraElementProperty(target, 1000)).not.toBeUndefined();
    }
  });

  it('never calls a getter of the value, nor asks util.inspect when own properties of the names it reads exist', () => {
    const getter = vi.fn(() => 'X');
    const cases: Array<[PropertyKey, boolean]> = [
      [Symbol.toStringTag, false],
      ['constructor', false],
      ['length', false],
      ['extra', true],
    ];
    for (const [key, enumerable] of cases) {
      for (const value of [new Uint8Array(1000), Buffer.alloc(1000)]) {
        withProperty(value, key, { get: getter, enumerable });
        expect(extraElementProperty(value, 1000)).toBe(enumerable ? null : undefined);
      }
    }
    expect(getter).not.toHaveBeenCalled();
  });

  it.each(Object.entries(large))(
    'costs no time proportional to the length of a 64 MiB %s (its keys are never listed)',
    (_, make) => {
      const keys = vi.spyOn(Object, 'keys');
      const names = vi.spyOn(Object, 'getOwnPropertyNames');
      const all = vi.spyOn(Reflect, 'ownKeys');
      vi.clearAllMocks(); // spying itself lists a few keys
      const bytes = make();
      expect(extraElementProperty(bytes, bytes.length)).toBeUndefined();
      expect(extraElementProperty(Object.assign(bytes, { extra: 1 }), bytes.length)).toBeNull();
      expect(keys).not.toHaveBeenCalled();
      expect(names).not.toHaveBeenCalled();
      expect(all).not.toHaveBeenCalled();
    },
  );

  it('does not depend on util.inspect.defaultOptions', () => {
    const saved = { ...inspect.defaultOptions };
    try {
      Object.assign(inspect.defaultOptions, {
        showHidden: true,
        depth: 5,
        colors: true,
        maxArrayLength: 1000,
        maxStringLength: 5,
        breakLength: 10,
        compact: false,
        sorted: true,
        getters: true,
        numericSeparator: true,
      });
      for (const value of [
        new Uint8Array(100_000),
        Buffer.alloc(100_000),
        new Array<number>(100_000).fill(1),
      ]) {
        expect(extraElementProperty(value, 100_000)).toBeUndefined();
        expect(extraElementProperty(Object.assign(value, { a: 1 }), 100_000)).not.toBeUndefined();
      }
    } finally {
      Object.assign(inspect.defaultOptions, saved);
    }
  });
});

describe('extraProperty', () => {
  it.each<[string, object]>([
    ['Date', new Date(0)],
    ['Map', new Map([[1, 2]])],
    ['Set', new Set([1])],
  ])(
    'finds the first own enumerable property of a %s, string or symbol keyed, and ignores hidden ones',
    (_, value) => {
      expect(extraProperty(value)).toBeUndefined();
      withProperty(value, 'hidden', { value: 1, enumerable: false });
      expect(extraProperty(value)).toBeUndefined();
      const key = Symbol('k');
      withProperty(value, key, { value: 1, enumerable: true });
      expect(extraProperty(value)).toBe(key);
      withProperty(value, 'later', { value: 1, enumerable: true });
      expect(extraProperty(value)).toBe('later');
    },
  );
});
