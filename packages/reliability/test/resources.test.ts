import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { type CacheItems, type CacheProtocol, LocalBus, LocalBusChannel } from '@strata-cache/core';
import { MemoryCacheAdapter } from '@strata-cache/memory';
import { RedisCacheAdapter, RedisPubSubBus } from '@strata-cache/redis';
import { type RedisServerHandle, startRedisServer } from '@strata-cache/redis-testkit';
import { TieredCache } from '@strata-cache/tiered';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, printFigures, sleep } from './support/figures.js';
import { activeResources, grown, processListeners, ResourceTracker } from './support/resource-tracker.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Collects garbage until the heap stops shrinking, and returns the heap in use. */
async function settledHeap(): Promise<number> {
  let last = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 10; i++) {
    gc();
    await sleep(10);
    const used = process.memoryUsage().heapUsed;
    if (used >= last - 64 * 1024) return used;
    last = used;
  }
  return last;
}

/** How many of `refs` still point to a live object after garbage collection. */
async function survivors(refs: ReadonlyArray<WeakRef<object>>): Promise<number> {
  await settledHeap();
  return refs.filter((ref) => ref.deref() !== undefined).length;
}

const MB = 1024 * 1024;

describe('creating and closing TieredCaches leaves no open handles or listeners', () => {
  it('1,000 TieredCaches with LocalBus (on one shared channel)', async () => {
    const channel = new LocalBusChannel();
    const baseline = { active: activeResources(), listeners: processListeners() };
    const tracker = new ResourceTracker().start();
    const refs: Array<WeakRef<object>> = [];
    try {
      for (let i = 0; i < 1_000; i++) {
        const l1 = new MemoryCacheAdapter({ maxEntries: 100 });
        const l2 = new MemoryCacheAdapter({ maxEntries: 100 });
        const bus = new LocalBus({ channel });
        const cache = new TieredCache({ tiers: [l1, l2], bus });
        cache.on('error', () => {});
        cache.on('invalidation-received', () => {});
        await cache.ready();
        await cache.set('k', i);
        await cache.get('k');
        await cache.getMany(['k', 'j']);
        await cache.deletePattern('*');
        await cache.close();
        expect(cache.listenerCount('error')).toBe(0);
        await bus.close();
        await l1.close();
        await l2.close();
        refs.push(new WeakRef(cache), new WeakRef(bus));
      }
      tracker.freeze();
      await sleep(50);
      const left = tracker.live();
      const alive = await survivors(refs);
      printFigures('resources: 1,000 TieredCaches with LocalBus, created, used and closed', [
        `timers/sockets created and still alive (unref'd included): ${JSON.stringify(left)}`,
        `active resources before ${JSON.stringify(baseline.active)}, after ${JSON.stringify(activeResources())}`,
        `process listeners before ${JSON.stringify(baseline.listeners)}, after ${JSON.stringify(processListeners())}`,
        `caches and buses still reachable after GC (the channel lives on): ${alive} of ${refs.length}`,
      ]);
      expect(left).toEqual({});
      expect(grown(baseline.active, activeResources())).toEqual({});
      expect(processListeners()).toEqual(baseline.listeners);
      expect(alive).toBe(0);
    } finally {
      tracker.stop();
    }
  }, 60_000);

  describe('with RedisPubSubBus over a redis-server this test started', () => {
    let server: RedisServerHandle;
    let admin: Redis;
    beforeAll(async () => {
      server = await startRedisServer();
      admin = new Redis(server.url);
    });
    afterAll(async () => {
      admin.disconnect();
      await server.stop();
    });
    const connectedClients = async () =>
      Number(/connected_clients:(\d+)/.exec(await admin.info('clients'))![1]);

    it('100 TieredCaches (each with its own RedisCacheAdapter and RedisPubSubBus: 3 connections)', async () => {
      const baseline = {
        active: activeResources(),
        listeners: processListeners(),
        clients: await connectedClients(),
      };
      const tracker = new ResourceTracker().start();
      const refs: Array<WeakRef<object>> = [];
      let peakClients = 0;
      try {
        // A function per batch: a suspended async function would keep its last loop block (and batch) reachable.
        const runBatch = async (batch: number): Promise<void> => {
          const made = Array.from({ length: 10 }, () => {
            const l1 = new MemoryCacheAdapter({ maxEntries: 100 });
            const l2 = new RedisCacheAdapter({ url: server.url, namespace: 'res' });
            const bus = new RedisPubSubBus({ url: server.url, namespace: 'res' });
            const cache = new TieredCache({ tiers: [l1, l2], bus });
            cache.on('error', () => {});
            return { cache, l1, l2, bus };
          });
          await Promise.all(made.map(({ cache }) => cache.ready()));
          for (const { cache } of made) {
            await cache.set('k', batch);
            await cache.get('k');
          }
          peakClients = Math.max(peakClients, await connectedClients());
          for (const { cache, bus, l2, l1 } of made) {
            await cache.close();
            await bus.close();
            await l2.close();
            await l1.close();
            refs.push(new WeakRef(cache), new WeakRef(bus), new WeakRef(l2));
          }
        };
        for (let batch = 0; batch < 10; batch++) await runBatch(batch);
        tracker.freeze();
        await eventually(
          'the server sees every connection closed',
          async () => (await connectedClients()) === baseline.clients,
          5_000,
        );
        const rightAfter = tracker.live();
        // Nothing that keeps the process alive (a ref'd timer or socket) may be left once the connections closed.
        const refdLeft = grown(baseline.active, activeResources());
        // Sockets and their timers finish closing asynchronously: nothing may be left a moment later.
        await sleep(1_200);
        const later = tracker.live();
        const alive = await survivors(refs);
        printFigures('resources: 100 TieredCaches with RedisPubSubBus, created, used and closed', [
          `server connections: baseline ${baseline.clients}, peak ${peakClients}, after close ${await connectedClients()}`,
          `timers/sockets created and still alive once the server saw every connection closed (unref'd included): ${JSON.stringify(rightAfter)}; 1.2 s later: ${JSON.stringify(later)}`,
          `handles keeping the process alive, added since before: ${JSON.stringify(refdLeft)} (active before ${JSON.stringify(baseline.active)})`,
          `process listeners before ${JSON.stringify(baseline.listeners)}, after ${JSON.stringify(processListeners())}`,
          `caches, buses and adapters still reachable after GC: ${alive} of ${refs.length}`,
        ]);
        expect(peakClients).toBeGreaterThanOrEqual(baseline.clients + 30);
        expect(refdLeft).toEqual({});
        expect(later).toEqual({});
        expect(processListeners()).toEqual(baseline.listeners);
        expect(alive).toBe(0);
      } finally {
        tracker.stop();
      }
    }, 90_000);

    it('2,000 TieredCaches created while Redis is down and closed before ready(): none stays reachable from the bus', async () => {
      // Nothing listens on this port: the bus's subscription can never become live.
      const bus = new RedisPubSubBus({ url: 'redis://127.0.0.1:1', namespace: 'down', publishTimeoutMs: 50 });
      const l2 = new RedisCacheAdapter({
        url: 'redis://127.0.0.1:1',
        namespace: 'down',
        commandTimeoutMs: 50,
      });
      l2.on('error', () => {});
      const refs: Array<WeakRef<object>> = [];
      const heapBefore = await settledHeap();
      const runBatch = async (): Promise<void> => {
        for (let i = 0; i < 100; i++) {
          const cache = new TieredCache({ tiers: [new MemoryCacheAdapter({ maxEntries: 10 }), l2], bus });
          cache.on('error', () => {});
          const ready = cache.ready().catch((error: unknown) => error);
          await cache.close();
          expect(await ready).toMatchObject({ code: 'CACHE_CLOSED' });
          refs.push(new WeakRef(cache));
        }
      };
      try {
        for (let batch = 0; batch < 20; batch++) await runBatch();
        const alive = await survivors(refs);
        const grownBy = (await settledHeap()) - heapBefore;
        printFigures('resources: 2,000 TieredCaches closed before their bus (Redis down) was ever live', [
          `caches still reachable after GC: ${alive} of ${refs.length}`,
          `heap grown by ${(grownBy / MB).toFixed(2)} MiB`,
        ]);
        expect(alive).toBe(0);
        expect(grownBy).toBeLessThan(4 * MB);
      } finally {
        await bus.close();
        await l2.close();
      }
    }, 60_000);
  });
});

