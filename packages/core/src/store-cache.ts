import { type Codec, decodeFor, defaultCodec, encodeFor } from './codec/codec.js';
import type { Entry, EntryWrite, EntryWriteMeta } from './entry.js';
import { closedError, toUnavailableError } from './errors.js';
import { assertKey, assertKeys, assertPattern, toItemEntries } from './keys.js';
import type { CacheCapabilities, CacheItems, ClosableCache } from './protocol.js';
import type { CacheStore } from './store.js';
import {
  checkedTags,
  plainWrite,
  type ResolvedSetOptions,
  resolveSetOptions,
  type SetOptions,
  tagsCurrent,
  tagVersionsOf,
} from './tags.js';
import { msToTtlSeconds } from './ttl.js';
import { ValueReader, type ValueReading } from './value-reader.js';

/** Options of {@link StoreCache}. */
export interface StoreCacheOptions {
  /** How values are encoded. @default defaultCodec */
  readonly codec?: Codec | undefined;
  /** How values are read out of entries the store keeps in memory (see {@link ValueReading}). @default 'decode' */
  readonly reading?: ValueReading | undefined;
}

/**
 * Deletes the keys of `store` matching the Redis glob `pattern`, batch by batch as the store walks it (each step
 * bounded by the store, never the walk); resolves to how many it deleted. Stops, rejecting, once `stop()` says so.
 */
export async function deleteMatching(
  store: CacheStore,
  pattern: string,
  stop: () => boolean = () => false,
): Promise<number> {
  let deleted = 0;
  for await (const batch of store.scan(pattern)) {
    deleted += await store.delete(batch);
    if (stop()) throw closedError('deletePattern');
  }
  return deleted;
}

/**
 * A cache over a {@link CacheStore}: every law of `CacheProtocol` (validation, the codec, TTLs in seconds, batches,
 * patterns, namespaces as the store applies them) kept once, here, for every backend. An adapter is a store plus
 * this class: `class MyCacheAdapter extends StoreCache { constructor(o) { super(new MyStore(o), o) } }`.
 */
export class StoreCache implements ClosableCache {
  /** What this cache supports. */
  readonly capabilities: CacheCapabilities = { patternDelete: true, ttlPrecision: 'milliseconds' };
  /** The backend. */
  readonly store: CacheStore;
  /** How values are read out of the store's entries. */
  readonly values: ValueReader;
  #closed = false;

  constructor(store: CacheStore, options: StoreCacheOptions = {}) {
    const codec = options.codec ?? defaultCodec;
    if (typeof codec?.encode !== 'function' || typeof codec.decode !== 'function')
      throw new TypeError('codec must have encode() and decode()');
    this.store = store;
    this.values = new ValueReader(codec, options.reading ?? 'decode');
  }

  /** How values are encoded. */
  get codec(): Codec {
    return this.values.codec;
  }

