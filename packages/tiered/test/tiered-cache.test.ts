import { LocalBus, LocalBusChannel, StrataCodec } from '@strata-cache/core';
import { describeCacheProtocol, ManualClock, readEntry } from '@strata-cache/core/testing';
import { MemoryCacheAdapter } from '@strata-cache/memory';
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { TieredCache } from '../src/index.js';
import { DelayedTier } from './support/delayed-tier.js';

describeCacheProtocol('TieredCache (memory over memory, LocalBus)', {
  clock: 'manual',
  create: ({ namespace, now }) =>
    new TieredCache({
      tiers: [new MemoryCacheAdapter({ namespace, now }), new MemoryCacheAdapter({ namespace, now })],
      bus: new LocalBus(),
      maxTtl: 5,
    }),
});

describeCacheProtocol('TieredCache (three memory tiers, no bus)', {
  clock: 'manual',
  create: ({ namespace, now }) =>
    new TieredCache({
      tiers: [
        { cache: new MemoryCacheAdapter({ namespace, now }), maxTtl: 2 },
        { cache: new MemoryCacheAdapter({ namespace, now }), maxTtl: 30 },
        new MemoryCacheAdapter({ namespace, now }),
      ],
    }),
});

describe('TieredCache specifics', () => {
  it('serves a hit from L1 and counts it, and fills L1 from L2 on a miss', async () => {
    const l1 = new MemoryCacheAdapter();
    const l2 = new MemoryCacheAdapter();
    const cache = new TieredCache({ tiers: [l1, l2] });
    await l2.set('k', { v: 1 }, 100);
    expect(await cache.get('k')).toEqual({ v: 1 });
    expect(await l1.get('k')).toEqual({ v: 1 });
    expect(await cache.get('k')).toEqual({ v: 1 });
    expect(cache.stats().hits).toEqual([1, 1]);
  });

  it('never fills L1 longer than the L2 entry lives, nor than maxTtl', async () => {
    const l1 = new MemoryCacheAdapter();
    const l2 = new MemoryCacheAdapter();
    const cache = new TieredCache({ tiers: [{ cache: l1, maxTtl: 30 }, l2] });
    await l2.set('short', 1, 5);
    await l2.set('forever', 2);
    await cache.getMany(['short', 'forever']);
    expect(await l1.ttl('short')).toBe(5);
    expect(await l1.ttl('forever')).toBe(30);
    await cache.set('written', 3, 1000);
    expect(await l1.ttl('written')).toBe(30);
    expect(await l2.ttl('written')).toBe(1000);
  });

  it('a fill lives exactly as long as the L2 entry has left, capped by maxTtl, whichever way L1 is filled', async () => {
    // SPEC, read-through: an L1 fill never outlives the L2 entry nor maxTtl. Fills take L2's text when both tiers
    // share a codec (setText) and the value otherwise (set): both paths, by get and by getMany, at any age.
    await fc.assert(
      fc.asyncProperty(
        fc.option(fc.integer({ min: 1, max: 200_000 }), { nil: undefined }),
        fc.integer({ min: 0, max: 200_000 }),
        fc.integer({ min: 1, max: 100 }),
        fc.boolean(),
        fc.boolean(),
        async (ttlMs, ageMs, maxTtl, sharedCodec, viaGetMany) => {
          const clock = new ManualClock();
          const l2 = new MemoryCacheAdapter({ now: clock.now });
          const l1 = new MemoryCacheAdapter({
            now: clock.now,
            codec: sharedCodec ? l2.codec : new StrataCodec(),
          });
          const cache = new TieredCache({ tiers: [{ cache: l1, maxTtl }, l2] });
          await l2.set('k', { v: 1 }, ttlMs === undefined ? undefined : ttlMs / 1000);
          clock.advance(Math.min(ageMs, (ttlMs ?? Number.POSITIVE_INFINITY) - 1));
          const left = (await readEntry(l2, 'k'))!.ttlMs;
          const read = viaGetMany ? (await cache.getMany(['k'])).get('k') : await cache.get('k');
          expect(read).toEqual({ v: 1 });
          const filled = await readEntry(l1, 'k');
          expect(filled?.ttlMs).toBe(Math.min(left ?? Number.POSITIVE_INFINITY, maxTtl * 1000));
        },
      ),
      { numRuns: Number(process.env.STRATA_FC_RUNS ?? 50) * 4 },
    );
  });

  it("a writer's own L1 copy expires no later than the L2 entry, however slow the write's reply", async () => {
    const inner = new MemoryCacheAdapter();
    const slowReplies = new DelayedTier(inner, async (label) => {
      if (label.startsWith('set') && label.endsWith('reply')) await new Promise((r) => setTimeout(r, 300));
    });
    const l1 = new MemoryCacheAdapter();
    const cache = new TieredCache({ tiers: [l1, slowReplies] });
    await cache.set('k', 1, 1);
    await cache.setMany({ m: 2 }, 1);
    for (const key of ['k', 'm']) {
      // L2 counted its second from the write, 300 ms or more before the reply arrived: L1 has no more than it left.
      const l1Left = (await readEntry(l1, key))!.ttlMs!;
      const l2Left = (await readEntry(inner, key))!.ttlMs!;
      expect(l2Left).toBeLessThan(750);
      expect(l1Left).toBeLessThanOrEqual(l2Left);
    }
    await cache.close();
  });

  it('maxTtl holds whatever the wall clock does: L1 expiry follows a monotonic clock', async () => {
    // The wall clock as every module loaded from now on sees it, so that it can step back an hour.
    const wall = Date.now.bind(Date);
    let stepMs = 0;
    const stepped = vi.spyOn(Date, 'now').mockImplementation(() => wall() + stepMs);
    try {
      vi.resetModules();
      const memory = await import('@strata-cache/memory');
      const tiered = await import('../src/index.js');
      const cache = new tiered.TieredCache({
        tiers: [{ cache: new memory.MemoryCacheAdapter(), maxTtl: 0.1 }, new memory.MemoryCacheAdapter()],
      });
      await cache.set('k', 1);
      expect(await cache.get('k')).toBe(1);
      expect(cache.stats().hits).toEqual([1, 0]);
      stepMs = -3_600_000;
      await new Promise((resolve) => setTimeout(resolve, 150));
      expect(await cache.get('k')).toBe(1);
      expect(cache.stats().hits).toEqual([1, 1]);
      await cache.close();
    } finally {
      stepped.mockRestore();
      vi.resetModules();
    }
  });

  it('getMany asks each tier only for what the tiers above missed, in one call', async () => {
    const l1 = new MemoryCacheAdapter();
    const l2 = new MemoryCacheAdapter();
    const asked: string[][] = [];
    const original = l2.store.getMany.bind(l2.store);
    l2.store.getMany = (keys) => {
      asked.push([...keys]);
      return original(keys);
    };
    const cache = new TieredCache({ tiers: [l1, l2] });
    await l1.set('a', 1);
    await l2.setMany({ b: 2, c: 3 });
    const result = await cache.getMany(['c', 'a', 'b', 'z', 'a']);
    expect([...result]).toEqual([
      ['c', 3],
      ['a', 1],
      ['b', 2],
    ]);
    expect(asked).toEqual([['c', 'b', 'z']]);
    // Every key found, some above and some below: still in request order.
    await l1.delete('c');
    const all = await cache.getMany(['c', 'a', 'b']);
    expect([...all.keys()]).toEqual(['c', 'a', 'b']);
    expect([...(await cache.getMany(['b', 'c'])).keys()]).toEqual(['b', 'c']);
  });

  it('broadcasts writes, deletes, patterns and clears to other instances', async () => {
    const channel = new LocalBusChannel();
    const l2 = new MemoryCacheAdapter();
    const a = new TieredCache({ tiers: [new MemoryCacheAdapter(), l2], bus: new LocalBus({ channel }) });
    const b = new TieredCache({ tiers: [new MemoryCacheAdapter(), l2], bus: new LocalBus({ channel }) });
    await Promise.all([a.ready(), b.ready()]);
    await a.set('k', 1);
    expect(await b.get('k')).toBe(1);
    await a.set('k', 2);
    await new Promise((r) => setTimeout(r, 0));
    expect(await b.get('k')).toBe(2);
    await b.setMany({ 'user:1': 1, 'user:2': 2 });
    expect(await a.getMany(['user:1', 'user:2'])).toEqual(
      new Map([
        ['user:1', 1],
        ['user:2', 2],
      ]),
    );
    expect(await b.deletePattern('user:*')).toBe(2);
    await new Promise((r) => setTimeout(r, 0));
    expect(await a.get('user:1')).toBeUndefined();
    await a.clear();
    await new Promise((r) => setTimeout(r, 0));
    expect(await b.get('k')).toBeUndefined();
    expect(a.stats().invalidationsSent).toBe(3);
    expect(b.stats().invalidationsReceived).toBeGreaterThanOrEqual(2);
  });

  it('refuses bad options at construction', () => {
    const m = new MemoryCacheAdapter();
    expect(() => new TieredCache({ tiers: [] })).toThrow(/at least one cache/);
    expect(() => new TieredCache({ tiers: [m, {} as never] })).toThrow(/tiers\[1\] is not a CacheProtocol/);
    expect(() => new TieredCache({ tiers: [m, m], maxTtl: 0 })).toThrow(RangeError);
    expect(() => new TieredCache({ tiers: [{ cache: m, maxTtl: -1 }, m] })).toThrow(RangeError);
    expect(() => new TieredCache({ tiers: [m, m], onLowerTierError: 'ignore' as never })).toThrow(RangeError);
    expect(() => new TieredCache({ tiers: [m, m], maxTTL: 5 } as never)).toThrow(
      /Unknown TieredCache option 'maxTTL'/,
    );
    expect(() => new TieredCache({ tiers: [m], defaultTtl: 0 })).toThrow(/defaultTtl/);
    expect(() => new TieredCache({ tiers: [m], defaultTtl: '60' as never })).toThrow(/defaultTtl/);
    expect(() => new TieredCache({ tiers: [m], staleIfError: -1 })).toThrow(/staleIfError/);
    expect(() => new TieredCache({ tiers: [m], breaker: { failures: 0 } })).toThrow(/breaker.failures/);
    expect(() => new TieredCache({ tiers: [m], breaker: { cooldown: 5 } as never })).toThrow(/cooldown/);
    expect(() => new TieredCache({ tiers: [m], breaker: true as never })).toThrow(/breaker/);
  });
});

