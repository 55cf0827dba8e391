import { type Invalidation, LocalBus, type OrderedBus } from '@strata-cache/core';
import { DelayedTier } from './delayed-tier.js';

/**
 * A `LocalBus` that pairs with a `DelayedTier` the way `RedisPubSubBus` pairs with a `RedisCacheAdapter`: an
 * invalidation published behind the tier's calls is sent only once every call issued before it has been applied,
 * as Redis runs one connection's commands in order. The write's reply is not waited for.
 */
export class PairedBus extends LocalBus implements OrderedBus {
  async pairWith(cache: unknown): Promise<boolean> {
    return cache instanceof DelayedTier;
  }

  publishBehind(cache: unknown, invalidation: Invalidation): Promise<void> | undefined {
    if (!(cache instanceof DelayedTier)) return undefined;
    return cache.whenIssuedApplied().then(() => this.publish(invalidation));
  }
}
