import { uniqueNamespace } from '@strata-cache/core/testing';
import { MemoryCacheAdapter } from '@strata-cache/memory';
import { RedisCacheAdapter, RedisPubSubBus } from '@strata-cache/redis';
import { type RedisServerHandle, startRedisServer } from '@strata-cache/redis-testkit';
import { TieredCache, type TieredCacheOptions } from '@strata-cache/tiered';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHAOS_SETTINGS } from './support/chaos-harness.js';
import { eventually, latencySummary, percentile, printFigures, sleep } from './support/figures.js';
import { type ProcessWatch, watchProcess } from './support/process-watch.js';

/**
 * A 10 s Redis outage under load, with and without the fail-safe: two TieredCache instances (memory over a
 * redis-server this test started, the Redis bus) read hot keys and call getOrSet while Redis is down (killed, or
 * hung with SIGSTOP), then come back. Figures are printed (`[figures]`) and asserted.
 */

const S = CHAOS_SETTINGS;
const OUTAGE_MS = 10_000;
const HOT_KEYS = Array.from({ length: 20 }, (_, i) => `hot:${i}`);
/** The fail-safe's bound, in seconds: longer than the outage, so that every hot key stays answerable. */
const STALE_IF_ERROR = 30;

let watch: ProcessWatch;
beforeAll(() => {
  watch = watchProcess();
});
afterAll(() => watch.stop());

interface Instance {
  readonly cache: TieredCache;
  readonly close: () => Promise<void>;
  /** When its breaker on Redis opened (performance.now()), the last time. */
  openedAt: number | undefined;
}

function open(url: string, namespace: string, options: Partial<TieredCacheOptions>): Instance {
  const l2 = new RedisCacheAdapter({ url, namespace, commandTimeoutMs: S.commandTimeoutMs });
  const bus = new RedisPubSubBus({
    adapter: l2,
    heartbeatMs: S.heartbeatMs,
    heartbeatTimeoutMs: S.heartbeatTimeoutMs,
    publishTimeoutMs: S.publishTimeoutMs,
  });
  const cache = new TieredCache({
    tiers: [new MemoryCacheAdapter({ namespace }), l2],
    bus,
    timeoutMs: S.timeoutMs,
    ...options,
  });
  const instance: Instance = {
    cache,
    openedAt: undefined,
    close: async () => {
      await cache.close();
      await bus.close();
      await l2.close();
    },
  };
  cache.on('error', () => {});
  cache.on('breaker', ({ state }) => {
    if (state === 'open') instance.openedAt ??= performance.now();
  });
  return instance;
}

interface Sample {
  readonly at: number;
  readonly ms: number;
  readonly answered: boolean;
}

/** Workers reading hot keys until `stop`; each read's start, latency, and whether it was answered. */
async function readLoad(cache: TieredCache, stop: () => boolean, samples: Sample[]): Promise<void> {
  let i = 0;
  while (!stop()) {
    const key = HOT_KEYS[i++ % HOT_KEYS.length]!;
    const at = performance.now();
    const value = await cache.get(key);
    samples.push({ at, ms: performance.now() - at, answered: value !== undefined });
    await sleep(1);
  }
}

/** A worker calling getOrSet until `stop`; counts answers that are not the loader's value. */
async function loadLoad(cache: TieredCache, stop: () => boolean, tally: { calls: number; wrong: number }) {
  let i = 0;
  while (!stop()) {
    const key = `loaded:${i++ % 5}`;
    const value = await cache.getOrSet(key, () => ({ key }), { ttl: 5 }).catch(() => undefined);
    tally.calls++;
    if ((value as { key?: string } | undefined)?.key !== key) tally.wrong++;
    await sleep(2);
  }
}

