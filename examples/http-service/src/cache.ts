import { MemoryCacheAdapter } from '@strata-cache/memory';
import { RedisCacheAdapter, RedisPubSubBus } from '@strata-cache/redis';
import { TieredCache } from '@strata-cache/tiered';

/** The service's cache and how to release it. */
export interface ServiceCache {
  readonly cache: TieredCache;
  /** Unsubscribes, then closes the Redis connections this module opened. */
  close(): Promise<void>;
}

/**
 * L1: an in-process LRU of up to 10,000 entries, none kept longer than 30 s. L2: Redis, shared by every copy of
 * the service. The bus carries invalidations between the copies, so a write through one is read fresh through all.
 */
export async function createServiceCache(redisUrl: string, namespace: string): Promise<ServiceCache> {
  const l1 = new MemoryCacheAdapter({ maxEntries: 10_000, namespace });
  const l2 = new RedisCacheAdapter({ url: redisUrl, namespace, commandTimeoutMs: 500 });
  // Built on the adapter: it shares its connection, and each write carries its own invalidation.
  const bus = new RedisPubSubBus({ adapter: l2 });
  const cache = new TieredCache({ tiers: [l1, l2], bus, maxTtl: 30 });
  // Until the bus subscription is live, reads bypass L1: waiting here means the service starts coherent.
  await cache.ready();
  return {
    cache,
    close: async () => {
      await cache.close();
      await Promise.all([bus.close(), l2.close(), l1.close()]);
    },
  };
}
