export type { BreakerOptions, BreakerState } from './breaker.js';
export type {
  GetOrSetOptions,
  LeaseOptions,
  Loader,
  LoaderContext,
  StaleValue,
} from './get-or-set-options.js';
export type { TierOptions } from './tier.js';
export { TieredCache, type TieredListener } from './tiered-cache.js';
export type {
  TieredBreakerEvent,
  TieredCacheEvents,
  TieredCacheStats,
  TieredDeleteEvent,
  TieredErrorEvent,
  TieredHitEvent,
  TieredLeaseWaitEvent,
  TieredLoadEvent,
  TieredMissEvent,
  TieredResetEvent,
  TieredSetEvent,
  TieredStaleEvent,
  TieredSuspendEvent,
} from './tiered-events.js';
export type { TieredCacheOptions } from './tiered-options.js';
