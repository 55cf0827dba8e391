import { CacheValidationError, ttlToMs } from '@strata-cache/core';

/** Options of `getOrSet` (all optional). */
export interface GetOrSetOptions {
  /** Seconds the loaded value is fresh, as `set` takes it (`null`: no expiry). @default the cache's `defaultTtl` */
  ttl?: number | null;
  /** Seconds an expired value stays usable as a fallback (when the loader fails or times out). @default 0 */
  grace?: number;
  /** Seconds between loader retries while serving a stale value after a failure. @default 10 */
  graceBackoff?: number;
  /**
   * With a stale value at hand: answer with it after this many ms (0: at once); the load goes on in the background
   * and its result is cached as usual.
   */
  softTimeoutMs?: number;
  /** Abort the loader (`ctx.signal`) after this many ms and reject with `CacheLoaderTimeoutError` (or answer stale). */
  hardTimeoutMs?: number;
  /** 0 < r < 1: a fresh hit older than r × ttl starts one background reload (across all instances). */
  refreshAhead?: number;
  /**
   * Single flight across instances: a miss takes the key's lease in the last tier before calling the loader; the
   * others wait for the holder's write. `ttlMs`: how long a lease holds (what a holder that died costs the others);
   * `waitMs`: how long a waiter waits before it loads for itself (and does not cache what it loaded).
   * @default true: { ttlMs: 5000, waitMs: 10000 }
   */
  lease?: boolean | { ttlMs?: number; waitMs?: number };
  /** Tags the loaded value is stored with (see `invalidateTags`). @default [] */
  tags?: readonly string[];
}

/** What a loader is given. */
export interface LoaderContext<T> {
  /** The key being loaded. */
  readonly key: string;
  /** Aborted at `hardTimeoutMs`, or when the cache closes. */
  readonly signal: AbortSignal;
  /** The expired value, if one is at hand, and how long ago (ms) it stopped being fresh. */
  readonly stale: { readonly value: T; readonly expiredMs: number } | undefined;
  /** The TTL the value is stored with, in seconds (`null`: none); the loader may change it (adaptive caching). */
  ttl: number | null | undefined;
  /** The tags the value is stored with; the loader may change them. */
  tags: readonly string[];
}

/** Loads the value of a key that no tier holds fresh. */
export type Loader<T> = (ctx: LoaderContext<T>) => T | Promise<T>;

/** `GetOrSetOptions` validated, times in ms. */
export interface ResolvedGetOrSet {
  readonly ttl: number | null | undefined;
  readonly ttlMs: number | undefined;
  readonly graceMs: number;
  readonly backoffMs: number;
  readonly softMs: number | undefined;
  readonly hardMs: number | undefined;
  readonly refreshAhead: number | undefined;
  readonly lease: { readonly ttlMs: number; readonly waitMs: number } | undefined;
  readonly tags: readonly string[];
}

const NAMES: ReadonlySet<string> = new Set([
  'ttl',
  'grace',
  'graceBackoff',
  'softTimeoutMs',
  'hardTimeoutMs',
  'refreshAhead',
  'lease',
  'tags',
]);

/**
 * Validates `options` against the cache's `defaultTtl` (seconds).
 * @throws {CacheValidationError} naming the option, for any value out of its range.
 */
export function resolveGetOrSet(
  options: GetOrSetOptions,
  defaultTtl: number | null | undefined,
): ResolvedGetOrSet {
  if (options === null || typeof options !== 'object')
    throw new CacheValidationError('options', 'expected an object of getOrSet options');
  for (const name of Object.keys(options))
    if (!NAMES.has(name)) throw new CacheValidationError('options', `unknown getOrSet option '${name}'`);
  const ttl = options.ttl === undefined ? defaultTtl : options.ttl;
  const lease = options.lease ?? true;
  let leaseMs: { ttlMs: number; waitMs: number } | undefined;
  if (lease === true) leaseMs = { ttlMs: 5_000, waitMs: 10_000 };
  else if (typeof lease === 'object' && lease !== null) {
    const ttlMs = lease.ttlMs ?? 5_000;
    leaseMs = {
      ttlMs: positive('lease.ttlMs', ttlMs),
      waitMs: positive('lease.waitMs', lease.waitMs ?? 2 * ttlMs),
    };
  } else if (lease !== false)
    throw new CacheValidationError('lease', 'expected a boolean or { ttlMs, waitMs }');
  const refreshAhead = options.refreshAhead;
  if (
    refreshAhead !== undefined &&
    !(typeof refreshAhead === 'number' && refreshAhead > 0 && refreshAhead < 1)
  )
    throw new CacheValidationError(
      'refreshAhead',
      `expected a number between 0 and 1, got ${String(refreshAhead)}`,
    );
  const tags = options.tags ?? [];
  if (!Array.isArray(tags) || tags.some((tag) => typeof tag !== 'string' || tag === ''))
    throw new CacheValidationError('tags', 'expected a list of non-empty strings');
  return {
    ttl,
    ttlMs: ttlToMs(ttl),
    graceMs: seconds('grace', options.grace ?? 0),
    backoffMs: seconds('graceBackoff', options.graceBackoff ?? 10),
    softMs:
      options.softTimeoutMs === undefined ? undefined : milliseconds('softTimeoutMs', options.softTimeoutMs),
    hardMs:
      options.hardTimeoutMs === undefined ? undefined : positive('hardTimeoutMs', options.hardTimeoutMs),
    refreshAhead,
    lease: leaseMs,
    tags,
  };
}

function seconds(name: string, value: unknown): number {
  if (typeof value !== 'number' || !(value >= 0) || !Number.isFinite(value))
    throw new CacheValidationError(name, `expected a finite number of seconds ≥ 0, got ${String(value)}`);
  return Math.ceil(value * 1000);
}

function milliseconds(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0)
    throw new CacheValidationError(name, `expected an integer of milliseconds ≥ 0, got ${String(value)}`);
  return value;
}

function positive(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1)
    throw new CacheValidationError(name, `expected a positive integer of milliseconds, got ${String(value)}`);
  return value;
}
