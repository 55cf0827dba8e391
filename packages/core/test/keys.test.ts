import { describe, expect, it } from 'vitest';
import { CacheValidationError } from '../src/errors.js';
import {
  assertKey,
  assertKeys,
  assertPattern,
  prefixKey,
  resolveNamespace,
  toItemEntries,
} from '../src/keys.js';

function validationError(fn: () => unknown): CacheValidationError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(CacheValidationError);
    return error as CacheValidationError;
  }
  throw new Error('expected a CacheValidationError');
}

describe('assertKey', () => {
  it.each(['a', ' ', '*', 'é', '😀', 'a\u0000b', 'x'.repeat(10_000)])('accepts %j', (key) => {
    expect(() => assertKey(key)).not.toThrow();
  });

  it.each([
    ['', 'must not be empty'],
    [1, 'got a number'],
    [null, 'got null'],
    [undefined, 'got a undefined'],
    [['a'], 'got an array'],
    ['a\ud800', 'lone surrogate'],
    ['\udc00b', 'lone surrogate'],
  ])('refuses %j (%s), naming the argument', (key, message) => {
    const error = validationError(() => assertKey(key));
    expect(error.argument).toBe('key');
    expect(error.code).toBe('CACHE_INVALID_KEY');
    expect(error.message).toContain(message);
  });

  it('names the position of a bad key in a list', () => {
    expect(validationError(() => assertKeys(['a', '', 'b'])).argument).toBe('keys[1]');
    expect(validationError(() => assertKeys('ab')).argument).toBe('keys');
  });
});

describe('assertPattern', () => {
  it('accepts any well-formed string, the empty one included', () => {
    for (const p of ['', '*', '[', '\\', 'a?b']) expect(() => assertPattern(p)).not.toThrow();
  });
  it('refuses non-strings and lone surrogates', () => {
    expect(validationError(() => assertPattern(3)).code).toBe('CACHE_INVALID_PATTERN');
    expect(validationError(() => assertPattern('\ud800*')).argument).toBe('pattern');
  });
});

describe('namespaces', () => {
  it('defaults to strata and prefixes keys with a colon', () => {
    expect(resolveNamespace(undefined)).toBe('strata');
    expect(prefixKey('app', 'user:1')).toBe('app:user:1');
  });
  it('refuses empty names, colons, lone surrogates and non-strings at construction', () => {
    expect(() => resolveNamespace('')).toThrow(RangeError);
    expect(() => resolveNamespace('a:b')).toThrow(RangeError);
    expect(() => resolveNamespace('\ud800')).toThrow(RangeError);
    expect(() => resolveNamespace(5)).toThrow(TypeError);
    expect(resolveNamespace('{tag}*')).toBe('{tag}*');
  });
});

describe('toItemEntries', () => {
  it('accepts Maps and plain objects, null-prototype ones included', () => {
    expect(toItemEntries(new Map([['a', 1]]))).toEqual([['a', 1]]);
    expect(toItemEntries({ a: 1, b: 2 })).toEqual([
      ['a', 1],
      ['b', 2],
    ]);
    const bare = Object.assign(Object.create(null) as object, { k: 1 });
    expect(toItemEntries(bare)).toEqual([['k', 1]]);
  });
  it('keeps an own __proto__ key as an ordinary key', () => {
    const parsed = JSON.parse('{"__proto__": 1}') as Record<string, unknown>;
    expect(toItemEntries(parsed)).toEqual([['__proto__', 1]]);
  });
  it('refuses other shapes and bad keys before anything else happens', () => {
    for (const bad of [null, [], 'x', new Date(), new Set()])
      expect(validationError(() => toItemEntries(bad)).argument).toBe('items');
    expect(validationError(() => toItemEntries(new Map<unknown, number>([[1, 1]]))).argument).toBe(
      'items key',
    );
    expect(validationError(() => toItemEntries({ '': 1 })).argument).toBe('items key');
  });
});
