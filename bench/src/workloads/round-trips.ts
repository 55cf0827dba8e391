import type { RedisCacheAdapter } from '@strata-cache/redis';
import type { Cluster } from 'ioredis';
import type { Arena } from '../arena.js';
import type { RunContext } from '../harness.js';
import { checkRecord } from '../record.js';

/**
 * Counts the socket writes `work` makes to each master of `cluster`. ioredis writes a pipeline in one call and an
 * unpipelined command in one call each, so this is the number of round trips per master.
 */
async function socketWritesPerMaster(cluster: Cluster, work: () => Promise<void>): Promise<number[]> {
  const nodes = cluster.nodes('master');
  const counts = nodes.map(() => 0);
  const restores = nodes.map((node, i) => {
    const stream = node.stream;
    const original = stream.write;
    stream.write = function (this: typeof stream, ...args: Parameters<typeof original>) {
      counts[i]!++;
      return original.apply(this, args);
    } as typeof original;
    return () => {
      stream.write = original;
    };
  });
  try {
    await work();
  } finally {
    for (const restore of restores) restore();
  }
  return counts;
}

/**
 * On the Cluster: how many round trips one getMany of 100 keys takes per master, for the tiered cache (L1 empty)
 * and the adapter alone. The target is at most one per master.
 */
export async function measureClusterRoundTrips(ctx: RunContext, arena: Arena): Promise<void> {
  if (arena.topology !== 'cluster') return;
  const keys = arena.readKeys.slice(0, ctx.config.getManyKeys);
  const check = (found: Map<string, unknown>, who: string): void => {
    for (const [i, key] of keys.entries()) checkRecord(found.get(key), i, who);
  };
  const l2: RedisCacheAdapter = arena.strata.l2;
  const cluster = l2.client as Cluster;
  await arena.strata.l1.clear();
  const tiered = await socketWritesPerMaster(cluster, async () =>
    check(await arena.strata.cache.getMany(keys), 'strata'),
  );
  const alone = await socketWritesPerMaster(cluster, async () =>
    check(await l2.getMany(keys), 'strata-redis'),
  );
  ctx.results.note('cluster', 'get-many', 'strata', `round trips per master: ${tiered.join(' / ')}`);
  ctx.results.note('cluster', 'get-many', 'strata-redis', `round trips per master: ${alone.join(' / ')}`);
}
