import {
  type CacheProtocol,
  type CacheStore,
  type Codec,
  defaultCodec,
  StoreCache,
  ValueReader,
} from '@strata-cache/core';
import { ProtocolStore } from './protocol-store.js';

/** A tier with its own settings. */
export interface TierOptions {
  /** The cache of this tier. */
  readonly cache: CacheProtocol;
  /** For a tier above the last: the longest any entry lives in it, in seconds. @default the cache's `maxTtl` */
  readonly maxTtl?: number;
}

/** A tier as the cache keeps it: the cache it was given, and the store the cache reads and writes entries through. */
export interface Tier {
  /** Its place, 0 at the top. */
  readonly index: number;
  /** The cache as given: its own `deletePattern`, `clear` and `ttl` serve those calls. */
  readonly cache: CacheProtocol;
  /** Where entries are read and written. */
  readonly store: CacheStore;
  /** How its entries' values are read. */
  readonly values: ValueReader;
  /** The codec its entries' texts are in. */
  readonly codec: Codec;
  /** For upper tiers: the cap on fills and writes, in ms. */
  readonly maxTtlMs: number;
  /** Every call but a long one settles within the cache's `timeoutMs` by itself: no limit of the cache's is added. */
  readonly selfBounded: boolean;
  /** It bounds each step of its long operations (`setMany`, a walk): those are not bounded as a whole. */
  readonly stepBounded: boolean;
}

const METHODS = [
  'get',
  'set',
  'delete',
  'exists',
  'getMany',
  'setMany',
  'deletePattern',
  'ttl',
  'clear',
] as const;

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
 * Validates one entry of the `tiers` option. A Strata adapter (a `StoreCache`) is read and written through its store;
 * any other `CacheProtocol` through a {@link ProtocolStore} over it.
 * @throws {TypeError} when it is not a CacheProtocol; {RangeError} for a bad `maxTtl`.
 */
export function toTier(
  given: CacheProtocol | TierOptions,
  index: number,
  defaultMaxTtlMs: number,
  timeoutMs: number,
): Tier {
  const options: TierOptions =
    'cache' in given && typeof (given as TierOptions).cache === 'object'
      ? (given as TierOptions)
      : { cache: given as CacheProtocol };
  const { cache } = options;
  for (const method of METHODS) {
    if (typeof (cache as unknown as Record<string, unknown>)?.[method] !== 'function')
      throw new TypeError(`tiers[${index}] is not a CacheProtocol (no ${method}())`);
  }
  const store = cache instanceof StoreCache ? cache.store : new ProtocolStore(cache);
  const values = cache instanceof StoreCache ? cache.values : new ValueReader(defaultCodec, 'decode');
  const bound = store.callBoundMs;
  return {
    index,
    cache,
    store,
    values,
    codec: values.codec,
    maxTtlMs:
      options.maxTtl === undefined
        ? defaultMaxTtlMs
        : positiveSecondsToMs(`tiers[${index}].maxTtl`, options.maxTtl),
    selfBounded: bound !== undefined && bound <= timeoutMs,
    stepBounded: bound !== undefined,
  };
}
