import type { CacheProtocol, ClosableCache } from '@strata-cache/core';
import {
  CacheModel,
  cacheCommands,
  smallKeyArb,
  uniqueNamespace,
  valueArb,
} from '@strata-cache/core/testing';
import { MemoryCacheAdapter } from '@strata-cache/memory';
import fc from 'fast-check';
import { afterAll, expect, inject, it } from 'vitest';
import { RedisCacheAdapter } from '../src/index.js';

const redis = inject('redis');
const made: ClosableCache[] = [];
afterAll(async () => {
  for (const cache of made) await cache.close();
});

/**
 * Drives two caches with the same calls and demands the same answers: every call is applied to both, and the
 * results (or the errors' classes) must be equal. The reference model checks the memory adapter along the way.
 */
class Twin implements CacheProtocol {
  constructor(
    readonly a: CacheProtocol,
    readonly b: CacheProtocol,
  ) {}
  async #both<T>(call: (cache: CacheProtocol) => Promise<T>): Promise<T> {
    const [x, y] = await Promise.allSettled([call(this.a), call(this.b)]);
    if (x.status === 'rejected' || y.status === 'rejected') {
      expect(x.status).toBe(y.status);
      throw x.status === 'rejected' ? x.reason : (y as PromiseRejectedResult).reason;
    }
    expect(y.value).toEqual(x.value);
    return x.value;
  }
  get = <T>(key: string) => this.#both((c) => c.get<T>(key));
  set = (key: string, value: unknown, ttl?: number | null) => this.#both((c) => c.set(key, value, ttl));
  delete = (key: string) => this.#both((c) => c.delete(key));
  deleteMany = (keys: readonly string[]) => this.#both((c) => c.deleteMany(keys));
  invalidateTags = (tags: readonly string[]) => this.#both((c) => c.invalidateTags(tags));
  exists = (key: string) => this.#both((c) => c.exists(key));
  getMany = <T>(keys: readonly string[]) => this.#both((c) => c.getMany<T>(keys));
  setMany = (items: Map<string, unknown>, ttl?: number | null) => this.#both((c) => c.setMany(items, ttl));
  deletePattern = (pattern: string) => this.#both((c) => c.deletePattern(pattern));
  ttl = (key: string) => this.#both((c) => c.ttl(key));
  clear = () => this.#both((c) => c.clear());
}

it('MemoryCacheAdapter and RedisCacheAdapter answer every call sequence identically (law 13)', async () => {
  const memory = new MemoryCacheAdapter({ namespace: 'twin' });
  const standalone = new RedisCacheAdapter({ url: redis.url, namespace: uniqueNamespace() });
  const cluster = new RedisCacheAdapter({
    cluster: { nodes: redis.cluster.nodes },
    namespace: uniqueNamespace(),
  });
  made.push(memory, standalone, cluster);
  const commands = cacheCommands({
    keys: smallKeyArb,
    values: valueArb,
    patterns: fc.constantFrom('*', 'a*', '?', '??', '[ab]', '[^a]*', 'a\\*', '*b?', 'é', '[a-c]*'),
    ttls: fc.option(fc.integer({ min: 100, max: 10_000 }), { nil: undefined }),
    patternDelete: true,
    maxCommands: 60,
  });
  for (const other of [standalone, cluster]) {
    const twin = new Twin(memory, other);
    await fc.assert(
      fc.asyncProperty(commands, async (cmds) => {
        await twin.clear();
        await fc.asyncModelRun(() => ({ model: new CacheModel(Date.now), real: twin }), cmds);
      }),
      { numRuns: Number(process.env.STRATA_FC_RUNS ?? 50) },
    );
  }
}, 300_000);
