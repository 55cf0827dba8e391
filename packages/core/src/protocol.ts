import type { Codec } from './codec.js';

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
   * Stores `value` under `key` for `ttl` seconds (none: no expiry; an existing expiry is removed).
   * @throws {CacheValidationError} for an invalid key or TTL, before anything is sent.
   * @throws {SerializationError} for a value the codec cannot round-trip exactly.
   * @throws {CacheUnavailableError} when the backend refuses, times out, or the cache is closed.
   */
  set(key: string, value: unknown, ttl?: number | null): Promise<void>;
  /**
   * Removes `key`; removing an absent key is not an error.
   * @throws {CacheValidationError} for an invalid key, before anything is sent.
   * @throws {CacheUnavailableError} when the backend refuses, times out, or the cache is closed.
   */
  delete(key: string): Promise<void>;
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
   * Stores every item with the same `ttl` (seconds), exactly as `set` would each; every item is validated before any is written.
   * @throws {CacheValidationError} for an invalid item key or TTL, before anything is sent.
   * @throws {SerializationError} for a value the codec cannot round-trip exactly.
   * @throws {CacheUnavailableError} when the backend refuses, times out, or the cache is closed.
   */
  setMany(items: CacheItems, ttl?: number | null): Promise<void>;
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

/** A value with its remaining lifetime, as a lower tier reports it to the tiers above it. */
export interface CacheEntry<T = unknown> {
  /** The value, decoded (a fresh copy). */
  readonly value: T;
  /** Remaining time to live in milliseconds (at least 0); `undefined` when the key has no expiry. */
  readonly ttlMs: number | undefined;
  /**
   * The value as the tier's `codec` encoded it, when the tier stores encoded text: a tier above with the same codec
   * can store it as it is (see {@link TextWriter}), without encoding the value again.
   */
  readonly text?: string;
}

/** Implemented by adapters that store values as their codec's text and can be given that text directly. */
export interface TextWriter {
  /** The codec whose text {@link TextWriter.setText} takes. */
  readonly codec: Codec;
  /**
   * Stores `text`, which `codec.encode` produced (it is not checked), under `key` for `ttlMs` milliseconds (none:
   * no expiry); synchronously.
   * @throws {CacheValidationError} for an invalid key or TTL, or a value too large for the adapter.
   */
  setText(key: string, text: string, ttlMs: number | undefined): void;
}

/**
 * Implemented by remote adapters that store values as their codec's text and can be given that text directly, so
 * that a tiered cache encodes a written value once for every tier.
 */
export interface EncodedWriter {
  /** The codec whose text {@link EncodedWriter.setEncoded} takes. */
  readonly codec: Codec;
  /**
   * Stores `text`, which `codec.encode` produced (it is not checked), exactly as `set(key, value, ttl)` would store
   * the value it encodes.
   * @throws {CacheValidationError} for an invalid key or TTL, before anything is sent.
   * @throws {CacheUnavailableError} when the backend refuses, times out, or the cache is closed.
   */
  setEncoded(key: string, text: string, ttl?: number | null): Promise<void>;
}

/** True when `cache` implements {@link EncodedWriter}. */
export function writesEncoded(cache: CacheProtocol): cache is CacheProtocol & EncodedWriter {
  const candidate = cache as Partial<EncodedWriter>;
  return typeof candidate.setEncoded === 'function' && typeof candidate.codec === 'object';
}

/** True when `cache` implements {@link TextWriter}. */
export function writesText(cache: CacheProtocol): cache is CacheProtocol & TextWriter {
  const candidate = cache as Partial<TextWriter>;
  return typeof candidate.setText === 'function' && typeof candidate.codec === 'object';
}

/**
 * Implemented by adapters that can read a value together with its remaining TTL in one step, so that a tiered
 * cache fills the tiers above without an extra round trip and never beyond the entry's life.
 */
export interface EntryReader {
  /** Reads `key` with its remaining TTL; `undefined` when absent or expired. */
  getEntry<T = unknown>(key: string): Promise<CacheEntry<T> | undefined>;
  /** Reads many keys with their remaining TTLs: the present ones, in request order, each once. */
  getManyEntries<T = unknown>(keys: readonly string[]): Promise<Map<string, CacheEntry<T>>>;
}

/** True when `cache` implements {@link EntryReader}. */
export function readsEntries(cache: CacheProtocol): cache is CacheProtocol & EntryReader {
  const candidate = cache as Partial<EntryReader>;
  return typeof candidate.getEntry === 'function' && typeof candidate.getManyEntries === 'function';
}

/**
 * Implemented by in-process adapters that can answer a read synchronously, so that a tiered cache serves its
 * hottest path (an L1 hit) without an extra await.
 */
export interface SyncReader {
  /**
   * Exactly what `get(key)` would resolve to, returned synchronously.
   * @throws {CacheValidationError} for an invalid key; {CacheUnavailableError} when the cache is closed.
   */
  getSync<T = unknown>(key: string): T | undefined;
}

/** True when `cache` implements {@link SyncReader}. */
export function readsSync(cache: CacheProtocol): cache is CacheProtocol & SyncReader {
  return typeof (cache as Partial<SyncReader>).getSync === 'function';
}

/**
 * Implemented by adapters that bound their own calls in time, so that a tiered cache over them need not add a
 * time limit of its own (two stacked limits cost on a hot path and the inner one always answers first).
 */
export interface BoundedCalls {
  /**
   * Every call but `setMany`, `deletePattern` and `clear` settles within this many milliseconds, a rejection with
   * `CacheUnavailableError` included. Those three may send many commands (a large batch split up, a keyspace walked
   * step by step): each of their commands is bounded by it instead, not the whole call.
   */
  readonly callBoundMs: number;
}

/** The bound of `cache`'s calls in ms (see {@link BoundedCalls}), or `undefined` when it declares none. */
export function callBoundMs(cache: CacheProtocol): number | undefined {
  const bound = (cache as Partial<BoundedCalls>).callBoundMs;
  return typeof bound === 'number' && bound > 0 ? bound : undefined;
}

/** The runtime token for `CacheProtocol`, for DI containers: `container.get(CacheProtocol)`. */
export const CacheProtocol: unique symbol = Symbol.for('@strata-cache/core/CacheProtocol');
