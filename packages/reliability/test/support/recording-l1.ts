import type { CacheItems, CacheProtocol } from '@strata-cache/core';
import type { MemoryCacheAdapter } from '@strata-cache/memory';

/**
 * An L1 that records, for every value it serves, how long ago that entry was installed: the figure behind
 * "no instance served an L1 value older than its maxTtl". It delegates everything to a `MemoryCacheAdapter`.
 */
export class RecordingL1 implements CacheProtocol {
  readonly inner: MemoryCacheAdapter;
  /** Ages (ms since installation) of every value served by `get`/`getMany`. */
  readonly servedAges: number[] = [];
  readonly #installedAt = new Map<string, number>();

  constructor(inner: MemoryCacheAdapter) {
    this.inner = inner;
  }

  /** What L1 holds for `key`, without counting it as served. */
  peek(key: string): Promise<unknown> {
    return this.inner.get(key);
  }

  async get<T = unknown>(key: string): Promise<T | undefined> {
    const value = await this.inner.get<T>(key);
    if (value !== undefined) this.#served(key);
    return value;
  }

  async getMany<T = unknown>(keys: readonly string[]): Promise<Map<string, T>> {
    const found = await this.inner.getMany<T>(keys);
    for (const key of found.keys()) this.#served(key);
    return found;
  }

  async set(key: string, value: unknown, ttl?: number | null): Promise<void> {
    // MemoryCacheAdapter writes synchronously within the call: record the time before anything can read it.
    const done = this.inner.set(key, value, ttl);
    this.#installedAt.set(key, performance.now());
    await done;
  }

  async setMany(items: CacheItems, ttl?: number | null): Promise<void> {
    const done = this.inner.setMany(items, ttl);
    const keys = items instanceof Map ? [...items.keys()] : Object.keys(items);
    for (const key of keys) this.#installedAt.set(key as string, performance.now());
    await done;
  }

  delete(key: string): Promise<void> {
    return this.inner.delete(key);
  }

  deleteMany(keys: readonly string[]): Promise<number> {
    return this.inner.deleteMany(keys);
  }

  invalidateTags(tags: readonly string[]): Promise<void> {
    return this.inner.invalidateTags(tags);
  }

  exists(key: string): Promise<boolean> {
    return this.inner.exists(key);
  }

  deletePattern(pattern: string): Promise<number> {
    return this.inner.deletePattern(pattern);
  }

  ttl(key: string): Promise<number | undefined> {
    return this.inner.ttl(key);
  }

  clear(): Promise<void> {
    return this.inner.clear();
  }

  #served(key: string): void {
    const installedAt = this.#installedAt.get(key);
    // Every L1 entry is installed through this wrapper: an entry without a record would itself be a finding.
    this.servedAges.push(
      installedAt === undefined ? Number.POSITIVE_INFINITY : performance.now() - installedAt,
    );
  }
}
