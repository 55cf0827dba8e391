import { LocalBus, LocalBusChannel } from '@strata-cache/core';
import { uniqueNamespace } from '@strata-cache/core/testing';
import { MemoryCacheAdapter } from '@strata-cache/memory';
import fc from 'fast-check';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { TieredCache } from '../src/index.js';
import { type Delay, DelayedTier } from './support/delayed-tier.js';
import { drive, redisInstance, sleep, topologies } from './support/redis-instances.js';

/**
 * Tags across tiers and instances: once `invalidateTags` resolved and the bus delivered it, no instance reads a
 * value written with one of the tags before; a tag invalidation during a load means the load is not cached; a tagged
 * read makes no round trip of its own once its tags' versions are known; a lost message is a reset like any other.
 */

const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const c of open.splice(0).reverse()) await c.close();
});

/** Instances (memory L1 each) over one shared memory L2 seen through `delay`, on one local channel. */
function memoryWorld(count: number, delay: Delay = async () => {}) {
  const l2 = new MemoryCacheAdapter({ namespace: 'shared' });
  const channel = new LocalBusChannel();
  const calls: string[] = [];
  const counted: Delay = (label) => {
    calls.push(label);
    return delay(label);
  };
  const buses = Array.from({ length: count }, (_, i) => new LocalBus({ channel, id: `i${i}` }));
  const caches = buses.map(
    (bus, i) =>
      new TieredCache({
        tiers: [new MemoryCacheAdapter({ namespace: `l1-${i}` }), new DelayedTier(l2, counted)],
        bus,
      }),
  );
  for (const cache of caches) open.push(cache);
  return { l2, caches, buses, calls, ready: () => Promise.all(caches.map((c) => c.ready())) };
}

