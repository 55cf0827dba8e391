import { CacheValidationError, checkedTags, ttlToMs } from '@strata-cache/core';

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
  lease?: boolean | LeaseOptions;
  /** Tags the loaded value is stored with (see `invalidateTags`). @default [] */
  tags?: readonly string[];
}

/** Settings of `getOrSet`'s lease (see {@link GetOrSetOptions.lease}). */
export interface LeaseOptions {
  /** How long a lease holds, in ms: what a holder that died costs the others. @default 5000 */
  ttlMs?: number;
  /** How long a waiter waits for the holder's write before it loads for itself (uncached), in ms. @default 2 × ttlMs */
  waitMs?: number;
}

/** An expired value at hand, given to the loader. */
export interface StaleValue<T> {
  /** The value. */
  readonly value: T;
  /** How long ago it stopped being fresh, in ms. */
  readonly expiredMs: number;
}

/** What a loader is given. */
export interface LoaderContext<T> {
  /** The key being loaded. */
  readonly key: string;
  /** Aborted at `hardTimeoutMs`, or when the cache closes. */
  readonly signal: AbortSignal;
  /** The expired value, if one is at hand, and how long ago (ms) it stopped being fresh. */
  readonly stale: StaleValue<T> | undefined;
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

/** The options of a `getOrSet` call that gives none, for a cache whose `defaultTtl` is `defaultTtl` (seconds). */
export function defaultGetOrSet(defaultTtl: number | null): ResolvedGetOrSet {
  return {
    ttl: defaultTtl,
    ttlMs: ttlToMs(defaultTtl),
    graceMs: 0,
    backoffMs: 10_000,
    softMs: undefined,
    hardMs: undefined,
    refreshAhead: undefined,
    lease: DEFAULT_LEASE,
    tags: NO_TAGS,
  };
}

const DEFAULT_LEASE = { ttlMs: 5_000, waitMs: 10_000 } as const;
const NO_TAGS: readonly string[] = Object.freeze([]);

/**
 * Validates `options` over `defaults` (the cache's, see {@link defaultGetOrSet}). Only the options given are read:
 * this runs on every call that passes options, L1 hits included.
 * @throws {CacheValidationError} naming the option, for an unknown one or a value out of its range.
 */
export function resolveGetOrSet(options: GetOrSetOptions, defaults: ResolvedGetOrSet): ResolvedGetOrSet {
  if (options === null || typeof options !== 'object')
    throw new CacheValidationError('options', 'expected an object of getOrSet options');
  let { ttl, ttlMs, graceMs, backoffMs, softMs, hardMs, refreshAhead, lease, tags } = defaults;
  for (const name in options) {
    if (!Object.hasOwn(options, name)) continue;
    const value = (options as Record<string, unknown>)[name];
    if (value === undefined) continue;
    switch (name) {
      case 'ttl':
        ttl = value as number | null;
        ttlMs = ttlToMs(value);
        break;
      case 'grace':
        graceMs = seconds('grace', value);
        break;
      case 'graceBackoff':
        backoffMs = seconds('graceBackoff', value);
        break;
      case 'softTimeoutMs':
        softMs = milliseconds('softTimeoutMs', value);
        break;
      case 'hardTimeoutMs':
        hardMs = positive('hardTimeoutMs', value);
        break;
      case 'refreshAhead':
        if (!(typeof value === 'number' && value > 0 && value < 1))
          throw new CacheValidationError(
            'refreshAhead',
            `expected a number between 0 and 1, got ${String(value)}`,
          );
        refreshAhead = value;
        break;
      case 'lease':
        lease = leaseOption(value);
        break;
      case 'tags':
        tags = checkedTags(value, 'tags');
        break;
      default:
        throw new CacheValidationError('options', `unknown getOrSet option '${name}'`);
    }
  }
  return { ttl, ttlMs, graceMs, backoffMs, softMs, hardMs, refreshAhead, lease, tags };
}

function leaseOption(lease: unknown): ResolvedGetOrSet['lease'] {
  if (lease === true) return DEFAULT_LEASE;
  if (lease === false) return undefined;
  if (lease === null || typeof lease !== 'object')
    throw new CacheValidationError('lease', 'expected a boolean or { ttlMs, waitMs }');
  const { ttlMs = 5_000, waitMs, ...rest } = lease as { ttlMs?: unknown; waitMs?: unknown };
  const unknown = Object.keys(rest)[0];
  if (unknown !== undefined) throw new CacheValidationError('lease', `unknown lease option '${unknown}'`);
  const ttl = positive('lease.ttlMs', ttlMs);
  return { ttlMs: ttl, waitMs: positive('lease.waitMs', waitMs ?? 2 * ttl) };
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
