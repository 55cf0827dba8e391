import { type CacheProtocol, escapeGlob } from '@strata-cache/core';
import { uniqueNamespace } from '@strata-cache/core/testing';
import { MemoryCacheAdapter } from '@strata-cache/memory';
import { RedisCacheAdapter } from '@strata-cache/redis';
import { TieredCache } from '@strata-cache/tiered';
import { Redis } from 'ioredis';

/** A cache under test, and a way to see everything it holds (in every tier) without going through it. */
export interface Target {
  readonly name: string;
  readonly cache: CacheProtocol;
  readonly namespace: string;
  /** What is stored, as sorted `tier:key=text` lines (memory tiers can only tell their size and the seed). */
  snapshot(): Promise<string[]>;
  close(): Promise<void>;
}

/** Every stored key of `namespace` in Redis with its raw text, as `l2:key=text` lines. */
export async function redisSnapshot(raw: Redis, namespace: string): Promise<string[]> {
  const lines: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await raw.scan(cursor, 'MATCH', `${escapeGlob(namespace)}:*`, 'COUNT', 1000);
    cursor = next;
    for (const key of keys) lines.push(`l2:${key.slice(namespace.length + 1)}=${await raw.get(key)}`);
  } while (cursor !== '0');
  return lines.sort();
}

/** A memory tier has no listing: its entry count and what it holds for `seed` must not change. */
async function memorySnapshot(tier: string, memory: MemoryCacheAdapter): Promise<string[]> {
  return [`${tier}:size=${memory.size}`, `${tier}:seed=${JSON.stringify(await memory.get('seed'))}`];
}

/** The three targets of the bad-input catalogue: the memory adapter, the Redis adapter, and a TieredCache over both. */
export const TARGETS: ReadonlyArray<{ name: string; open(url: string): Target }> = [
  {
    name: 'MemoryCacheAdapter',
    open() {
      const cache = new MemoryCacheAdapter();
      return {
        name: 'MemoryCacheAdapter',
        cache,
        namespace: cache.namespace,
        snapshot: () => memorySnapshot('mem', cache),
        close: () => cache.close(),
      };
    },
  },
  {
    name: 'RedisCacheAdapter',
    open(url) {
      const namespace = uniqueNamespace('bad-input');
      const cache = new RedisCacheAdapter({ url, namespace });
      const raw = new Redis(url);
      return {
        name: 'RedisCacheAdapter',
        cache,
        namespace,
        snapshot: () => redisSnapshot(raw, namespace),
        close: async () => {
          await cache.close();
          raw.disconnect();
        },
      };
    },
  },
  {
    name: 'TieredCache (memory over Redis)',
    open(url) {
      const namespace = uniqueNamespace('bad-input-tiered');
      const l1 = new MemoryCacheAdapter({ namespace });
      const l2 = new RedisCacheAdapter({ url, namespace });
      const cache = new TieredCache({ tiers: [l1, l2] });
      const raw = new Redis(url);
      return {
        name: 'TieredCache (memory over Redis)',
        cache,
        namespace,
        snapshot: async () => [...(await memorySnapshot('l1', l1)), ...(await redisSnapshot(raw, namespace))],
        close: async () => {
          await cache.close();
          await l1.close();
          await l2.close();
          raw.disconnect();
        },
      };
    },
  },
];
