import {
  type CacheItems,
  type CacheProtocol,
  type CacheStore,
  type Codec,
  defaultCodec,
  type Entry,
  type EntryWrite,
  UnsupportedOperationError,
} from '@strata-cache/core';
import { monotonicNow } from '@strata-cache/core/internal';

/**
 * A {@link CacheStore} over any `CacheProtocol`, so that a cache of another kind can be a tier: its values are encoded
 * with `codec` into entries, and an entry's expiry is read with `ttl()`, in whole seconds, one second taken off so
 * that no copy above outlives it. Two calls per read where a store of its own takes one; no compare-and-set, no
 * walk (`deletePattern` and `clear` go to the cache itself).
 */
export class ProtocolStore implements CacheStore {
  readonly callBoundMs: undefined = undefined;
  readonly #cache: CacheProtocol;
  readonly #codec: Codec;

  constructor(cache: CacheProtocol, codec: Codec = defaultCodec) {
    this.#cache = cache;
    this.#codec = codec;
  }

  now(): number {
    return monotonicNow();
  }

  async get(key: string): Promise<Entry | undefined> {
    return (await this.getMany([key]))[0];
  }

  async getMany(keys: readonly string[]): Promise<Array<Entry | undefined>> {
    const values = await this.#cache.getMany(keys);
    const entries: Array<Entry | undefined> = [];
    for (const key of keys) {
      if (!values.has(key)) {
        entries.push(undefined);
        continue;
      }
      const read = this.now();
      const seconds = await this.#cache.ttl(key);
      // Whole seconds rounded up could outlive the entry by up to a second: take one off.
      const expiresAt = seconds === undefined ? undefined : read + seconds * 1000 - 1000;
      entries.push({ text: this.#codec.encode(values.get(key)), expiresAt, meta: undefined });
    }
    return entries;
  }

  /** An entry with tags is not kept (the cache could not carry their versions): the key is deleted instead. */
  async set(key: string, entry: EntryWrite): Promise<void> {
    if (entry.meta?.tags !== undefined) await this.#cache.delete(key);
    else await this.#cache.set(key, this.#codec.decode(entry.text), seconds(entry.ttlMs));
  }

  async setMany(entries: ReadonlyArray<readonly [string, EntryWrite]>): Promise<void> {
    // One setMany per TTL: the cache gives one TTL to a whole batch.
    const byTtl = new Map<number | undefined, Map<string, unknown>>();
    for (const [key, entry] of entries) {
      if (entry.meta?.tags !== undefined) {
        await this.#cache.delete(key);
        continue;
      }
      let items = byTtl.get(entry.ttlMs);
      if (items === undefined) {
        items = new Map();
        byTtl.set(entry.ttlMs, items);
      }
      items.set(key, this.#codec.decode(entry.text));
    }
    for (const [ttlMs, items] of byTtl) await this.#cache.setMany(items as CacheItems, seconds(ttlMs));
  }

  async compareAndSet(): Promise<boolean> {
    throw new UnsupportedOperationError('compareAndSet', 'a CacheProtocol tier');
  }

  async tagVersions(): Promise<number[]> {
    throw new UnsupportedOperationError('tags', 'a CacheProtocol tier');
  }

  async bumpTags(): Promise<number[]> {
    throw new UnsupportedOperationError('tags', 'a CacheProtocol tier');
  }

  async delete(keys: readonly string[]): Promise<number> {
    let deleted = 0;
    for (const key of keys) {
      if (await this.#cache.exists(key)) deleted++;
      await this.#cache.delete(key);
    }
    return deleted;
  }

  async clear(): Promise<void> {
    await this.#cache.clear();
  }

  // biome-ignore lint/correctness/useYield: a CacheProtocol cannot list its keys.
  async *scan(): AsyncGenerator<readonly string[]> {
    throw new UnsupportedOperationError('scan', 'a CacheProtocol tier');
  }

  announcesOn(): boolean {
    return false;
  }

  async close(): Promise<void> {}
}

function seconds(ttlMs: number | undefined): number | undefined {
  return ttlMs === undefined ? undefined : ttlMs / 1000;
}