describe('a 10 s Redis outage under load', () => {
  for (const fault of ['kill -9', 'SIGSTOP'] as const) {
    it(`${fault}: with staleIfError every hot read is answered; without, misses fail fast; getOrSet answers throughout`, async () => {
      const server: RedisServerHandle = await startRedisServer();
      const namespace = uniqueNamespace('outage');
      const safe = open(server.url, namespace, { staleIfError: STALE_IF_ERROR });
      const plain = open(server.url, namespace, {});
      try {
        await Promise.all([safe.cache.ready(), plain.cache.ready()]);
        for (const key of HOT_KEYS) await safe.cache.set(key, { key }, 5);
        // Both instances hold every hot key in L1.
        for (const key of HOT_KEYS) await Promise.all([safe.cache.get(key), plain.cache.get(key)]);

        let stopping = false;
        const stop = () => stopping;
        const safeReads: Sample[] = [];
        const plainReads: Sample[] = [];
        const loads = { calls: 0, wrong: 0 };
        const workers = [
          readLoad(safe.cache, stop, safeReads),
          readLoad(safe.cache, stop, safeReads),
          readLoad(plain.cache, stop, plainReads),
          loadLoad(safe.cache, stop, loads),
          loadLoad(plain.cache, stop, loads),
        ];
        await sleep(300);
        const faultAt = performance.now();
        if (fault === 'kill -9') await server.kill();
        else server.pause();
        await sleep(OUTAGE_MS);
        const backAt = performance.now();
        if (fault === 'kill -9') await server.restart();
        else server.resume();
        const recovered = await eventually(
          'both breakers closed and L2 read again',
          async () => {
            const fresh = await plain.cache.getOrSet('after', () => 'loaded', { ttl: 60 });
            return (
              fresh === 'loaded' &&
              safe.cache.stats().breakers[1] === 'closed' &&
              plain.cache.stats().breakers[1] === 'closed'
            );
          },
          10_000,
        );
        stopping = true;
        await Promise.all(workers);

        const during = (s: Sample) => s.at >= faultAt && s.at < backAt;
        const safeOpen = safeReads.filter(
          (s) => during(s) && s.at >= (safe.openedAt ?? Number.POSITIVE_INFINITY),
        );
        const plainOpen = plainReads.filter(
          (s) => during(s) && s.at >= (plain.openedAt ?? Number.POSITIVE_INFINITY),
        );
        const safeDuring = safeReads.filter(during);
        const unanswered = safeDuring.filter((s) => !s.answered).length;
        printFigures(`outage (${fault}, ${OUTAGE_MS / 1_000} s)`, [
          `breaker open ${((safe.openedAt ?? Number.NaN) - faultAt).toFixed(0)} ms (staleIfError) / ${((plain.openedAt ?? Number.NaN) - faultAt).toFixed(0)} ms (plain) after the fault began`,
          `staleIfError ${STALE_IF_ERROR} s, hot reads during the outage: ${safeDuring.length}, unanswered ${unanswered}; once open: ${latencySummary(safeOpen.map((s) => s.ms))}`,
          `without the fail-safe, reads once open (misses): ${latencySummary(plainOpen.map((s) => s.ms))}, answered ${plainOpen.filter((s) => s.answered).length}`,
          `getOrSet calls: ${loads.calls}, not answered with the loader's value: ${loads.wrong}`,
          `stale answers: ${safe.cache.stats().staleAnswers}; recovered ${recovered.toFixed(0)} ms after Redis was back`,
          `unhandled rejections: ${watch.unhandledRejections.length}; uncaught exceptions: ${watch.uncaughtExceptions.length}`,
        ]);
        expect(safe.openedAt).toBeDefined();
        expect(plain.openedAt).toBeDefined();
        expect(unanswered).toBe(0);
        expect(safeOpen.length).toBeGreaterThan(1_000);
        expect(
          percentile(
            safeOpen.map((s) => s.ms),
            0.99,
          ),
        ).toBeLessThanOrEqual(5);
        expect(plainOpen.length).toBeGreaterThan(500);
        expect(plainOpen.every((s) => !s.answered)).toBe(true);
        expect(
          percentile(
            plainOpen.map((s) => s.ms),
            0.99,
          ),
        ).toBeLessThanOrEqual(5);
        expect(loads.wrong).toBe(0);
        expect(safe.cache.stats().staleAnswers).toBeGreaterThan(0);
        expect(watch.unhandledRejections).toEqual([]);
        expect(watch.uncaughtExceptions).toEqual([]);
        expect(watch.ioredisUnhandledErrors).toEqual([]);
      } finally {
        await safe.close();
        await plain.close();
        await server.stop();
      }
    }, 60_000);
  }
});
