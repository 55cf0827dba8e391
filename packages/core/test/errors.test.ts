import { describe, expect, it } from 'vitest';
import {
  CacheError,
  CacheUnavailableError,
  CacheValidationError,
  closedError,
  SerializationError,
  toUnavailableError,
  UnsupportedOperationError,
} from '../src/errors.js';

describe('errors', () => {
  it('each class has a literal name, a stable code and extends CacheError', () => {
    const cases: Array<[CacheError, string, string]> = [
      [
        new CacheValidationError('ttl', 'bad', 'CACHE_INVALID_TTL'),
        'CacheValidationError',
        'CACHE_INVALID_TTL',
      ],
      [new SerializationError('$.a', 'bad'), 'SerializationError', 'CACHE_SERIALIZATION'],
      [new CacheUnavailableError('get', 'down'), 'CacheUnavailableError', 'CACHE_UNAVAILABLE'],
      [closedError('get'), 'CacheUnavailableError', 'CACHE_CLOSED'],
      [new UnsupportedOperationError('deletePattern', 'X'), 'UnsupportedOperationError', 'CACHE_UNSUPPORTED'],
    ];
    for (const [error, name, code] of cases) {
      expect(error).toBeInstanceOf(CacheError);
      expect(error).toBeInstanceOf(Error);
      expect(error.name).toBe(name);
      expect(error.code).toBe(code);
    }
  });

  it('a validation error names its argument in the message and a property', () => {
    const error = new CacheValidationError('key', 'must not be empty');
    expect(error.argument).toBe('key');
    expect(error.message).toBe('Invalid key: must not be empty');
  });

  it('a serialization error says whether it encoded or decoded, names a key when given one, and keeps its parts', () => {
    const encode = new SerializationError('$.a', 'bad');
    expect(encode.message).toBe('Cannot serialize value at $.a: bad');
    expect([encode.path, encode.reason, encode.operation]).toStrictEqual(['$.a', 'bad', 'encode']);
    expect('key' in encode).toBe(false);
    const keyed = new SerializationError('$', 'bad', { key: 'u"1', cause: 1 });
    expect(keyed.message).toBe('Cannot serialize the value of key "u\\"1" at $: bad');
    expect([keyed.key, keyed.cause]).toStrictEqual(['u"1', 1]);
    const decode = new SerializationError('$.b', 'bad', { operation: 'decode' });
    expect(decode.message).toBe('Cannot decode stored value at $.b: bad');
    const both = new SerializationError('$', 'bad', { operation: 'decode', key: 'k' });
    expect(both.message).toBe('Cannot decode the stored value of key "k" at $: bad');
  });

  it('toUnavailableError keeps the client error as cause and passes CacheErrors through', () => {
    const raw = new Error('ECONNREFUSED');
    const wrapped = toUnavailableError('get', raw);
    expect(wrapped).toBeInstanceOf(CacheUnavailableError);
    expect(wrapped.cause).toBe(raw);
    expect(wrapped.message).toContain('ECONNREFUSED');
    expect(toUnavailableError('set', wrapped)).toBe(wrapped);
    expect(toUnavailableError('get', 'text').message).toContain('text');
  });
});
