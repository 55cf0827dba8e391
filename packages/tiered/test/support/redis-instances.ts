import { MemoryCacheAdapter } from '@strata-cache/memory';
import { RedisCacheAdapter, RedisPubSubBus } from '@strata-cache/redis';
import type fc from 'fast-check';
import { inject } from 'vitest';
import { TieredCache } from '../../src/index.js';

/** Where an instance's Redis is: the standalone server or the Cluster the test setup started. */
export type Topology = { url: string } | { cluster: { nodes: Array<{ host: string; port: number }> } };

/** Both topologies of the test setup, named. */
export function topologies(): Array<[string, Topology]> {
  const redis = inject('redis');
  return [
    ['standalone', { url: redis.url }],
    ['Cluster', { cluster: { nodes: redis.cluster.nodes } }],
  ];
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** An instance as a service would have it: memory over Redis, the bus built on its adapter, its own connections. */
export async function redisInstance(
  namespace: string,
  where: Topology,
): Promise<{ cache: TieredCache; l2: RedisCacheAdapter; close(): Promise<void> }> {
  const l2 = new RedisCacheAdapter({ ...where, namespace });
  const bus = new RedisPubSubBus({ adapter: l2 });
  const cache = new TieredCache({ tiers: [new MemoryCacheAdapter({ namespace }), l2], bus });
  cache.on('error', () => {});
  await cache.ready();
  const close = async () => {
    await cache.close();
    await bus.close();
    await l2.close();
  };
  return { cache, l2, close };
}

/**
 * Releases the scheduler's tasks one at a time, each only once every call has reached its next scheduled point (no
 * new task for a few ms: the real round trips in between have completed), so that the random order chosen covers
 * writes landing in the middle of loads, not only before them.
 */
export async function drive(s: fc.Scheduler, all: Promise<unknown>): Promise<void> {
  let finished = false;
  void all.finally(() => {
    finished = true;
  });
  while (!finished) {
    let count = -1;
    for (let quiet = 0; quiet < 3 && !finished; ) {
      await sleep(1);
      if (s.count() === count) quiet++;
      else {
        count = s.count();
        quiet = 0;
      }
    }
    if (s.count() > 0) await s.waitOne();
  }
  await all;
}
