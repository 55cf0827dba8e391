import { RedisMessageProvider } from '@qified/redis';
import { Cacheable } from 'cacheable';
import { type Contender, type L1Only, type LagPair, TTL_SECONDS, type Where } from '../subject.js';
import { keyvPopulate, memoryKeyv, redisKeyv } from './keyv-redis.js';

const TTL_MS = TTL_SECONDS * 1000;
let providers = 0;

/**
 * A cacheable 2.5 instance: `@cacheable/memory` L1 over `@keyv/redis`, synchronised through `@qified/redis` (its
 * documented Redis transport; the sync message carries the value, so peers set it rather than drop it).
 */
function cacheableStack(where: Where, namespace: string): { cache: Cacheable; close(): Promise<void> } {
  // qified/redis takes one URI; Cluster PUBLISH reaches subscribers on any node, so the first node will do.
  const uri =
    where.topology === 'standalone' ? where.url : `redis://${where.nodes[0]!.host}:${where.nodes[0]!.port}`;
  const provider = new RedisMessageProvider({ uri, id: `bench-${++providers}` });
  const cache = new Cacheable({
    primary: memoryKeyv(),
    secondary: redisKeyv(where, namespace),
    ttl: TTL_MS,
    sync: { qified: provider, namespace },
  });
  return {
    cache,
    async close() {
      await cache.disconnect();
      await provider.disconnect(true);
    },
  };
}

/** cacheable with its L2 and sync as above; populated through a bare Keyv on the same namespace (no sync). */
export function cacheableTiered(where: Where, namespace: string): Contender {
  const { cache, close } = cacheableStack(where, namespace);
  const writer = redisKeyv(where, namespace);
  return {
    id: 'cacheable',
    get: (key) => cache.get(key),
    getMany: (keys) => cache.getMany([...keys]),
    async set(key, value) {
      await cache.set(key, value, TTL_MS);
    },
    populate: (keys, values) => keyvPopulate(writer, keys, values, TTL_MS),
    async resetL1() {
      await cache.primary.clear();
    },
    async close() {
      await Promise.all([close(), writer.disconnect()]);
    },
  };
}

/** Two cacheable instances, each with its own L2 connection and sync provider. */
export function cacheableLagPair(url: string, namespace: string): LagPair {
  const where: Where = { topology: 'standalone', url };
  const a = cacheableStack(where, namespace);
  const b = cacheableStack(where, namespace);
  return {
    id: 'cacheable',
    async write(key, value) {
      await a.cache.set(key, value, TTL_MS);
    },
    read: (key) => b.cache.get(key),
    inL1: async (key) => (await b.cache.primary.get(key)) !== undefined,
    async close() {
      await Promise.all([a.close(), b.close()]);
    },
  };
}

/** cacheable's L1 alone: the default `@cacheable/memory` primary at Strata's capacity. */
export function cacheableL1(): L1Only {
  const cache = new Cacheable({ primary: memoryKeyv(), ttl: TTL_MS });
  return {
    id: 'cacheable',
    async set(key, value) {
      await cache.set(key, value, TTL_MS);
    },
    get: (key) => cache.get(key),
    close: () => cache.disconnect(),
  };
}
