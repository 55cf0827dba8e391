import type { CacheProtocol, InvalidationBus } from '@strata-cache/core';
import { assertOptionNames } from '@strata-cache/core/internal';
import type { BreakerOptions } from './breaker.js';
import { positiveSecondsToMs, type Tier, type TierOptions, toTier } from './tier.js';
import type { TierSetOptions } from './tier-set.js';

/** Options of {@link TieredCache}. */
export interface TieredCacheOptions {
  /**
   * The tiers, top first (usually `[memory, redis]`); the last one is authoritative. One tier alone is allowed: the
   * cache then adds `getOrSet`, events and the circuit breaker to it.
   */
  tiers: ReadonlyArray<CacheProtocol | TierOptions>;
  /** Carries invalidations between instances; omit it for a single process. One bus serves one cache. */
  bus?: InvalidationBus;
  /**
   * The longest an entry lives in a tier above the last, in seconds: staleness is bounded by it even if every
   * invalidation is lost.
   * @default 60
   */
  maxTtl?: number;
  /**
   * Calls to the tiers below the top reject with `CacheUnavailableError` after this many ms, unless the tier bounds
   * its own calls within it (the Redis adapter does, with its `commandTimeoutMs`); long operations (`setMany`,
   * `deletePattern`, `clear`) of a tier that bounds each of its commands are not bounded as a whole.
   * @default 2000
   */
  timeoutMs?: number;
  /**
   * When a tier below the top fails on a read: `'degrade'` answers as a miss and emits `error`; `'throw'`
   * rejects. Writes always reject.
   * @default 'degrade'
   */
  onLowerTierError?: 'degrade' | 'throw';
  /**
   * The TTL, in seconds, of values `getOrSet` loads when the call gives none (`null`: no expiry). `set` is not
   * affected: it takes its TTL from each call, as every cache does.
   * @default null
   */
  defaultTtl?: number | null;
  /**
   * The fail-safe, in seconds (0: off). When the tiers below the top cannot answer a read (down, timing out, or
   * their circuit open), `get` and `getMany` answer with a copy held above, expired or unverified, no older than
   * this past the time it stopped being fresh, and say so (a `stale` event, `staleAnswers` in `stats()`). Copies above
   * are kept this much longer for it, and when the bus may have missed messages they are demoted to unverified
   * (fallback only) instead of dropped. Never a value deleted or overwritten while this instance could hear the bus.
   * @default 0
   */
  staleIfError?: number;
  /**
   * The circuit breaker of each tier below the top (`false`: none): after `failures` consecutive failures its calls
   * fail at once, while a background read probes the tier every `cooldownMs`; the first answer closes it.
   * @default { failures: 5, cooldownMs: 500 }
   */
  breaker?: BreakerOptions | false;
}

const DEFAULTS = {
  maxTtl: 60,
  timeoutMs: 2_000,
  onLowerTierError: 'degrade',
  defaultTtl: null,
  staleIfError: 0,
  breaker: { failures: 5, cooldownMs: 500 },
} as const;

const OPTION_NAMES: ReadonlySet<string> = new Set(['tiers', 'bus', ...Object.keys(DEFAULTS)]);

/** {@link TieredCacheOptions} checked, with their defaults, as the cache's parts take them. */
export interface ResolvedTieredOptions {
  readonly tiers: Tier[];
  readonly bus: InvalidationBus | undefined;
  readonly defaultTtl: number | null;
  readonly set: TierSetOptions;
}

/**
 * Checks `options` and fills in the defaults.
 * @throws {TypeError} for an unknown option or one of the wrong type.
 * @throws {RangeError} for an option out of range (a size, a time, a namespace with `:`).
 */
export function resolveTieredOptions(options: TieredCacheOptions): ResolvedTieredOptions {
  assertOptionNames('TieredCache', options, OPTION_NAMES);
  const merged = { ...DEFAULTS, ...options };
  const defaultMaxTtlMs = positiveSecondsToMs('maxTtl', merged.maxTtl);
  if (!Array.isArray(merged.tiers) || merged.tiers.length < 1)
    throw new TypeError('tiers must list at least one cache');
  if (!['degrade', 'throw'].includes(merged.onLowerTierError))
    throw new RangeError("onLowerTierError must be 'degrade' or 'throw'");
  if (!Number.isSafeInteger(merged.timeoutMs) || merged.timeoutMs < 1)
    throw new RangeError(`timeoutMs must be a positive integer (milliseconds), got ${merged.timeoutMs}`);
  const defaultTtl = defaultTtlOption(merged.defaultTtl);
  const tiers = merged.tiers.map((tier, i) => toTier(tier, i, defaultMaxTtlMs, merged.timeoutMs));
  return {
    tiers,
    bus: merged.bus,
    defaultTtl,
    set: {
      timeoutMs: merged.timeoutMs,
      degrade: merged.onLowerTierError === 'degrade',
      breaker: breakerOption(merged.breaker),
      staleIfErrorMs:
        merged.staleIfError === 0 ? 0 : positiveSecondsToMs('staleIfError', merged.staleIfError),
    },
  };
}

function defaultTtlOption(ttl: unknown): number | null {
  if (ttl === null) return null;
  positiveSecondsToMs('defaultTtl', ttl);
  return ttl as number;
}

function breakerOption(breaker: BreakerOptions | false): Required<BreakerOptions> | undefined {
  if (breaker === false) return undefined;
  if (breaker === null || typeof breaker !== 'object')
    throw new TypeError('breaker must be an object or false');
  assertOptionNames('breaker', breaker, BREAKER_NAMES);
  const failures = breaker.failures ?? 5;
  const cooldownMs = breaker.cooldownMs ?? 500;
  if (!Number.isSafeInteger(failures) || failures < 1)
    throw new RangeError(`breaker.failures must be a positive integer, got ${String(failures)}`);
  if (!Number.isSafeInteger(cooldownMs) || cooldownMs < 1)
    throw new RangeError(
      `breaker.cooldownMs must be a positive integer (milliseconds), got ${String(cooldownMs)}`,
    );
  return { failures, cooldownMs };
}

const BREAKER_NAMES: ReadonlySet<string> = new Set(['failures', 'cooldownMs']);