describe('TieredCache encodes a value once', () => {
  it('fills L1 with the text read from L2 when both share a codec, and decodes a fresh copy per caller', async () => {
    class CountingCodec extends StrataCodec {
      encodes = 0;
      override encode(value: unknown): string {
        this.encodes++;
        return super.encode(value);
      }
    }
    const codec = new CountingCodec();
    const l1 = new MemoryCacheAdapter({ codec });
    const l2 = new MemoryCacheAdapter({ codec });
    await l2.set('k', { n: 1, at: new Date(3) }, 60);
    const cache = new TieredCache({ tiers: [l1, l2] });
    codec.encodes = 0;
    const first = await cache.get<{ n: number; at: Date }>('k');
    expect(codec.encodes).toBe(0);
    expect(await l1.ttl('k')).toBe(60);
    first!.n = 2;
    expect(await cache.get('k')).toEqual({ n: 1, at: new Date(3) });
    expect(cache.stats().hits).toEqual([1, 1]);
    // Another codec instance: the text may not be what L1 would write, so L1 encodes the value itself.
    const other = new TieredCache({ tiers: [new MemoryCacheAdapter({ codec: new StrataCodec() }), l2] });
    await other.get('k');
    expect(codec.encodes).toBe(0);
    expect(await other.get('k')).toEqual({ n: 1, at: new Date(3) });
  });
});

describe('TieredCache writes without a paired bus', () => {
  it('send the invalidation once the write took effect, and do not wait for the bus to acknowledge it', async () => {
    const events: string[] = [];
    const l2 = new MemoryCacheAdapter();
    const set = l2.store.set.bind(l2.store);
    l2.store.set = (...args: Parameters<typeof set>) => {
      set(...args);
      events.push('l2 set');
    };
    const bus = {
      id: 'slow',
      publish: () => {
        events.push('publish');
        return new Promise<void>(() => {});
      },
      subscribe: async () => () => {},
      close: async () => {},
    };
    const cache = new TieredCache({ tiers: [new MemoryCacheAdapter(), l2], bus });
    await cache.ready();
    await cache.set('k', 1);
    expect(events).toEqual(['l2 set', 'publish']);
    expect(await cache.get('k')).toBe(1);
    await cache.close();
  });
});
