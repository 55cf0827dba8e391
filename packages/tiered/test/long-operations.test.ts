import { LocalBus, LocalBusChannel } from '@strata-cache/core';
import { MemoryCacheAdapter } from '@strata-cache/memory';
import { describe, expect, it } from 'vitest';
import { TieredCache } from '../src/index.js';
import { DelayedTier, settle } from './support/delayed-tier.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A shared L2 whose `deletePattern` and `clear` walk slowly (`walkMs`) and delete at the end of the walk, as a SCAN of
 * a large keyspace does; everything else is immediate. `callBoundMs` declares (or not) that it bounds its own calls.
 */
function slowWalkingL2(walkMs: number, callBoundMs?: number) {
  const inner = new MemoryCacheAdapter({ namespace: 'l2' });
  const tier = new DelayedTier(inner, async (label) => {
    if (/^(deletePattern|clear).* request$/.test(label)) await sleep(walkMs);
  });
  if (callBoundMs !== undefined) tier.store.callBoundMs = callBoundMs;
  return { inner, tier };
}

describe('TieredCache long operations (SPEC: Long operations)', () => {
  it('a deletePattern or clear longer than timeoutMs on a healthy, self-bounded tier completes', async () => {
    const { inner, tier } = slowWalkingL2(300, 50);
    const cache = new TieredCache({ tiers: [new MemoryCacheAdapter(), tier], timeoutMs: 100 });
    await inner.setMany({ 'a:1': 1, 'a:2': 2, b: 3 });
    expect(await cache.deletePattern('a:*')).toBe(2);
    await cache.clear();
    expect(await inner.getMany(['a:1', 'b'])).toEqual(new Map());
    await cache.close();
  });

  it('a setMany longer than timeoutMs on a tier that bounds each of its commands completes', async () => {
    const inner = new MemoryCacheAdapter({ namespace: 'l2' });
    const slowBatches = new DelayedTier(inner, async (label) => {
      if (label === 'setMany request') await sleep(300);
    });
    // Its bound is above the cache's time limit: single calls get the cache's limit, batches are the tier's own.
    slowBatches.store.callBoundMs = 5_000;
    const cache = new TieredCache({ tiers: [new MemoryCacheAdapter(), slowBatches], timeoutMs: 100 });
    await cache.setMany({ a: 1, b: 2 });
    expect(await inner.getMany(['a', 'b'])).toEqual(
      new Map([
        ['a', 1],
        ['b', 2],
      ]),
    );
    await cache.close();
  });

  it('a walk that outlives the time limit of a tier without a bound of its own: the fence holds and the invalidation goes again once it ended', async () => {
    const { inner, tier } = slowWalkingL2(300);
    const channel = new LocalBusChannel();
    const a = new TieredCache({
      tiers: [new MemoryCacheAdapter(), tier],
      timeoutMs: 100,
      bus: new LocalBus({ channel }),
    });
    const bL1 = new MemoryCacheAdapter();
    const b = new TieredCache({ tiers: [bL1, inner], bus: new LocalBus({ channel }) });
    a.on('error', () => {});
    await Promise.all([a.ready(), b.ready()]);
    await inner.setMany({ 'a:1': 1, keep: 2 });
    const started = performance.now();
    await expect(a.deletePattern('a:*')).rejects.toMatchObject({ code: 'CACHE_UNAVAILABLE' });
    expect(performance.now() - started).toBeLessThan(250);
    // The walk goes on: meanwhile A fills no key it matches, B reads and keeps what is still there.
    expect(await a.get('a:1')).toBe(1);
    expect(await a.get('keep')).toBe(2);
    expect(await b.get('a:1')).toBe(1);
    expect(await bL1.get('a:1')).toBe(1);
    await sleep(350);
    await settle();
    // The walk ended: A announced it again, so B dropped its copy and reads what L2 holds.
    expect(await inner.get('a:1')).toBeUndefined();
    expect(await bL1.get('a:1')).toBeUndefined();
    expect(await b.get('a:1')).toBeUndefined();
    expect(await a.get('a:1')).toBeUndefined();
    await Promise.all([a.close(), b.close()]);
  });

  it('a deletePattern in flight holds back fills of the keys it matches only', async () => {
    const { inner, tier } = slowWalkingL2(200, 1_000);
    const l1 = new MemoryCacheAdapter();
    const cache = new TieredCache({ tiers: [l1, tier] });
    await inner.setMany({ 'user:1': 1, 'user:2': 2, 'page:1': 3 });
    const deleting = cache.deletePattern('user:*');
    await settle();
    expect(await cache.getMany(['user:1', 'page:1'])).toEqual(
      new Map([
        ['user:1', 1],
        ['page:1', 3],
      ]),
    );
    expect(await cache.get('user:2')).toBe(2);
    expect(await l1.getMany(['user:1', 'user:2', 'page:1'])).toEqual(new Map([['page:1', 3]]));
    await cache.set('page:2', 4);
    expect(await l1.get('page:2')).toBe(4);
    expect(await deleting).toBe(2);
    expect(await cache.get('user:1')).toBeUndefined();
    expect(await cache.get('page:1')).toBe(3);
    await cache.close();
  });

  it('a pattern invalidation received while a read is in flight refuses only the fills of keys it matches', async () => {
    const l2 = new MemoryCacheAdapter();
    let release: () => void = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const slowReads = new DelayedTier(l2, async (label) => {
      if (label.endsWith('reply') && label.startsWith('getManyEntries')) await held;
    });
    const channel = new LocalBusChannel();
    const l1 = new MemoryCacheAdapter();
    const reader = new TieredCache({ tiers: [l1, slowReads], bus: new LocalBus({ channel }) });
    const writer = new TieredCache({ tiers: [new MemoryCacheAdapter(), l2], bus: new LocalBus({ channel }) });
    await Promise.all([reader.ready(), writer.ready()]);
    await l2.setMany({ 'user:1': 1, 'page:1': 2 });
    const read = reader.getMany(['user:1', 'page:1']);
    await settle();
    await writer.deletePattern('user:*');
    await settle();
    release();
    await read;
    expect(await l1.getMany(['user:1', 'page:1'])).toEqual(new Map([['page:1', 2]]));
    await Promise.all([reader.close(), writer.close()]);
  });
});
