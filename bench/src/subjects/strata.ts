import { MemoryCacheAdapter } from '@strata-cache/memory';
import { RedisCacheAdapter, RedisPubSubBus } from '@strata-cache/redis';
import { TieredCache } from '@strata-cache/tiered';
import { bulkWrite, newClient } from '../fixtures.js';
import type { BenchRecord } from '../record.js';
import {
  type Contender,
  L1_ENTRIES,
  type L1Only,
  type LagPair,
  TTL_SECONDS,
  type Where,
} from '../subject.js';

/** Connection options of the Redis adapter and bus for `where`. */
function connection(
  where: Where,
): { url: string } | { cluster: { nodes: Array<{ host: string; port: number }> } } {
  return where.topology === 'standalone' ? { url: where.url } : { cluster: { nodes: [...where.nodes] } };
}

/** A Strata stack as users build it: memory L1 over the Redis adapter, with the Redis pub/sub bus. */
export interface StrataStack {
  readonly cache: TieredCache;
  readonly l1: MemoryCacheAdapter;
  readonly l2: RedisCacheAdapter;
  readonly bus: RedisPubSubBus;
  close(): Promise<void>;
}

/** Builds a {@link StrataStack} in `namespace` on `where`, with every option at its default (but `frozen`). */
export async function strataStack(where: Where, namespace: string, frozen = false): Promise<StrataStack> {
  const l1 = new MemoryCacheAdapter({ namespace, maxEntries: L1_ENTRIES, frozen });
  const l2 = new RedisCacheAdapter({ ...connection(where), namespace });
  const bus = new RedisPubSubBus({ adapter: l2 });
  const cache = new TieredCache({ tiers: [l1, l2], bus });
  await cache.ready();
  return {
    cache,
    l1,
    l2,
    bus,
    async close() {
      await cache.close();
      await Promise.all([bus.close(), l2.close(), l1.close()]);
    },
  };
}

/**
 * Loads records as Strata stores them (docs/codec.md, "In Redis"): a plain JSON value's text inside the envelope
 * that carries its expiry in Redis's time (stamped a second early, so never later than the key's own), so that a
 * bulk load may write the text directly.
 */
export function populate(where: Where, namespace: string) {
  return async (keys: readonly string[], values: readonly BenchRecord[]): Promise<void> => {
    const client = newClient(where);
    const [seconds, micros] = await client.time();
    client.disconnect();
    const expiresAt = Math.floor(Number(seconds) * 1000 + Number(micros) / 1000) + (TTL_SECONDS - 1) * 1000;
    await bulkWrite(
      where,
      keys.map((key) => `${namespace}:${key}`),
      values.map((value) => `{"$s":1,"exp":${expiresAt},"v":${JSON.stringify(value)}}`),
      TTL_SECONDS,
    );
  };
}

/** `TieredCache` (memory over Redis, with the bus): the configuration every Strata target applies to. */
export async function strataTiered(
  where: Where,
  namespace: string,
): Promise<Contender & { stack: StrataStack }> {
  const stack = await strataStack(where, namespace);
  const { cache } = stack;
  return {
    id: 'strata',
    stack,
    get: (key) => cache.get(key),
    getMany: async (keys) => {
      const found = await cache.getMany(keys);
      return keys.map((key) => found.get(key));
    },
    set: (key, value) => cache.set(key, value, TTL_SECONDS),
    populate: populate(where, namespace),
    resetL1: () => stack.l1.clear(),
    close: () => stack.close(),
  };
}

/** `RedisCacheAdapter` alone (no L1, no bus): Strata's L2 path without the tiering on top. */
export function strataRedis(where: Where, namespace: string): Contender & { adapter: RedisCacheAdapter } {
  const adapter = new RedisCacheAdapter({ ...connection(where), namespace });
  return {
    id: 'strata-redis',
    adapter,
    get: (key) => adapter.get(key),
    getMany: async (keys) => {
      const found = await adapter.getMany(keys);
      return keys.map((key) => found.get(key));
    },
    set: (key, value) => adapter.set(key, value, TTL_SECONDS),
    populate: populate(where, namespace),
    async resetL1() {},
    close: () => adapter.close(),
  };
}

/** Two Strata stacks with their own connections (adapter and bus each), as two processes would have. */
export async function strataLagPair(url: string, namespace: string): Promise<LagPair> {
  const where: Where = { topology: 'standalone', url };
  const [a, b] = await Promise.all([strataStack(where, namespace), strataStack(where, namespace)]);
  return {
    id: 'strata',
    write: (key, value) => a.cache.set(key, value, TTL_SECONDS),
    read: (key) => b.cache.get(key),
    inL1: async (key) => (await b.l1.exists(key)) === true,
    async close() {
      await Promise.all([a.close(), b.close()]);
    },
  };
}

/** Strata's L1 alone: `MemoryCacheAdapter` at its defaults. */
export function strataL1(): L1Only {
  const l1 = new MemoryCacheAdapter({ maxEntries: L1_ENTRIES });
  return {
    id: 'strata',
    set: (key, value) => l1.set(key, value, TTL_SECONDS),
    get: (key) => l1.get(key),
    close: () => l1.close(),
  };
}
