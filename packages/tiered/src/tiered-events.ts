import type { BusMessage, BusResetReason, Invalidation } from '@strata-cache/core';

/** Events of a `TieredCache`, emitted on its eventemitter3 interface (`cache.on('hit', …)`). */
export interface TieredCacheEvents {
  /** A read was answered by tier `tier` (0 is the top). */
  hit: [event: { key: string; tier: number }];
  /** No tier held the key. */
  miss: [event: { key: string }];
  /** Keys were written. */
  set: [event: { keys: readonly string[] }];
  /** Keys, a pattern, or everything were deleted. */
  delete: [event: { keys?: readonly string[]; pattern?: string; all?: boolean }];
  /** An invalidation was published to the other instances. */
  'invalidation-sent': [invalidation: Invalidation];
  /** Another instance's invalidation was applied to the tiers above the last. */
  'invalidation-received': [message: BusMessage];
  /** Messages may have been missed, so the tiers above the last were dropped. */
  reset: [event: { reason: BusResetReason }];
  /** A tier or the bus failed; the call degraded (or rejected, per `onLowerTierError`). */
  error: [event: { operation: string; error: Error; tier?: number }];
}

/** Counters of a `TieredCache` since it was created. */
export interface TieredCacheStats {
  /** Reads answered, per tier (index 0 is the top). */
  readonly hits: readonly number[];
  readonly misses: number;
  readonly sets: number;
  readonly deletes: number;
  readonly invalidationsSent: number;
  readonly invalidationsReceived: number;
  readonly resets: number;
  readonly errors: number;
  /** Fills of an upper tier refused because the key may have changed while its value was read. */
  readonly fenceRejections: number;
}