describe('tags over memory tiers, several instances', () => {
  it('invalidateTags on one instance hides the tagged values of every instance, in every tier', async () => {
    const { caches, ready } = memoryWorld(3);
    await ready();
    const [a, b, c] = caches as [TieredCache, TieredCache, TieredCache];
    await a.set('user:42', { name: 'Ada' }, { ttl: 60, tags: ['user:42'] });
    await a.setMany({ 'page:1': 'p1', 'page:2': 'p2' }, { ttl: 60, tags: ['user:42', 'pages'] });
    await a.set('other', 'o', { ttl: 60, tags: ['pages'] });
    // Every instance holds them in L1.
    for (const cache of [b, c]) {
      expect(await cache.get('user:42')).toEqual({ name: 'Ada' });
      expect([...(await cache.getMany(['page:1', 'page:2'])).keys()]).toEqual(['page:1', 'page:2']);
    }
    await b.invalidateTags(['user:42']);
    await sleep(0);
    for (const cache of [a, b, c]) {
      expect(await cache.get('user:42')).toBeUndefined();
      expect(await cache.exists('page:1')).toBe(false);
      expect((await cache.getMany(['page:1', 'page:2', 'other'])).size).toBe(1);
      expect(await cache.get('other')).toBe('o');
      expect(await cache.ttl('page:2')).toBeUndefined();
    }
    // Written again after the invalidation: read everywhere.
    await c.set('user:42', { name: 'Ada L.' }, { ttl: 60, tags: ['user:42'] });
    for (const cache of [a, b, c]) expect(await cache.get('user:42')).toEqual({ name: 'Ada L.' });
  });

  it('a tagged read makes no round trip of its own once the instance knows the tags’ versions', async () => {
    const { caches, calls, ready } = memoryWorld(2);
    await ready();
    const [a, b] = caches as [TieredCache, TieredCache];
    await a.setMany({ k1: 1, k2: 2, k3: 3 }, { ttl: 60, tags: ['t', 'u'] });
    const requests = (): string[] => calls.filter((c) => c.endsWith('request'));
    calls.length = 0;
    expect(await b.get('k1')).toBe(1);
    // The first read learns the versions: one read of the entry, one of the tags.
    expect(requests()).toHaveLength(2);
    expect(requests()[1]).toBe('tagVersions(t,u) request');
    calls.length = 0;
    expect(await b.get('k2')).toBe(2);
    expect(requests()).toHaveLength(1);
    expect(requests()[0]).not.toMatch(/tagVersions/);
    calls.length = 0;
    expect(await b.get('k1')).toBe(1);
    expect(await b.getMany(['k1', 'k2'])).toEqual(
      new Map([
        ['k1', 1],
        ['k2', 2],
      ]),
    );
    expect(calls).toEqual([]);
    // A bump heard on the bus is known without asking.
    await a.invalidateTags(['u']);
    await sleep(0);
    calls.length = 0;
    expect(await b.get('k3')).toBeUndefined();
    expect(requests()).toHaveLength(1);
    expect(requests()[0]).not.toMatch(/tagVersions/);
  });

  it('a lost invalidation is a reset: the versions are asked again, and no invalidated value is read', async () => {
    const { caches, buses, ready } = memoryWorld(2);
    await ready();
    const [a, b] = caches as [TieredCache, TieredCache];
    await a.set('k', 'v', { ttl: 60, tags: ['t'] });
    expect(await b.get('k')).toBe('v');
    buses[1]!.disconnect({ silent: true });
    await a.invalidateTags(['t']);
    // Not heard yet (the message was lost): B still serves its L1 copy, as it would an untagged key.
    expect(await b.get('k')).toBe('v');
    buses[1]!.reconnect();
    await sleep(10);
    expect(await b.get('k')).toBeUndefined();
    expect(await b.getMany(['k'])).toEqual(new Map());
  });

  it('getOrSet: cached with its tags (and those the loader adds); invalidated, it loads again', async () => {
    const { caches, ready } = memoryWorld(2);
    await ready();
    const [a, b] = caches as [TieredCache, TieredCache];
    let loads = 0;
    const loader = (ctx: { tags: readonly string[] }) => {
      ctx.tags = [...ctx.tags, 'added'];
      return ++loads;
    };
    expect(await a.getOrSet('k', loader, { ttl: 60, tags: ['t'] })).toBe(1);
    expect(await b.getOrSet('k', loader, { ttl: 60, tags: ['t'] })).toBe(1);
    await b.invalidateTags(['added']);
    await sleep(0);
    expect(await a.getOrSet('k', loader, { ttl: 60, tags: ['t'] })).toBe(2);
    await a.invalidateTags(['t']);
    await sleep(0);
    expect(await b.get('k')).toBeUndefined();
    expect(await b.getOrSet('k', loader, { ttl: 60, tags: ['t'] })).toBe(3);
  });

  it('a tag invalidation while a load runs: its callers get the value, and nothing is cached (rule 4)', async () => {
    const { caches, ready } = memoryWorld(2);
    await ready();
    const [a, b] = caches as [TieredCache, TieredCache];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const loading = a.getOrSet(
      'k',
      async () => {
        await gate;
        return 'old';
      },
      { ttl: 60, tags: ['t'] },
    );
    await sleep(5);
    await b.invalidateTags(['t']);
    release();
    expect(await loading).toBe('old');
    await sleep(0);
    for (const cache of [a, b]) expect(await cache.get('k')).toBeUndefined();
    expect(await b.getOrSet('k', () => 'new', { ttl: 60, tags: ['t'] })).toBe('new');
    expect(await a.get('k')).toBe('new');
  });

  it('grace never answers a value its tag invalidated, even when the loader fails', async () => {
    const { caches, ready } = memoryWorld(2);
    await ready();
    const [a, b] = caches as [TieredCache, TieredCache];
    await a.set('k', 'stale-soon', { ttl: 0.05, grace: 60, tags: ['t'] });
    await sleep(80);
    const failing = () => {
      throw new Error('down');
    };
    // Stale, not invalidated: the fallback answers.
    expect(await b.getOrSet('k', failing, { ttl: 60, grace: 60, graceBackoff: 0 })).toBe('stale-soon');
    await a.invalidateTags(['t']);
    await sleep(0);
    for (const cache of [a, b])
      await expect(cache.getOrSet('k', failing, { ttl: 60, grace: 60, graceBackoff: 0 })).rejects.toThrow(
        'down',
      );
  });

  it('deleteMany deletes everywhere and counts what the last tier held', async () => {
    const { caches, ready } = memoryWorld(2);
    await ready();
    const [a, b] = caches as [TieredCache, TieredCache];
    await a.setMany({ x: 1, y: 2, z: 3 });
    expect(await b.get('x')).toBe(1);
    expect(await a.deleteMany(['x', 'y', 'x', 'nope'])).toBe(2);
    await sleep(0);
    expect(await b.get('x')).toBeUndefined();
    expect(await b.getMany(['x', 'y', 'z'])).toEqual(new Map([['z', 3]]));
  });
});

