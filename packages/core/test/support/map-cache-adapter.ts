import {
  assertKey,
  assertKeys,
  assertPattern,
  type CacheCapabilities,
  type CacheItems,
  type CacheProtocol,
  type Codec,
  checkedTags,
  compileGlob,
  defaultCodec,
  encodeFor,
  msToTtlSeconds,
  prefixKey,
  type ResolvedSetOptions,
  resolveNamespace,
  resolveSetOptions,
  type SetOptions,
  toItemEntries,
} from '../../src/index.js';

/** The bugs a {@link MapCacheAdapter} can be built with, to prove the law suite catches each. */
export interface Bugs {
  /** Keys expire one second late. */
  expiresLate?: boolean;
  /** `ttl()` rounds to the nearest second, as Redis's TTL command does. */
  ttlRoundsToNearest?: boolean;
  /** Values are kept by reference, not encoded. */
  aliases?: boolean;
  /** A stored `null` reads as a miss. */
  nullIsMiss?: boolean;
  /** `?` in a pattern matches two characters. */
  questionMatchesTwo?: boolean;
  /** `clear()` empties the whole store, other namespaces included. */
  clearLeaks?: boolean;
  /** `getMany` answers in storage order, not request order. */
  getManyUnordered?: boolean;
  /** `invalidateTags` invalidates only the first of the tags it is given. */
  invalidatesFirstTagOnly?: boolean;
}

interface Stored {
  readonly text: string;
  readonly raw: unknown;
  readonly expiresAt: number;
  /** When it stops being fresh (grace): it is then stored but never read. */
  readonly freshUntil: number;
  /** Its tags, with the versions they had when it was written. */
  readonly tags: ReadonlyMap<string, number>;
}

/**
 * A minimal, correct CacheProtocol over a Map shared between namespaces (like one Redis), used to test the law
 * suite itself: correct, it passes every law; built with a bug, some law must fail.
 */
export class MapCacheAdapter implements CacheProtocol {
  readonly capabilities: CacheCapabilities = { patternDelete: true, ttlPrecision: 'milliseconds' };
  readonly #store: Map<string, Stored>;
  readonly #namespace: string;
  readonly #now: () => number;
  readonly #codec: Codec;
  readonly #bugs: Bugs;
  readonly #tagVersions = new Map<string, number>();

  constructor(options: {
    store: Map<string, Stored>;
    namespace: string;
    now: () => number;
    codec?: Codec;
    bugs?: Bugs;
  }) {
    this.#store = options.store;
    this.#namespace = resolveNamespace(options.namespace);
    this.#now = options.now;
    this.#codec = options.codec ?? defaultCodec;
    this.#bugs = options.bugs ?? {};
  }

  #live(key: string): Stored | undefined {
    const full = prefixKey(this.#namespace, key);
    const entry = this.#store.get(full);
    if (entry === undefined) return undefined;
    if (this.#now() > entry.expiresAt) {
      this.#store.delete(full);
      return undefined;
    }
    if (this.#bugs.nullIsMiss && entry.raw === null) return undefined;
    if (this.#now() > entry.freshUntil) return undefined;
    for (const [tag, version] of entry.tags)
      if ((this.#tagVersions.get(tag) ?? 0) > version) return undefined;
    return entry;
  }

  #read(entry: Stored): unknown {
    return this.#bugs.aliases ? entry.raw : this.#codec.decode(entry.text);
  }

  #entry(key: string, value: unknown, options: ResolvedSetOptions): Stored {
    const text = encodeFor(this.#codec, key, value);
    const late = this.#bugs.expiresLate ? 1000 : 0;
    const { ttlMs, graceMs, tags } = options;
    const freshUntil = ttlMs === undefined ? Number.POSITIVE_INFINITY : this.#now() + ttlMs + late;
    return {
      text,
      raw: value,
      freshUntil,
      expiresAt: freshUntil + graceMs,
      tags: new Map(tags.map((tag) => [tag, this.#tagVersions.get(tag) ?? 0])),
    };
  }

  async get<T>(key: string): Promise<T | undefined> {
    assertKey(key);
    const entry = this.#live(key);
    return entry === undefined ? undefined : (this.#read(entry) as T);
  }

  async set(key: string, value: unknown, ttlOrOptions?: number | null | SetOptions): Promise<void> {
    assertKey(key);
    const entry = this.#entry(key, value, resolveSetOptions(ttlOrOptions));
    this.#store.set(prefixKey(this.#namespace, key), entry);
  }

  async delete(key: string): Promise<void> {
    assertKey(key);
    this.#store.delete(prefixKey(this.#namespace, key));
  }

  async deleteMany(keys: readonly string[]): Promise<number> {
    assertKeys(keys);
    let deleted = 0;
    for (const key of new Set(keys)) {
      if (this.#live(key) !== undefined) deleted++;
      this.#store.delete(prefixKey(this.#namespace, key));
    }
    return deleted;
  }

  async invalidateTags(tags: readonly string[]): Promise<void> {
    const checked = checkedTags(tags);
    for (const tag of this.#bugs.invalidatesFirstTagOnly ? checked.slice(0, 1) : checked)
      this.#tagVersions.set(tag, (this.#tagVersions.get(tag) ?? 0) + 1);
  }

  async exists(key: string): Promise<boolean> {
    assertKey(key);
    return this.#live(key) !== undefined;
  }

  async getMany<T>(keys: readonly string[]): Promise<Map<string, T>> {
    assertKeys(keys);
    const order = this.#bugs.getManyUnordered ? [...keys].sort() : keys;
    const found = new Map<string, T>();
    for (const key of order) {
      const entry = this.#live(key);
      if (entry !== undefined && !found.has(key)) found.set(key, this.#read(entry) as T);
    }
    return found;
  }

  async setMany(items: CacheItems, ttlOrOptions?: number | null | SetOptions): Promise<void> {
    const entries = toItemEntries(items);
    const options = resolveSetOptions(ttlOrOptions);
    const stored = entries.map(([key, value]) => [key, this.#entry(key, value, options)] as const);
    for (const [key, entry] of stored) this.#store.set(prefixKey(this.#namespace, key), entry);
  }

  async deletePattern(pattern: string): Promise<number> {
    assertPattern(pattern);
    const matches = compileGlob(this.#bugs.questionMatchesTwo ? pattern.replaceAll('?', '??') : pattern);
    const prefix = prefixKey(this.#namespace, '');
    let deleted = 0;
    for (const full of [...this.#store.keys()]) {
      if (!full.startsWith(prefix)) continue;
      const key = full.slice(prefix.length);
      if (this.#live(key) !== undefined && matches(key)) {
        this.#store.delete(full);
        deleted++;
      }
    }
    return deleted;
  }

  async ttl(key: string): Promise<number | undefined> {
    assertKey(key);
    const entry = this.#live(key);
    if (entry === undefined || entry.freshUntil === Number.POSITIVE_INFINITY) return undefined;
    const remaining = entry.freshUntil - this.#now();
    return this.#bugs.ttlRoundsToNearest
      ? Math.max(1, Math.round(remaining / 1000))
      : msToTtlSeconds(remaining);
  }

  async clear(): Promise<void> {
    const prefix = prefixKey(this.#namespace, '');
    for (const full of [...this.#store.keys()])
      if (this.#bugs.clearLeaks || full.startsWith(prefix)) this.#store.delete(full);
  }
}

/** A codec that silently turns a Date into a string (plain JSON), as many cache libraries do. */
export const lossyJsonCodec: Codec = {
  encode: (value) => JSON.stringify(value),
  decode: (text) => JSON.parse(text) as unknown,
};