  /** Reads `key`: its value, or `undefined` when it is absent, expired or stale. */
  async get<T = unknown>(key: string): Promise<T | undefined> {
    assertKey(key);
    this.#open('get');
    try {
      const found = this.store.get(key);
      const entry = found instanceof Promise ? await found : found;
      if (entry === undefined || this.#stale(entry)) return undefined;
      if (entry.meta?.tags !== undefined && !(await this.#tagsValid([entry]))[0]) return undefined;
      return this.values.read(key, entry) as T;
    } catch (error) {
      throw toUnavailableError('get', error);
    }
  }

  /** Stores `value` under `key` for `ttl` seconds (none: no expiry), or as {@link SetOptions} say. */
  async set(key: string, value: unknown, ttlOrOptions?: number | null | SetOptions): Promise<void> {
    assertKey(key);
    const options = resolveSetOptions(ttlOrOptions);
    const text = encodeFor(this.codec, key, value);
    this.#open('set');
    try {
      const meta = plainWrite(options) ? undefined : await this.#writeMeta(options);
      await this.store.set(key, { text, ttlMs: writtenTtl(options), meta });
    } catch (error) {
      throw toUnavailableError('set', error);
    }
  }

  /** Removes `key`. */
  async delete(key: string): Promise<void> {
    assertKey(key);
    this.#open('delete');
    try {
      await this.store.delete([key]);
    } catch (error) {
      throw toUnavailableError('delete', error);
    }
  }

  /** Removes `keys`; resolves to how many of them (each counted once) held a value. */
  async deleteMany(keys: readonly string[]): Promise<number> {
    assertKeys(keys);
    this.#open('deleteMany');
    if (keys.length === 0) return 0;
    try {
      return await this.store.delete(keys.length === 1 ? keys : [...new Set(keys)]);
    } catch (error) {
      throw toUnavailableError('deleteMany', error);
    }
  }

  /**
   * Makes every value written with any of `tags` before this call unreadable (`get`, `getMany`, `exists`, `ttl`), at
   * a cost that does not depend on how many values carry them: each tag's version is raised in the store.
   */
  async invalidateTags(tags: readonly string[]): Promise<void> {
    const checked = checkedTags(tags);
    this.#open('invalidateTags');
    if (checked.length === 0) return;
    try {
      await this.store.bumpTags(checked);
    } catch (error) {
      throw toUnavailableError('invalidateTags', error);
    }
  }

  /** True when `key` holds a live, fresh value. */
  async exists(key: string): Promise<boolean> {
    assertKey(key);
    this.#open('exists');
    try {
      const found = this.store.get(key);
      const entry = found instanceof Promise ? await found : found;
      if (entry === undefined || this.#stale(entry)) return false;
      return entry.meta?.tags === undefined || (await this.#tagsValid([entry]))[0]!;
    } catch (error) {
      throw toUnavailableError('exists', error);
    }
  }

  /** Reads many keys: the present ones, in request order, each once. */
  async getMany<T = unknown>(keys: readonly string[]): Promise<Map<string, T>> {
    assertKeys(keys);
    this.#open('getMany');
    const found = new Map<string, T>();
    if (keys.length === 0) return found;
    const unique = keys.length === 1 ? keys : [...new Set(keys)];
    let entries: Array<Entry | undefined>;
    try {
      entries = await this.store.getMany(unique);
    } catch (error) {
      throw toUnavailableError('getMany', error);
    }
    const live = entries.map((entry) => (entry === undefined || this.#stale(entry) ? undefined : entry));
    let valid: boolean[] | undefined;
    if (live.some((entry) => entry?.meta?.tags !== undefined)) {
      try {
        valid = await this.#tagsValid(live);
      } catch (error) {
        throw toUnavailableError('getMany', error);
      }
    }
    for (let i = 0; i < unique.length; i++) {
      const entry = live[i];
      if (entry !== undefined && (valid === undefined || valid[i]))
        found.set(unique[i]!, this.values.read(unique[i]!, entry) as T);
    }
    return found;
  }

  /**
   * Stores every item for `ttl` seconds, or as {@link SetOptions} say (the same for every item); nothing is written
   * unless every key, value and option is valid.
   */
  async setMany(items: CacheItems, ttlOrOptions?: number | null | SetOptions): Promise<void> {
    const entries = toItemEntries(items);
    const options = resolveSetOptions(ttlOrOptions);
    const ttlMs = writtenTtl(options);
    const texts = entries.map(([key, value]) => encodeFor(this.codec, key, value));
    this.#open('setMany');
    if (entries.length === 0) return;
    try {
      const meta = plainWrite(options) ? undefined : await this.#writeMeta(options);
      const writes = entries.map(([key], i): [string, EntryWrite] => [key, { text: texts[i]!, ttlMs, meta }]);
      await this.store.setMany(writes);
    } catch (error) {
      throw toUnavailableError('setMany', error);
    }
  }

  /** Deletes the keys matching the Redis glob `pattern`; resolves to how many were deleted. */
  async deletePattern(pattern: string): Promise<number> {
    assertPattern(pattern);
    this.#open('deletePattern');
    // The empty pattern matches only the empty key, which no caller can write.
    if (pattern === '') return 0;
    return this.#deleteMatching('deletePattern', pattern);
  }

  /** Remaining TTL of `key` in whole seconds rounded up; `undefined` when absent or without expiry. */
  async ttl(key: string): Promise<number | undefined> {
    assertKey(key);
    this.#open('ttl');
    try {
      const found = this.store.get(key);
      const entry = found instanceof Promise ? await found : found;
      if (entry === undefined || entry.expiresAt === undefined || this.#stale(entry)) return undefined;
      if (entry.meta?.tags !== undefined && !(await this.#tagsValid([entry]))[0]) return undefined;
      const fresh = entry.meta?.freshUntil ?? entry.expiresAt;
      return msToTtlSeconds(Math.min(fresh, entry.expiresAt) - this.store.now());
    } catch (error) {
      throw toUnavailableError('ttl', error);
    }
  }

  /** Deletes every key of this cache's namespace. */
  async clear(): Promise<void> {
    this.#open('clear');
    try {
      await this.store.clear();
    } catch (error) {
      throw toUnavailableError('clear', error);
    }
  }

  /** The live keys matching the Redis glob `pattern` (every key by default), each once. */
  async *keys(pattern = '*'): AsyncGenerator<string> {
    assertPattern(pattern);
    this.#open('keys');
    const seen = new Set<string>();
    try {
      for await (const batch of this.store.scan(pattern)) {
        for (const key of batch) {
          if (seen.has(key)) continue;
          seen.add(key);
          yield key;
        }
      }
    } catch (error) {
      throw toUnavailableError('keys', error);
    }
  }

  /** Releases what the store opened; later calls reject with `CacheUnavailableError` (code `CACHE_CLOSED`). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.store.close();
  }

  /** Same as {@link StoreCache.close}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Decodes the text of `key` as stored, naming the key if it cannot be read. */
  protected decode(key: string, text: string): unknown {
    return decodeFor(this.codec, key, text);
  }

  #open(operation: string): void {
    if (this.#closed) throw closedError(operation);
  }

  /**
   * Past its fresh time (in the store's clock), or only a lease's placeholder: a fallback for read-through, never a
   * value to `get`.
   */
  #stale(entry: Entry): boolean {
    const meta = entry.meta;
    if (meta === undefined) return false;
    if (meta.placeholder === true || meta.unverified === true) return true;
    return meta.freshUntil !== undefined && this.store.now() > meta.freshUntil;
  }

  /** Whether each entry's tags are all current (an entry without tags, or none, is valid): one call to the store. */
  async #tagsValid(entries: ReadonlyArray<Entry | undefined>): Promise<boolean[]> {
    const tags = new Set<string>();
    for (const entry of entries) {
      const written = entry?.meta?.tags;
      if (written !== undefined) for (const tag of Object.keys(written)) tags.add(tag);
    }
    const names = [...tags];
    const found = this.store.tagVersions(names);
    const versions = found instanceof Promise ? await found : found;
    const current = new Map(names.map((tag, i) => [tag, versions[i]!]));
    return entries.map((entry) => {
      const written = entry?.meta?.tags;
      return written === undefined || tagsCurrent(written, (tag) => current.get(tag)!);
    });
  }

  /** The metadata a write with `options` stores: its fresh time under grace, its tags with their versions. */
  async #writeMeta(options: ResolvedSetOptions): Promise<EntryWriteMeta | undefined> {
    const { tags, graceMs, ttlMs } = options;
    let versions: number[] = [];
    if (tags.length > 0) {
      const found = this.store.tagVersions(tags);
      versions = found instanceof Promise ? await found : found;
    }
    return {
      ...(graceMs > 0 && ttlMs !== undefined ? { freshMs: ttlMs } : {}),
      ...(tags.length > 0 ? { tags: tagVersionsOf(tags, versions) } : {}),
    };
  }

  async #deleteMatching(operation: string, pattern: string): Promise<number> {
    try {
      return await deleteMatching(this.store, pattern, () => this.#closed);
    } catch (error) {
      throw toUnavailableError(operation, error);
    }
  }
}

/** How long an entry written with `options` is stored: its TTL plus its grace. */
export function writtenTtl(options: ResolvedSetOptions): number | undefined {
  return options.ttlMs === undefined ? undefined : options.ttlMs + options.graceMs;
}
