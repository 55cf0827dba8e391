import type { SetOptions } from './tags.js';

/**
 * What an adapter can do; the law suite reads it and checks that the adapter behaves as it says.
 */
export interface CacheCapabilities {
  /** `deletePattern` is supported (otherwise it rejects with `UnsupportedOperationError`). */
  readonly patternDelete: boolean;
  /** The resolution at which TTLs are kept: Strata's own adapters keep milliseconds. */
  readonly ttlPrecision: 'milliseconds' | 'seconds';
}

/** The items `setMany` accepts: a `Map` or a plain object of key → value. */
export type CacheItems = Readonly<Record<string, unknown>> | ReadonlyMap<string, unknown>;

/**
 * The cache port: key-value storage with TTLs, batches and Redis-glob pattern deletion.
 *
 * Keys are non-empty, well-formed Unicode strings, treated literally. TTLs are in seconds (fractional allowed,
 * kept to the millisecond, rounding up); `null`/`undefined` means no expiry. A miss is `undefined`, never an
 * error; `null` is a value. Values are copied in and out: mutating a value after `set`, or one `get` returned,
 * never changes what the cache holds. Bad arguments reject with `CacheValidationError` and write nothing; values
 * the codec cannot round-trip exactly reject with `SerializationError`; backend failures reject with
 * `CacheUnavailableError`.
 */
export interface CacheProtocol {
  /**
   * Reads `key`: its value, or `undefined` when it is absent or expired.
   * @throws {CacheValidationError} for an invalid key, before anything is sent.
   * @throws {SerializationError} when stored data cannot be decoded (not written by this codec).
   * @throws {CacheUnavailableError} when the backend refuses, times out, or the cache is closed.
   */
  get<T = unknown>(key: string): Promise<T | undefined>;
  /**
   * Stores `value` under `key` for `ttl` seconds (none: no expiry; an existing expiry is removed), or as
   * {@link SetOptions} say: a TTL, a grace period after it (for read-through only), and tags.
   * @throws {CacheValidationError} for an invalid key, TTL or option, before anything is sent.
   * @throws {SerializationError} for a value the codec cannot round-trip exactly.
   * @throws {CacheUnavailableError} when the backend refuses, times out, or the cache is closed.
   */
  set(key: string, value: unknown, ttlOrOptions?: number | null | SetOptions): Promise<void>;
  /**
   * Removes `key`; removing an absent key is not an error.
   * @throws {CacheValidationError} for an invalid key, before anything is sent.
   * @throws {CacheUnavailableError} when the backend refuses, times out, or the cache is closed.
   */
  delete(key: string): Promise<void>;
  /**
   * Removes `keys`; resolves to how many of them held a value (each key counted once). One round trip per server
   * (per master on a Cluster).
   * @throws {CacheValidationError} for an invalid key list, before anything is sent.
   * @throws {CacheUnavailableError} when the backend refuses, times out, or the cache is closed.
   */
  deleteMany(keys: readonly string[]): Promise<number>;
  /**
   * Makes every value written with any of `tags` before this call began unreadable by `get`, `getMany`, `exists`,
   * `ttl` and read-through; its cost does not depend on how many values carry them.
   * @throws {CacheValidationError} for an invalid tag list, before anything is sent.
   * @throws {CacheUnavailableError} when the backend refuses, times out, or the cache is closed.
   */
  invalidateTags(tags: readonly string[]): Promise<void>;
  /**
   * True when `key` is present and not expired.
   * @throws {CacheValidationError} for an invalid key, before anything is sent.
   * @throws {CacheUnavailableError} when the backend refuses, times out, or the cache is closed.
   */
  exists(key: string): Promise<boolean>;
  /**
   * Reads many keys at once: a map of the present ones, in request order, each key once.
   * @throws {CacheValidationError} for an invalid key list, before anything is sent.
   * @throws {SerializationError} when stored data cannot be decoded (not written by this codec).
   * @throws {CacheUnavailableError} when the backend refuses, times out, or the cache is closed.
   */
  getMany<T = unknown>(keys: readonly string[]): Promise<Map<string, T>>;
  /**
   * Stores every item with the same `ttl` (seconds) or options, exactly as `set` would each; every item is validated
   * before any is written.
   * @throws {CacheValidationError} for an invalid item key or TTL, before anything is sent.
   * @throws {SerializationError} for a value the codec cannot round-trip exactly.
   * @throws {CacheUnavailableError} when the backend refuses, times out, or the cache is closed.
   */
  setMany(items: CacheItems, ttlOrOptions?: number | null | SetOptions): Promise<void>;
  /**
   * Deletes the keys of this cache's namespace that match the Redis glob `pattern`; resolves to how many were deleted.
   * @throws {CacheValidationError} for an invalid pattern, before anything is sent.
   * @throws {CacheUnavailableError} when the backend refuses, times out, or the cache is closed.
   * @throws {UnsupportedOperationError} when the adapter's `capabilities.patternDelete` is false.
   */
  deletePattern(pattern: string): Promise<number>;
  /**
   * Remaining time to live of `key` in whole seconds, rounded up (at least 1); `undefined` when absent or without expiry.
   * @throws {CacheValidationError} for an invalid key, before anything is sent.
   * @throws {CacheUnavailableError} when the backend refuses, times out, or the cache is closed.
   */
  ttl(key: string): Promise<number | undefined>;
  /**
   * Deletes every key of this cache's namespace, and nothing outside it.
   * @throws {CacheUnavailableError} when the backend refuses, times out, or the cache is closed.
   */
  clear(): Promise<void>;
}

/** A `CacheProtocol` that owns resources: `close()` releases what the adapter itself opened. */
export interface ClosableCache extends CacheProtocol {
  /** Releases what this adapter opened (never a client it was given); later calls reject with `CacheUnavailableError`. */
  close(): Promise<void>;
  /** Same as `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** The runtime token for `CacheProtocol`, for DI containers: `container.get(CacheProtocol)`. */
export const CacheProtocol: unique symbol = Symbol.for('@strata-cache/core/CacheProtocol');
