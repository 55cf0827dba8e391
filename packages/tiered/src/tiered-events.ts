import type { BusMessage, BusResetReason, BusSuspendReason, Invalidation } from '@strata-cache/core';
import type { BreakerState } from './breaker.js';

/** A read answered by a tier. */
export interface TieredHitEvent {
  /** The key read. */
  readonly key: string;
  /** The tier that answered (0 is the top). */
  readonly tier: number;
}

/** A read no tier could answer. */
export interface TieredMissEvent {
  /** The key no tier held. */
  readonly key: string;
}

/** Keys written. */
export interface TieredSetEvent {
  /** The keys written. */
  readonly keys: readonly string[];
}

/** Keys, a pattern, or everything deleted. */
export interface TieredDeleteEvent {
  /** The keys deleted, for `delete`. */
  readonly keys?: readonly string[];
  /** The glob, for `deletePattern`. */
  readonly pattern?: string;
  /** True for `clear`. */
  readonly all?: boolean;
}

/** The bus cannot hear other instances for now: the tiers above the last are bypassed until it can. */
export interface TieredSuspendEvent {
  /** Why the subscription is not live. */
  readonly reason: BusSuspendReason;
}

/** The tiers above the last were dropped, since messages may have been missed; they are used again once dropped. */
export interface TieredResetEvent {
  /** Why messages may have been missed. */
  readonly reason: BusResetReason;
}

/** A tier or the bus failed. */
export interface TieredErrorEvent {
  /** The operation that failed, e.g. `'get'`, `'publish'`, `'fill'`. */
  readonly operation: string;
  /** The failure. */
  readonly error: Error;
  /** The tier that failed (0 is the top), when a tier did. */
  readonly tier?: number;
}

/** Events of a `TieredCache`, emitted on its eventemitter3 interface (`cache.on('hit', …)`). */
export interface TieredCacheEvents {
  /** A read was answered by a tier. */
  hit: [event: TieredHitEvent];
  /** No tier held the key. */
  miss: [event: TieredMissEvent];
  /** Keys were written. */
  set: [event: TieredSetEvent];
  /** Keys, a pattern, or everything were deleted. */
  delete: [event: TieredDeleteEvent];
  /** An invalidation was published to the other instances. */
  'invalidation-sent': [invalidation: Invalidation];
  /** Another instance's invalidation was applied to the tiers above the last. */
  'invalidation-received': [message: BusMessage];
  /** The bus subscription is not live: the tiers above the last are neither read nor filled until a `reset`. */
  suspend: [event: TieredSuspendEvent];
  /** Messages may have been missed, so the tiers above the last were dropped. */
  reset: [event: TieredResetEvent];
  /** A tier or the bus failed; the call degraded (or rejected, per `onLowerTierError`). */
  error: [event: TieredErrorEvent];
  /** A tier's circuit breaker changed state. */
  breaker: [event: TieredBreakerEvent];
  /** A `getOrSet` loader run ended. */
  load: [event: TieredLoadEvent];
  /** A read was answered with a stale value. */
  stale: [event: TieredStaleEvent];
  /** A `getOrSet` waited for another instance's lease. */
  'lease-wait': [event: TieredLeaseWaitEvent];
}

/** Counters of a `TieredCache` since it was created. */
export interface TieredCacheStats {
  /** Reads answered, per tier (index 0 is the top). */
  readonly hits: readonly number[];
  /** Reads no tier could answer (per key, for getMany). */
  readonly misses: number;
  /** Keys written by set and setMany. */
  readonly sets: number;
  /** Keys deleted by delete. */
  readonly deletes: number;
  /** Invalidations this instance published. */
  readonly invalidationsSent: number;
  /** Other instances' invalidations applied here. */
  readonly invalidationsReceived: number;
  /** Times the upper tiers were dropped because messages may have been missed. */
  readonly resets: number;
  /** Tier and bus failures reported as `error` events. */
  readonly errors: number;
  /** Fills of an upper tier refused because the key may have changed while its value was read. */
  readonly fenceRejections: number;
  /** Per tier: its circuit breaker's state (the top tier has none: always `closed`). */
  readonly breakers: readonly BreakerState[];
  /** Loader runs of `getOrSet` (refreshes included). */
  readonly loads: number;
  /** Loader runs that threw or timed out. */
  readonly loadFailures: number;
  /** Times `getOrSet` waited for another instance's lease on the key. */
  readonly leaseWaits: number;
  /** Answers given from a stale (expired, or unverified) copy: grace, or the `staleIfError` fail-safe. */
  readonly staleAnswers: number;
  /** Background reloads started by `refreshAhead`. */
  readonly refreshes: number;
}

/** A tier's circuit breaker changed state. */
export interface TieredBreakerEvent {
  /** The tier (1 is the first below the top). */
  readonly tier: number;
  /** Its new state: `open` fails calls at once, `half-open` lets one probe through, `closed` is normal. */
  readonly state: BreakerState;
}

/** A `getOrSet` loader run ended. */
export interface TieredLoadEvent {
  /** The key loaded. */
  readonly key: string;
  /** How long the loader took, in ms. */
  readonly durationMs: number;
  /** Whether the result was cached (a run whose key changed meanwhile, or `undefined`, is not). */
  readonly cached: boolean;
  /** The loader's failure (or `CacheLoaderTimeoutError`), when it failed. */
  readonly error?: Error;
  /** Whether it ran in the background, for `refreshAhead` or after a soft timeout answered stale. */
  readonly background: boolean;
}

/** A read was answered with a stale value. */
export interface TieredStaleEvent {
  /** The key read. */
  readonly key: string;
  /**
   * Why: the loader failed (`loader-error`) or timed out (`timeout`), the lower tiers were unavailable
   * (`unavailable`), or the loader is backed off after a failure (`backoff`).
   */
  readonly reason: 'loader-error' | 'timeout' | 'unavailable' | 'backoff';
  /** How long past its expiry (or since it became unverified) the value was, in ms. */
  readonly staleMs: number;
}

/** A `getOrSet` waited for another instance's lease on a key. */
export interface TieredLeaseWaitEvent {
  /** The key. */
  readonly key: string;
  /** How long it waited, in ms. */
  readonly waitedMs: number;
  /** `written`: the holder wrote it; `released`: the holder gave up or its lease lapsed; `timeout`: waitMs ran out. */
  readonly outcome: 'written' | 'released' | 'timeout';
}
