import {
  type CacheStore,
  CacheValidationError,
  compileGlob,
  type Entry,
  type EntryWrite,
  stampMeta,
} from '@strata-cache/core';
import { LRUCache } from 'lru-cache';

/** Options of {@link MemoryStore}. */
export interface MemoryStoreOptions {
  /** The most entries kept; the least recently used is evicted beyond it. */
  readonly maxEntries: number;
  /** The most bytes kept (UTF-8 key plus text); `undefined`: no byte limit. */
  readonly maxBytes: number | undefined;
  /** The clock, epoch ms; expiry is judged by it. */
  readonly now: () => number;
}

/** An entry as the store keeps it: the entry itself, with room for its decoded value. */
interface Held extends Entry {
  decoded?: unknown;
}

/** Expired entries are swept once this many writes with a TTL have happened (or `size`, if larger). */
const SWEEP_EVERY_WRITES = 1024;

/**
 * An in-process {@link CacheStore} on `lru-cache`, whose own TTLs and clock (the injected one) decide expiry: an
 * entry is alive while `now <= expiresAt`, as Redis decides. Every call completes synchronously.
 */
export class MemoryStore implements CacheStore {
  /** Every call completes at once, in process. */
  readonly callBoundMs: number = 0;
  readonly #lru: LRUCache<string, Held>;
  readonly #now: () => number;
  readonly #maxBytes: number | undefined;
  /** Each tag's version: never evicted nor cleared (a lost counter could make invalidated entries valid again). */
  readonly #tagVersions = new Map<string, number>();
  /** One options object for every `lru.set`, so that a write allocates none. */
  readonly #setOptions: { ttl: number; start: number } = { ttl: 0, start: 0 };
  #ttlWrites = 0;
  #sweepAfter = SWEEP_EVERY_WRITES;
  /** No entry expires before this (the store's clock): a sweep before then would find nothing, and is skipped. */
  #earliestExpiry = Number.POSITIVE_INFINITY;