// ── The property: writers tagging, invalidateTags, getOrSet and reads interleaved on 2–3 instances ──────────────

type Op =
  | { m: 'set'; key: string; tags: string[] }
  | { m: 'invalidate'; tags: string[] }
  | { m: 'getOrSet'; key: string; tags: string[] }
  | { m: 'get'; key: string };

const KEYS = ['a', 'b', 'c'] as const;
const TAGS = ['x', 'y'] as const;
const tagsArb = fc.subarray([...TAGS], { minLength: 1 });
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({ m: fc.constant('set' as const), key: fc.constantFrom(...KEYS), tags: tagsArb }),
  },
  { weight: 2, arbitrary: fc.record({ m: fc.constant('invalidate' as const), tags: tagsArb }) },
  {
    weight: 3,
    arbitrary: fc.record({
      m: fc.constant('getOrSet' as const),
      key: fc.constantFrom(...KEYS),
      tags: tagsArb,
    }),
  },
  { weight: 2, arbitrary: fc.record({ m: fc.constant('get' as const), key: fc.constantFrom(...KEYS) }) },
);

/** What the property knows of a value: its tags, when its write completed, when its load began. */
interface Written {
  readonly tags: readonly string[];
  done: number;
  readonly loadStart?: number;
}

/**
 * Runs the ops on `caches` under `s`, then, once quiet, demands of every instance that `get`, `getMany`, `exists`
 * and `getOrSet` return no value invalidated by tag: one whose write completed, or whose load began, before an
 * `invalidateTags` of one of its tags began.
 */
async function runOps(
  s: fc.Scheduler,
  caches: readonly TieredCache[],
  ops: ReadonlyArray<readonly [number, Op]>,
  prefix: string,
  quiet: () => void,
): Promise<void> {
  let tick = 0;
  let next = 0;
  const values = new Map<number, Written>();
  const invalidations: Array<{ tags: readonly string[]; begin: number }> = [];
  const calls = ops.map(async ([who, op], i) => {
    await s.schedule(Promise.resolve(), `start ${i}`);
    const cache = caches[who % caches.length]!;
    const tags = op.m === 'get' ? [] : op.tags.map((t) => prefix + t);
    switch (op.m) {
      case 'set': {
        const value = ++next;
        const written: Written = { tags, done: Number.POSITIVE_INFINITY };
        values.set(value, written);
        await cache.set(prefix + op.key, value, { ttl: 60, tags });
        written.done = ++tick;
        return;
      }
      case 'invalidate':
        invalidations.push({ tags, begin: ++tick });
        return cache.invalidateTags(tags);
      case 'getOrSet':
        await cache.getOrSet(
          prefix + op.key,
          async () => {
            const value = ++next;
            const written: Written = { tags, done: Number.POSITIVE_INFINITY, loadStart: ++tick };
            values.set(value, written);
            await s.schedule(Promise.resolve(), `load ${i}`);
            written.done = ++tick;
            return value;
          },
          { ttl: 60, tags, lease: { ttlMs: 2_000, waitMs: 2_000 } },
        );
        return;
      case 'get':
        await cache.get(prefix + op.key);
        return;
    }
  });
  await drive(s, Promise.allSettled(calls));
  for (const result of await Promise.allSettled(calls)) if (result.status === 'rejected') throw result.reason;
  quiet();
  const invalidated = (value: unknown): boolean => {
    const written = values.get(value as number);
    if (written === undefined) return false;
    return invalidations.some(
      (inv) =>
        inv.tags.some((t) => written.tags.includes(t)) &&
        (inv.begin > written.done || (written.loadStart !== undefined && inv.begin > written.loadStart)),
    );
  };
  const offending = async (): Promise<string[]> => {
    const found: string[] = [];
    for (const [i, cache] of caches.entries()) {
      const many = await cache.getMany(KEYS.map((k) => prefix + k));
      for (const k of KEYS) {
        const got = await cache.get(prefix + k);
        if (invalidated(got)) found.push(`instance ${i} get(${k}) = ${String(got)}`);
        if (invalidated(many.get(prefix + k))) found.push(`instance ${i} getMany ${k}`);
        // exists says what get says: true only for a value get would return (none invalidated, as checked above).
        if ((await cache.exists(prefix + k)) !== (got !== undefined))
          found.push(`instance ${i} exists(${k}) disagrees with get(${k}) = ${String(got)}`);
      }
    }
    return found;
  };
  // Once the bus has delivered (it may take a moment over Redis), nothing invalidated is read anywhere.
  let found = await offending();
  for (let waited = 0; found.length > 0 && waited < 2_000; waited += 20) {
    await sleep(20);
    found = await offending();
  }
  expect(found).toEqual([]);
  for (const [i, cache] of caches.entries())
    for (const k of KEYS) {
      const got = await cache.getOrSet(prefix + k, () => -1 - i, { ttl: 60 });
      expect(invalidated(got), `instance ${i} getOrSet(${k}) = ${String(got)}`).toBe(false);
    }
}

