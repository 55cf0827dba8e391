export { LocalBus, LocalBusChannel, type LocalBusChannelOptions, type LocalBusOptions } from './local-bus.js';
export { TieredCache, type TieredCacheOptions } from './tiered-cache.js';
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
export type { TierOptions } from './tiers.js';
