export type { TierOptions } from './tier.js';
export { TieredCache, type TieredCacheOptions, type TieredListener } from './tiered-cache.js';
export type {
  TieredCacheEvents,
  TieredCacheStats,
  TieredDeleteEvent,
  TieredErrorEvent,
  TieredHitEvent,
  TieredMissEvent,
  TieredResetEvent,
  TieredSetEvent,
  TieredSuspendEvent,
} from './tiered-events.js';