  constructor(options: MemoryStoreOptions) {
    this.#now = options.now;
    this.#maxBytes = options.maxBytes;
    this.#lru = new LRUCache<string, Held>({
      max: options.maxEntries,
      // Judged at every read with the store's clock, not a cached reading of it.
      perf: { now: options.now },
      ttlResolution: 0,
      // Every write gives its own TTL (0: none), so this default never applies: it only makes lru-cache allocate its
      // per-slot TTL arrays now, as part of the empty cache's fixed cost, rather than at the first write with a TTL.
      ttl: 1,
      ...(options.maxBytes === undefined
        ? {}
        : {
            maxSize: options.maxBytes,
            sizeCalculation: (entry: Held, key: string) => entrySize(key, entry.text),
          }),
    });
  }

  now(): number {
    return this.#now();
  }

  /** An in-process store announces nothing: a cache over it publishes its own writes. */
  announcesOn(): boolean {
    return false;
  }

  get(key: string): Entry | undefined {
    return this.#lru.get(key);
  }

  async getMany(keys: readonly string[]): Promise<Array<Entry | undefined>> {
    return keys.map((key) => this.#lru.get(key));
  }

  /** @throws {CacheValidationError} `CACHE_VALUE_TOO_LARGE` when the key and text alone are larger than `maxBytes`. */
  set(key: string, entry: EntryWrite): void {
    this.#checkSize(key, entry.text);
    this.#write(key, entry);
  }

  async setMany(entries: ReadonlyArray<readonly [string, EntryWrite]>): Promise<void> {
    for (const [key, entry] of entries) this.#checkSize(key, entry.text);
    for (const [key, entry] of entries) this.#write(key, entry);
  }

  tagVersions(tags: readonly string[]): number[] {
    return tags.map((tag) => this.#tagVersions.get(tag) ?? 0);
  }

  async bumpTags(tags: readonly string[]): Promise<number[]> {
    return tags.map((tag) => {
      const version = (this.#tagVersions.get(tag) ?? 0) + 1;
      this.#tagVersions.set(tag, version);
      return version;
    });
  }

  async compareAndSet(key: string, expected: string | null, entry: EntryWrite | null): Promise<boolean> {
    const live = this.#lru.get(key);
    if (expected === null ? live !== undefined : live?.meta?.version !== expected) return false;
    if (entry === null) this.#remove(key);
    else this.set(key, entry);
    return true;
  }

  delete(keys: readonly string[]): number {
    let deleted = 0;
    for (const key of keys) {
      if (this.#lru.has(key)) deleted++;
      this.#remove(key);
    }
    return deleted;
  }

  clear(): void {
    this.#lru.clear();
    this.#earliestExpiry = Number.POSITIVE_INFINITY;
  }

  async *scan(pattern: string): AsyncGenerator<readonly string[]> {
    const matches = compileGlob(pattern);
    const found: string[] = [];
    // `keys()` walks live entries only; the batch is taken whole before anyone deletes from it.
    for (const key of this.#lru.keys()) if (matches(key)) found.push(key);
    if (found.length > 0) yield found;
  }

  async close(): Promise<void> {
    this.#lru.clear();
  }

  /** How many entries are held, expired ones not yet swept included. */
  get size(): number {
    return this.#lru.size;
  }

  /** How many bytes are held (as counted for `maxBytes`); 0 without a byte limit. */
  get bytes(): number {
    return this.#maxBytes === undefined ? 0 : this.#lru.calculatedSize;
  }

  #write(key: string, entry: EntryWrite): void {
    const now = this.#now();
    const { ttlMs } = entry;
    const expiresAt = ttlMs === undefined ? undefined : now + ttlMs;
    // Without metadata the entry holds two fields (`meta` reads as undefined): the heap per entry is what counts here.
    const held = (
      entry.meta === undefined
        ? { text: entry.text, expiresAt }
        : { text: entry.text, expiresAt, meta: stampMeta(entry.meta, now) }
    ) as Held;
    const options = this.#setOptions;
    options.ttl = ttlMs ?? 0;
    options.start = now;
    this.#lru.set(key, held, options);
    if (expiresAt === undefined) return;
    if (expiresAt < this.#earliestExpiry) this.#earliestExpiry = expiresAt;
    if (++this.#ttlWrites >= this.#sweepAfter) this.#sweep(now);
  }

  /**
   * Removes `key`. lru-cache empties all its arrays (time proportional to `maxEntries`) when its last entry is
   * deleted, but not when it is evicted: the last entry leaves by eviction.
   */
  #remove(key: string): void {
    if (this.#lru.size === 1 && this.#lru.peek(key, { allowStale: true }) !== undefined) this.#lru.pop();
    else this.#lru.delete(key);
  }

  /**
   * Deletes expired entries: after as many TTL writes as there were entries after the last sweep (at least 1024),
   * so its O(size) cost is amortized O(1) per write and expired entries never accumulate; and not at all while no
   * entry can have expired yet (long TTLs), since walking every entry is the costly part.
   */
  #sweep(now: number): void {
    this.#ttlWrites = 0;
    this.#sweepAfter = Math.max(SWEEP_EVERY_WRITES, this.#lru.size);
    if (now <= this.#earliestExpiry) return;
    this.#lru.purgeStale();
    let earliest = Number.POSITIVE_INFINITY;
    for (const entry of this.#lru.values()) {
      const expiresAt = entry.expiresAt;
      if (expiresAt !== undefined && expiresAt < earliest) earliest = expiresAt;
    }
    this.#earliestExpiry = earliest;
    this.#sweepAfter = Math.max(SWEEP_EVERY_WRITES, this.#lru.size);
  }

  /** @throws {CacheValidationError} `CACHE_VALUE_TOO_LARGE` when `key` and `text` exceed `maxBytes`. */
  #checkSize(key: string, text: string): void {
    if (this.#maxBytes !== undefined && entrySize(key, text) > this.#maxBytes) {
      throw new CacheValidationError(
        'value',
        `key ${JSON.stringify(key)} with its encoded value is larger than maxBytes (${this.#maxBytes})`,
        'CACHE_VALUE_TOO_LARGE',
      );
    }
  }
}

function entrySize(key: string, text: string): number {
  return Buffer.byteLength(key) + Buffer.byteLength(text);
}
