export { LocalBus, LocalBusChannel, type LocalBusChannelOptions, type LocalBusOptions } from './local-bus.js';
export { TieredCache, type TieredCacheOptions, type TierOptions } from './tiered-cache.js';
export type { TieredCacheEvents, TieredCacheStats } from './tiered-events.js';
