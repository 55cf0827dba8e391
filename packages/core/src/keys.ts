import { CacheValidationError } from './errors.js';

/** The namespace used when none is given. */
export const DEFAULT_NAMESPACE = 'strata';

/** The character that joins a namespace and a key into a stored key. */
export const NAMESPACE_SEPARATOR = ':';

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'string' ? JSON.stringify(value) : `a ${typeof value}`;
}

/**
 * Checks that `key` is a non-empty, well-formed Unicode string.
 * @throws {CacheValidationError} naming `argument` (code `CACHE_INVALID_KEY`) otherwise; a lone surrogate is
 * refused because UTF-8 would turn it into U+FFFD and two keys would collide in Redis.
 */
export function assertKey(key: unknown, argument = 'key'): asserts key is string {
  if (typeof key !== 'string') {
    throw new CacheValidationError(
      argument,
      `expected a non-empty string, got ${describe(key)}`,
      'CACHE_INVALID_KEY',
    );
  }
  if (key.length === 0) throw new CacheValidationError(argument, 'must not be empty', 'CACHE_INVALID_KEY');
  if (!key.isWellFormed()) {
    throw new CacheValidationError(
      argument,
      'contains a lone surrogate (not well-formed Unicode)',
      'CACHE_INVALID_KEY',
    );
  }
}

/**
 * Checks a `getMany` key list: an array of valid keys.
 * @throws {CacheValidationError} naming `keys` or `keys[i]`.
 */
export function assertKeys(keys: unknown): asserts keys is readonly string[] {
  if (!Array.isArray(keys)) {
    throw new CacheValidationError(
      'keys',
      `expected an array of keys, got ${describe(keys)}`,
      'CACHE_INVALID_KEY',
    );
  }
  for (let i = 0; i < keys.length; i++) assertKey(keys[i], `keys[${i}]`);
}

/**
 * Checks that `pattern` is a well-formed string (any Redis glob, possibly empty).
 * @throws {CacheValidationError} naming `pattern` (code `CACHE_INVALID_PATTERN`) otherwise.
 */
export function assertPattern(pattern: unknown): asserts pattern is string {
  if (typeof pattern !== 'string') {
    throw new CacheValidationError(
      'pattern',
      `expected a string, got ${describe(pattern)}`,
      'CACHE_INVALID_PATTERN',
    );
  }
  if (!pattern.isWellFormed()) {
    throw new CacheValidationError(
      'pattern',
      'contains a lone surrogate (not well-formed Unicode)',
      'CACHE_INVALID_PATTERN',
    );
  }
}

/**
 * Validates a `namespace` constructor option and returns it (or the default).
 * @throws {TypeError} when it is not a string; {RangeError} when it is empty, contains `:` or a lone surrogate.
 */
export function resolveNamespace(namespace: unknown): string {
  if (namespace === undefined) return DEFAULT_NAMESPACE;
  if (typeof namespace !== 'string')
    throw new TypeError(`namespace must be a string, got ${describe(namespace)}`);
  if (namespace.length === 0) throw new RangeError('namespace must not be empty');
  if (namespace.includes(NAMESPACE_SEPARATOR))
    throw new RangeError(`namespace must not contain ':' (got ${JSON.stringify(namespace)})`);
  if (!namespace.isWellFormed())
    throw new RangeError('namespace must be well-formed Unicode (it has a lone surrogate)');
  return namespace;
}

/** The stored form of `key` in `namespace`: `<namespace>:<key>`. */
export function prefixKey(namespace: string, key: string): string {
  return namespace + NAMESPACE_SEPARATOR + key;
}

/**
 * Validates `setMany` items and returns them as entries, so that nothing is written unless every key is valid.
 * @throws {CacheValidationError} naming `items` (not a Map or plain object) or `items key` (a bad key).
 */
export function toItemEntries(items: unknown): Array<[string, unknown]> {
  let entries: Array<[unknown, unknown]>;
  if (items instanceof Map) {
    entries = [...items];
  } else if (items !== null && typeof items === 'object' && !Array.isArray(items)) {
    const proto: unknown = Object.getPrototypeOf(items);
    if (proto !== Object.prototype && proto !== null) {
      throw new CacheValidationError('items', 'expected a Map or a plain object');
    }
    entries = Object.entries(items);
  } else {
    throw new CacheValidationError('items', `expected a Map or a plain object, got ${describe(items)}`);
  }
  for (const [key] of entries) assertKey(key, 'items key');
  return entries as Array<[string, unknown]>;
}
