import { type CacheEntry, type CacheProtocol, readsEntries } from '@strata-cache/core';

/** A tier with its own settings. */
export interface TierOptions {
  /** The cache of this tier. */
  readonly cache: CacheProtocol;
  /** For a tier above the last: the longest any entry lives in it, in seconds. @default the cache's `maxTtl` */
  readonly maxTtl?: number;
}

/** A tier as the cache keeps it. */
export interface Tier {
  readonly cache: CacheProtocol;
  /** For upper tiers: the cap on fills and writes, in ms. */
  readonly maxTtlMs: number;
}

/**
 * Converts a positive number of seconds to whole milliseconds (rounding up), for options.
 * @throws {RangeError} unless `seconds` is a finite number > 0.
 */
export function positiveSecondsToMs(name: string, seconds: unknown): number {
  if (typeof seconds !== 'number' || !(seconds > 0) || !Number.isFinite(seconds)) {
    throw new RangeError(`${name} must be a finite number of seconds > 0, got ${String(seconds)}`);
  }
  return Math.ceil(seconds * 1000);
}

/**
 * Validates one entry of the `tiers` option.
 * @throws {TypeError} when it is not a CacheProtocol; {RangeError} for a bad `maxTtl`.
 */
export function toTier(tier: CacheProtocol | TierOptions, index: number, defaultMaxTtlMs: number): Tier {
  const options: TierOptions =
    'cache' in tier && typeof (tier as TierOptions).cache === 'object'
      ? (tier as TierOptions)
      : { cache: tier as CacheProtocol };
  const { cache } = options;
  for (const method of [
    'get',
    'set',
    'delete',
    'exists',
    'getMany',
    'setMany',
    'deletePattern',
    'ttl',
    'clear',
  ] as const) {
    if (typeof (cache as unknown as Record<string, unknown>)?.[method] !== 'function') {
      throw new TypeError(`tiers[${index}] is not a CacheProtocol (no ${method}())`);
    }
  }
  return {
    cache,
    maxTtlMs:
      options.maxTtl === undefined
        ? defaultMaxTtlMs
        : positiveSecondsToMs(`tiers[${index}].maxTtl`, options.maxTtl),
  };
}

/** Reads through a time limit: resolves to `undefined` when the read failed and the caller degrades. */
export type GuardedRead = <R>(operation: string, read: () => Promise<R>) => Promise<R | undefined>;

/**
 * Values with their remaining TTLs from `cache`: in one call when it implements `EntryReader`, otherwise with a
 * `getMany` and a `ttl` per key.
 */
export async function readEntries<T>(
  cache: CacheProtocol,
  keys: readonly string[],
  guarded: GuardedRead,
): Promise<Map<string, CacheEntry<T>>> {
  if (readsEntries(cache)) return (await guarded('get', () => cache.getManyEntries<T>(keys))) ?? new Map();
  const values = (await guarded('get', () => cache.getMany<T>(keys))) ?? new Map<string, T>();
  const entries = new Map<string, CacheEntry<T>>();
  for (const [k, value] of values) {
    const seconds = await guarded('ttl', () => cache.ttl(k));
    // Whole seconds rounded up could outlive the entry by up to a second: take one off, so no fill outlives it.
    entries.set(k, { value, ttlMs: seconds === undefined ? undefined : Math.max(0, seconds * 1000 - 1000) });
  }
  return entries;
}

/** One key's value with its remaining TTL from `cache` (see {@link readEntries}); the single-key hot path. */
export async function readEntry<T>(
  cache: CacheProtocol,
  key: string,
  guarded: GuardedRead,
): Promise<CacheEntry<T> | undefined> {
  if (readsEntries(cache)) return guarded('get', () => cache.getEntry<T>(key));
  return (await readEntries<T>(cache, [key], guarded)).get(key);
}
