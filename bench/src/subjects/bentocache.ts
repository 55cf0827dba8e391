import { BentoCache, bentostore } from 'bentocache';
import { type MemoryDriver, memoryDriver } from 'bentocache/drivers/memory';
import { redisBusDriver, redisDriver } from 'bentocache/drivers/redis';
import type { Cluster, Redis } from 'ioredis';
import { newClient } from '../fixtures.js';
import {
  type Contender,
  L1_ENTRIES,
  type L1Only,
  type LagPair,
  TTL_SECONDS,
  type Where,
} from '../subject.js';

const TTL = `${TTL_SECONDS}s`;

export interface BentoStack {
  readonly bento: BentoCache<{ cache: ReturnType<typeof bentostore> }>;
  /** The L1 driver the store built, kept so that its L1 alone can be emptied. */
  l1(): MemoryDriver;
  close(): Promise<void>;
}

/** A BentoCache store: memory L1 (same capacity as Strata's) over Redis, with the Redis bus, as its docs show. */
export function bentoStack(where: Where | undefined, prefix: string): BentoStack {
  const factory = memoryDriver({ maxItems: L1_ENTRIES });
  let driver: MemoryDriver | undefined;
  let store = bentostore().useL1Layer({
    options: factory.options,
    factory: (config: unknown) => {
      driver = factory.factory(config);
      return driver;
    },
  });
  let client: Redis | Cluster | undefined;
  if (where !== undefined) {
    client = newClient(where);
    store = store
      .useL2Layer(redisDriver({ connection: client, prefix }))
      .useBus(redisBusDriver({ connection: client }));
  }
  const bento = new BentoCache({ default: 'cache', ttl: TTL, prefix, stores: { cache: store } });
  // Stores are built lazily, on first use: build it now so the L1 driver exists.
  bento.use('cache');
  return {
    bento,
    l1: () => driver!,
    async close() {
      await bento.disconnectAll();
      client?.disconnect();
    },
  };
}

/** BentoCache 1.6 (memory L1 over Redis, Redis bus). It has no batch read: `getMany` is left out. */
export function bentoTiered(where: Where, namespace: string): Contender {
  const reader = bentoStack(where, namespace);
  const writer = bentoStack(where, namespace);
  const { bento } = reader;
  return {
    id: 'bentocache',
    get: (key) => bento.get({ key }),
    getMany: undefined,
    async set(key, value) {
      await bento.set({ key, value, ttl: TTL });
    },
    async populate(keys, values) {
      const CONCURRENCY = 64;
      for (let start = 0; start < keys.length; start += CONCURRENCY) {
        const end = Math.min(keys.length, start + CONCURRENCY);
        const writes: Array<Promise<boolean>> = [];
        for (let i = start; i < end; i++) writes.push(writer.bento.set({ key: keys[i]!, value: values[i] }));
        await Promise.all(writes);
      }
    },
    async resetL1() {
      reader.l1().clear();
    },
    async close() {
      await Promise.all([reader.close(), writer.close()]);
    },
  };
}

/** Two BentoCache instances with their own connections and buses. */
export function bentoLagPair(url: string, namespace: string): LagPair {
  const where: Where = { topology: 'standalone', url };
  const a = bentoStack(where, namespace);
  const b = bentoStack(where, namespace);
  return {
    id: 'bentocache',
    async write(key, value) {
      await a.bento.set({ key, value, ttl: TTL });
    },
    read: (key) => b.bento.get({ key }),
    inL1: async (key) => b.l1().get(key) !== undefined,
    async close() {
      await Promise.all([a.close(), b.close()]);
    },
  };
}

/** BentoCache's L1 alone (memory driver at Strata's capacity; it stores serialized entries by default). */
export function bentoL1(): L1Only {
  const stack = bentoStack(undefined, 'mem');
  return {
    id: 'bentocache',
    async set(key, value) {
      await stack.bento.set({ key, value, ttl: TTL });
    },
    get: (key) => stack.bento.get({ key }),
    close: () => stack.close(),
  };
}
