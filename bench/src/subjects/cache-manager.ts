import { createCache } from 'cache-manager';
import { type Contender, type L1Only, TTL_SECONDS, type Where } from '../subject.js';
import { keyvPopulate, memoryKeyv, redisKeyv } from './keyv-redis.js';

const TTL_MS = TTL_SECONDS * 1000;

/**
 * cache-manager 7.2 with two Keyv stores, memory then `@keyv/redis`, as its docs show. It has no bus, so it is
 * absent from the invalidation-lag workload.
 */
export function cacheManagerTiered(where: Where, namespace: string): Contender {
  const l1 = memoryKeyv();
  const l2 = redisKeyv(where, namespace);
  const cache = createCache({ stores: [l1, l2], ttl: TTL_MS });
  const writer = redisKeyv(where, namespace);
  return {
    id: 'cache-manager',
    get: (key) => cache.get(key),
    getMany: (keys) => cache.mget([...keys]),
    async set(key, value) {
      await cache.set(key, value, TTL_MS);
    },
    populate: (keys, values) => keyvPopulate(writer, keys, values, TTL_MS),
    async resetL1() {
      await l1.clear();
    },
    // cache-manager's get does not copy an L2 hit into L1 (only set and wrap fill it): fill it as a set would.
    async warmL1(keys, values) {
      for (const [i, key] of keys.entries()) await l1.set(key, values[i], TTL_MS);
    },
    async close() {
      await Promise.all([cache.disconnect(), writer.disconnect()]);
    },
  };
}

/** cache-manager's L1 alone: one memory Keyv store (the same `@cacheable/memory` store as cacheable's). */
export function cacheManagerL1(): L1Only {
  const cache = createCache({ stores: [memoryKeyv()], ttl: TTL_MS });
  return {
    id: 'cache-manager',
    async set(key, value) {
      await cache.set(key, value, TTL_MS);
    },
    get: (key) => cache.get(key),
    async close() {
      await cache.disconnect();
    },
  };
}