describe('tags under every interleaving (fc.scheduler)', () => {
  it('memory tiers, 2–3 instances: once quiet, no instance reads a value invalidated by tag', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.scheduler(),
        fc.integer({ min: 2, max: 3 }),
        fc.array(fc.tuple(fc.nat(2), opArb), { minLength: 1, maxLength: 10 }),
        async (s, count, ops) => {
          let scheduling = true;
          const world = memoryWorld(count, (label) =>
            scheduling ? s.schedule(Promise.resolve(), label) : Promise.resolve(),
          );
          await Promise.all(world.caches.map((c) => c.ready()));
          try {
            await runOps(s, world.caches, ops, `m${++run}:`, () => {
              scheduling = false;
            });
          } finally {
            for (const cache of world.caches) await cache.close();
          }
        },
      ),
      { numRuns: 60 },
    );
  }, 120_000);
});

const pools: Array<{ close(): Promise<void> }> = [];
afterAll(async () => {
  for (const p of pools.splice(0).reverse()) await p.close();
});

for (const [name, where] of topologies()) {
  describe(`tags over Redis ${name}`, () => {
    it('three instances: invalidateTags hides tagged values everywhere; its cost does not depend on how many keys carry the tag', async () => {
      const namespace = uniqueNamespace('tags');
      const pool = await Promise.all([0, 1, 2].map(() => redisInstance(namespace, where)));
      pools.push(...pool);
      const [a, b, c] = pool.map((p) => p.cache) as [TieredCache, TieredCache, TieredCache];
      const items = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`item:${i}`, i]));
      await a.setMany(items, { ttl: 60, tags: ['catalog', `shard:${name}`] });
      await a.set('solo', 's', { ttl: 60, tags: ['other'] });
      expect((await b.getMany(Object.keys(items))).size).toBe(200);
      expect(await c.get('item:7')).toBe(7);
      await c.invalidateTags(['catalog']);
      await sleep(50);
      for (const cache of [a, b, c]) {
        expect((await cache.getMany(Object.keys(items))).size).toBe(0);
        expect(await cache.get('item:7')).toBeUndefined();
        expect(await cache.exists('item:8')).toBe(false);
        expect(await cache.get('solo')).toBe('s');
      }
      // Tags' counters live outside the namespace's keys: no pattern, clear or keys() sees them.
      const keys: string[] = [];
      for await (const key of a.keys('*')) keys.push(key);
      expect(keys.every((k) => k.startsWith('item:') || k === 'solo')).toBe(true);
      expect(await pool[0]!.l2.deleteMany(['item:1', 'item:2', 'solo', 'none'])).toBe(3);
    });

    it('writers tagging, invalidateTags, getOrSet and reads under scheduled interleavings (2–3 instances)', async () => {
      const namespace = uniqueNamespace('tags-race');
      const pool = await Promise.all([0, 1, 2].map(() => redisInstance(namespace, where)));
      pools.push(...pool);
      let run = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.scheduler(),
          fc.integer({ min: 2, max: 3 }),
          fc.array(fc.tuple(fc.nat(2), opArb), { minLength: 1, maxLength: 8 }),
          async (s, count, ops) => {
            await runOps(
              s,
              pool.slice(0, count).map((p) => p.cache),
              ops,
              `r${++run}:`,
              () => {},
            );
          },
        ),
        { numRuns: 25 },
      );
    }, 120_000);
  });
}
