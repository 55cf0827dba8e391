import KeyvRedis, { createCluster, createKeyv, Keyv } from '@keyv/redis';
import { createKeyv as createMemoryKeyv } from 'cacheable';
import { L1_ENTRIES, type Where } from '../subject.js';

/**
 * A Keyv over `@keyv/redis` (node-redis 5) in `namespace`, as cacheable's and cache-manager's docs build their L2:
 * `createKeyv(url)` on a standalone server, a `createCluster` client on the Cluster.
 */
export function redisKeyv(where: Where, namespace: string): Keyv {
  if (where.topology === 'standalone') return createKeyv(where.url, { namespace });
  const cluster = createCluster({
    rootNodes: where.nodes.map(({ host, port }) => ({ url: `redis://${host}:${port}` })),
  });
  return new Keyv(new KeyvRedis(cluster, { namespace }), { namespace, useKeyPrefix: false });
}

/** The in-memory Keyv cacheable uses by default (`@cacheable/memory`), with Strata's L1 capacity. */
export function memoryKeyv(): Keyv {
  return createMemoryKeyv({ lruSize: L1_ENTRIES }) as unknown as Keyv;
}

/** Writes `values[i]` under `keys[i]` through `keyv`, 64 at a time. `ttlMs` as Keyv takes it. */
export async function keyvPopulate(
  keyv: Keyv,
  keys: readonly string[],
  values: readonly unknown[],
  ttlMs: number,
): Promise<void> {
  // @keyv/redis on a Cluster loses concurrent calls made before its first connect completes ("Cannot read
  // properties of undefined (reading 'master')", swallowed, and `set` still resolves true): connect first.
  await keyv.get('connect');
  const CONCURRENCY = 64;
  for (let start = 0; start < keys.length; start += CONCURRENCY) {
    const end = Math.min(keys.length, start + CONCURRENCY);
    const writes: Array<Promise<boolean>> = [];
    for (let i = start; i < end; i++) writes.push(keyv.set(keys[i]!, values[i], ttlMs));
    await Promise.all(writes);
  }
}
