import type { BusMessage, BusResetReason, BusSuspendReason, Invalidation } from '@strata-cache/core';

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
}
