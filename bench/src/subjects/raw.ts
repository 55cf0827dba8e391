import calculateSlot from 'cluster-key-slot';
import type { Cluster, Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';
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

/** Keys of `keys` grouped by hash slot, then by the master serving the slot (one entry per master). */
export function groupByMaster(cluster: Cluster, keys: readonly string[]): string[][][] {
  const bySlot = new Map<number, string[]>();
  for (const key of keys) {
    const slot = calculateSlot(key);
    const list = bySlot.get(slot);
    if (list === undefined) bySlot.set(slot, [key]);
    else list.push(key);
  }
  const byNode = new Map<string, string[][]>();
  for (const [slot, group] of bySlot) {
    const node = cluster.slots[slot]?.[0] ?? `unknown:${slot}`;
    const list = byNode.get(node);
    if (list === undefined) byNode.set(node, [group]);
    else list.push(group);
  }
  return [...byNode.values()];
}

/**
 * The best hand-written batch read: one MGET on a standalone server; on a Cluster, one pipeline per master
 * holding one MGET per hash slot (a multi-key command must stay within a slot), all masters in parallel.
 */
async function rawMget(
  client: Redis | Cluster,
  keys: readonly string[],
): Promise<Map<string, string | null>> {
  const found = new Map<string, string | null>();
  if (!client.isCluster) {
    const texts = await (client as Redis).mget([...keys]);
    for (const [i, key] of keys.entries()) found.set(key, texts[i] ?? null);
    return found;
  }
  await Promise.all(
    groupByMaster(client as Cluster, keys).map(async (groups) => {
      const pipeline = client.pipeline();
      for (const group of groups) pipeline.mget(group);
      const replies = (await pipeline.exec()) ?? [];
      groups.forEach((group, g) => {
        const [error, texts] = replies[g] ?? [new Error('missing reply'), null];
        if (error) throw error;
        for (const [i, key] of group.entries()) found.set(key, (texts as Array<string | null>)[i] ?? null);
      });
    }),
  );
  return found;
}

/** The raw L2 baseline: ioredis GET + JSON.parse, one MGET + parse, SET EX of JSON.stringify. */
export function rawRedis(where: Where, namespace: string): Contender {
  const client = newClient(where);
  const prefix = `${namespace}:`;
  return {
    id: 'raw',
    async get(key) {
      const text = await client.get(prefix + key);
      return text === null ? undefined : JSON.parse(text);
    },
    async getMany(keys) {
      const full = keys.map((key) => prefix + key);
      const texts = await rawMget(client, full);
      return full.map((key) => {
        const text = texts.get(key);
        return text === null || text === undefined ? undefined : JSON.parse(text);
      });
    },
    async set(key, value) {
      await client.set(prefix + key, JSON.stringify(value), 'EX', TTL_SECONDS);
    },
    populate(keys, values) {
      return bulkWrite(
        where,
        keys.map((key) => prefix + key),
        values.map((value) => JSON.stringify(value)),
        TTL_SECONDS,
      );
    },
    async resetL1() {},
    async close() {
      client.disconnect();
    },
  };
}

/** The raw L1 baselines: an awaited `lru-cache.get`, of JSON text then parsed, or of the object itself. */
export interface RawL1 {
  readonly id: string;
  get(key: string): Promise<unknown>;
  fill(keys: readonly string[], values: readonly BenchRecord[]): void;
}

/** Awaited `lru-cache.get` + `JSON.parse`: what an L1 that never aliases must at least pay. */
export function rawL1Parse(): RawL1 {
  const lru = new LRUCache<string, string>({ max: L1_ENTRIES });
  return {
    id: 'raw-lru-parse',
    async get(key) {
      const text = lru.get(key);
      return text === undefined ? undefined : JSON.parse(text);
    },
    fill(keys, values) {
      for (const [i, key] of keys.entries()) lru.set(key, JSON.stringify(values[i]));
    },
  };
}

/** Awaited `lru-cache.get` alone, values shared by reference: the zero-copy floor. */
export function rawL1Shared(): RawL1 {
  const lru = new LRUCache<string, BenchRecord>({ max: L1_ENTRIES });
  return {
    id: 'raw-lru-get',
    async get(key) {
      return lru.get(key);
    },
    fill(keys, values) {
      for (const [i, key] of keys.entries()) lru.set(key, values[i]!);
    },
  };
}

/** An lru-cache of JSON text: the memory floor of an L1 that stores what it must copy out. */
export function rawL1Memory(): L1Only {
  const lru = new LRUCache<string, string>({ max: L1_ENTRIES });
  return {
    id: 'raw',
    async set(key, value) {
      lru.set(key, JSON.stringify(value));
    },
    async get(key) {
      const text = lru.get(key);
      return text === undefined ? undefined : JSON.parse(text);
    },
    async close() {
      lru.clear();
    },
  };
}

/**
 * The hand-written invalidation floor: A writes with SET EX then one PUBLISH of the key; B keeps an lru-cache of
 * JSON text, drops the key when its subscriber (another connection) hears it, and reads misses with GET.
 */
export async function rawLagPair(url: string, namespace: string): Promise<LagPair> {
  const where: Where = { topology: 'standalone', url };
  const a = newClient(where) as Redis;
  const b = newClient(where) as Redis;
  const subscriber = newClient(where) as Redis;
  const channel = `${namespace}:invalidate`;
  const prefix = `${namespace}:`;
  const l1 = new LRUCache<string, string>({ max: L1_ENTRIES });
  // lru-cache empties all its arrays when its last entry goes; a resident entry keeps that cost out of the floor.
  l1.set('\u0000resident', '0');
  subscriber.on('message', (_channel: string, key: string) => {
    l1.delete(key);
  });
  await subscriber.subscribe(channel);
  return {
    id: 'raw',
    async write(key, value) {
      await a.set(prefix + key, JSON.stringify(value), 'EX', TTL_SECONDS);
      await a.publish(channel, key);
    },
    async read(key) {
      const cached = l1.get(key);
      if (cached !== undefined) return JSON.parse(cached);
      const text = await b.get(prefix + key);
      if (text === null) return undefined;
      l1.set(key, text);
      return JSON.parse(text);
    },
    async inL1(key) {
      return l1.has(key);
    },
    async close() {
      for (const client of [a, b, subscriber]) client.disconnect();
    },
  };
}
