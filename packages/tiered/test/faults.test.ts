import { CacheUnavailableError, LocalBus, LocalBusChannel } from '@strata-cache/core';
import { MemoryCacheAdapter } from '@strata-cache/memory';
import { describe, expect, it } from 'vitest';
import { TieredCache, type TieredErrorEvent } from '../src/index.js';
import { DelayedTier } from './support/delayed-tier.js';

/** A shared L2 whose calls can be made to fail (refused) or hang, as a dead or frozen Redis would. */
function faultyL2() {
  const inner = new MemoryCacheAdapter({ namespace: 'l2' });
  const state = { mode: 'up' as 'up' | 'down' | 'hung' };
  const tier = new DelayedTier(inner, async (label) => {
    if (label.endsWith('reply')) return;
    if (state.mode === 'down') throw new Error('ECONNREFUSED');
    if (state.mode === 'hung') await new Promise(() => {});
  });
  return { inner, tier, state };
}

describe('TieredCache when L2 fails (SPEC: Faults)', () => {
  it('keeps its own time limit unless the tier declares a bound within it', async () => {
    for (const [callBoundMs, expectTimeout] of [
      [5_000, true],
      [50, false],
    ] as const) {
      const { tier, state } = faultyL2();
      tier.store.callBoundMs = callBoundMs;
      const cache = new TieredCache({ tiers: [new MemoryCacheAdapter(), tier], timeoutMs: 100 });
      cache.on('error', () => {});
      state.mode = 'hung';
      const read = cache.get('cold').then(() => 'answered');
      const outcome = await Promise.race([
        read,
        new Promise((r) => setTimeout(() => r('still waiting'), 400)),
      ]);
      // A tier trusted to bound itself (here one that breaks that promise) is not raced against a second timer.
      expect(outcome).toBe(expectTimeout ? 'answered' : 'still waiting');
      await cache.close();
    }
  });

  it('serves L1 hits, answers an L1 miss as a miss plus an error event, and recovers', async () => {
    const { tier, state } = faultyL2();
    const cache = new TieredCache({ tiers: [new MemoryCacheAdapter(), tier], timeoutMs: 100 });
    const errors: TieredErrorEvent[] = [];
    cache.on('error', (e) => errors.push(e));
    await cache.set('hot', 'cached');
    for (const mode of ['down', 'hung'] as const) {
      state.mode = mode;
      const started = performance.now();
      expect(await cache.get('hot')).toBe('cached');
      expect(await cache.get('cold')).toBeUndefined();
      expect((await cache.getMany(['hot', 'cold'])).get('hot')).toBe('cached');
      expect(performance.now() - started).toBeLessThan(500);
    }
    expect(errors.length).toBeGreaterThanOrEqual(2);
    expect(
      errors.every((e) => e.error instanceof CacheUnavailableError || e.error.message === 'ECONNREFUSED'),
    ).toBe(true);
    state.mode = 'up';
    expect(await cache.get('cold')).toBeUndefined();
  });

  it("rejects instead of degrading with onLowerTierError: 'throw'", async () => {
    const { tier, state } = faultyL2();
    const cache = new TieredCache({
      tiers: [new MemoryCacheAdapter(), tier],
      onLowerTierError: 'throw',
      timeoutMs: 100,
    });
    state.mode = 'hung';
    await expect(cache.get('cold')).rejects.toBeInstanceOf(CacheUnavailableError);
  });

  it('a write that cannot reach L2 rejects, leaves no L1 copy, and is still published', async () => {
    const { inner, tier, state } = faultyL2();
    const channel = new LocalBusChannel();
    const aL1 = new MemoryCacheAdapter();
    const bL1 = new MemoryCacheAdapter();
    const a = new TieredCache({ tiers: [aL1, tier], bus: new LocalBus({ channel }), timeoutMs: 100 });
    const b = new TieredCache({ tiers: [bL1, inner], bus: new LocalBus({ channel }), timeoutMs: 100 });
    await Promise.all([a.ready(), b.ready()]);
    a.on('error', () => {});
    await a.set('k', 'old');
    expect(await b.get('k')).toBe('old');
    expect(await bL1.get('k')).toBe('old');
    for (const mode of ['down', 'hung'] as const) {
      state.mode = mode;
      await expect(a.set('k', 'new')).rejects.toBeInstanceOf(CacheUnavailableError);
      await expect(a.delete('k')).rejects.toBeInstanceOf(CacheUnavailableError);
      expect(await aL1.get('k')).toBeUndefined();
      await new Promise((r) => setTimeout(r, 0));
      // The write's effect on L2 is unknown, so the other instance drops its copy too.
      expect(await bL1.get('k')).toBeUndefined();
      state.mode = 'up';
      expect(await b.get('k')).toBe('old');
    }
  });
});