/** An L2 that keeps nothing, so that only the L1 (and TieredCache's own bookkeeping) can hold memory. */
class DiscardingTier implements CacheProtocol {
  async get(): Promise<undefined> {
    return undefined;
  }
  async set(): Promise<void> {}
  async delete(): Promise<void> {}
  async deleteMany(): Promise<number> {
    return 0;
  }
  async invalidateTags(): Promise<void> {}
  async exists(): Promise<boolean> {
    return false;
  }
  async getMany<T>(): Promise<Map<string, T>> {
    return new Map();
  }
  async setMany(_items: CacheItems): Promise<void> {}
  async deletePattern(): Promise<number> {
    return 0;
  }
  async ttl(): Promise<undefined> {
    return undefined;
  }
  async clear(): Promise<void> {}
}

describe('a bounded L1 under a million distinct writes', () => {
  const MAX_BYTES = 8 * MB;
  /** Well above what MAX_BYTES admits, so that the byte limit is the one that binds. */
  const MAX_ENTRIES = 400_000;
  const WRITES = 1_000_000;
  /** Stated bound: heap held ≤ maxBytes × this + the empty cache's own fixed size. */
  const HEAP_FACTOR = 4;

  it('keeps L1 within maxBytes, and the heap within maxBytes × 4 (stated overhead), through TieredCache', async () => {
    const heapBefore = await settledHeap();
    const l1 = new MemoryCacheAdapter({ maxBytes: MAX_BYTES, maxEntries: MAX_ENTRIES });
    const cache = new TieredCache({ tiers: [l1, new DiscardingTier()] });
    const heapEmpty = await settledHeap();
    let maxSeenBytes = 0;
    const started = performance.now();
    for (let i = 0; i < WRITES; i++) {
      await cache.set(`user:${i}:profile`, { id: i, name: `user ${i}`, tags: ['a', 'b'] });
      if (i % 10_000 === 0) maxSeenBytes = Math.max(maxSeenBytes, l1.bytes);
    }
    const elapsed = performance.now() - started;
    maxSeenBytes = Math.max(maxSeenBytes, l1.bytes);
    const heapFull = await settledHeap();
    const entries = l1.size;
    const fixed = heapEmpty - heapBefore;
    const held = heapFull - heapEmpty;
    const countedPerEntry = l1.bytes / entries;
    const heapPerEntry = held / entries;
    printFigures('resources: bounded L1 under a million distinct writes (through TieredCache)', [
      `${WRITES.toLocaleString('en')} distinct writes in ${(elapsed / 1000).toFixed(1)} s; L1 maxBytes ${MAX_BYTES / MB} MiB (maxEntries ${MAX_ENTRIES.toLocaleString('en')})`,
      `L1 holds ${entries.toLocaleString('en')} entries, ${l1.bytes.toLocaleString('en')} counted bytes (max seen ${maxSeenBytes.toLocaleString('en')})`,
      `heap: empty cache's fixed cost ${(fixed / MB).toFixed(1)} MiB; held by the entries ${(held / MB).toFixed(1)} MiB = ${(held / MAX_BYTES).toFixed(2)} × maxBytes`,
      `per entry: ${countedPerEntry.toFixed(0)} counted bytes (UTF-8 key + encoded value), ${heapPerEntry.toFixed(0)} bytes of heap`,
      `stated bound: heap held ≤ ${HEAP_FACTOR} × maxBytes + the fixed cost`,
    ]);
    expect(maxSeenBytes).toBeLessThanOrEqual(MAX_BYTES);
    expect(entries).toBeLessThan(MAX_ENTRIES);
    expect(held).toBeLessThanOrEqual(HEAP_FACTOR * MAX_BYTES);
    // The newest writes are the ones kept.
    expect(await l1.get(`user:${WRITES - 1}:profile`)).toEqual({
      id: WRITES - 1,
      name: `user ${WRITES - 1}`,
      tags: ['a', 'b'],
    });
    expect(await l1.get('user:0:profile')).toBeUndefined();
    await cache.close();
    await l1.close();
  }, 120_000);
});
