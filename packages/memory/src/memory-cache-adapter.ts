import {
  assertKey,
  assertKeys,
  assertOptionNames,
  assertPattern,
  type CacheCapabilities,
  type CacheEntry,
  type CacheItems,
  CacheValidationError,
  type ClosableCache,
  type Codec,
  closedError,
  compileGlob,
  defaultCodec,
  type EntryReader,
  encodeFor,
  msToTtlSeconds,
  positiveIntegerOption,
  resolveNamespace,
  type SyncReader,
  type TextWriter,
  toItemEntries,
  ttlToMs,
} from '@strata-cache/core';
import { LRUCache } from 'lru-cache';
import { cloneJson } from './clone-json.js';

/** Options of {@link MemoryCacheAdapter}. */
export interface MemoryCacheAdapterOptions {
  /**
   * The most entries kept; the least recently used is evicted beyond it.
   * @default 10_000
   */
  maxEntries?: number;
  /**
   * The most bytes kept, counting the UTF-8 length of each key plus its encoded value; the least recently used
   * entries are evicted beyond it, and a single entry larger than this is refused. With a byte limit every read
   * decodes the stored text, so that the limit also bounds the heap; without one, an entry read once keeps its
   * decoded value as a template that later reads copy (several times cheaper, at some memory per entry).
   * @default undefined (no byte limit)
   */
  maxBytes?: number;
  /**
   * The namespace of this cache, a non-empty string without `:`. In memory it only names the cache (each adapter
   * has its own storage); it exists so that the memory adapter accepts what the Redis one does.
   * @default 'strata'
   */
  namespace?: string;
  /**
   * How values are encoded. Values are stored encoded, so what `get` returns has exactly the types a Redis-backed
   * cache would return, and is never aliased.
   * @default defaultCodec
   */
  codec?: Codec;
  /**
   * Zero-copy reads: `get` returns one shared, deep-frozen value per entry instead of a fresh copy per call (a
   * fraction of the cost of a copy, see docs/benchmarks.md). Mutating it throws a `TypeError` (in strict
   * code; sloppy code silently keeps the value unchanged), and it is the same object on every call. Values holding a
   * `Map`, `Set`, `Date` or binary data cannot be frozen and are still copied per call.
   * @default false
   */
  frozen?: boolean;
  /**
   * The clock, in epoch milliseconds; tests inject one to control expiry.
   * @default a monotonic clock (`performance.timeOrigin + performance.now()`, whole ms): a step of the system
   * clock neither keeps an entry longer nor expires it early
   */
  now?: () => number;
}

const DEFAULTS = {
  maxEntries: 10_000,
  maxBytes: undefined,
  namespace: undefined,
  codec: defaultCodec,
  frozen: false,
  now: monotonicNow,
} as const satisfies Required<{ [K in keyof MemoryCacheAdapterOptions]: unknown }>;

const OPTION_NAMES: ReadonlySet<string> = new Set(Object.keys(DEFAULTS));

interface Entry {
  readonly text: string;
  /** Epoch ms after which the entry is gone (alive while `now <= expiresAt`, as Redis decides); Infinity: never. */
  readonly expiresAt: number;
  /**
   * Once read: with `frozen`, the decoded value, deep-frozen and shared; otherwise (see `#copies`) the decoded value
   * as a private template that reads copy. {@link UNSHAREABLE} when the value allows neither.
   */
  decoded?: unknown;
}

/** Marks an entry whose value can be neither frozen nor copied from a template (it holds a Map, Set, Date…). */
const UNSHAREABLE: unique symbol = Symbol('unshareable');

/**
 * The default codec tags every value JSON cannot hold with a `"$t"` key (docs/codec.md): a text without this mark
 * decodes to exactly what `JSON.parse` makes of it, a tree {@link cloneJson} copies faithfully.
 */
const TAG_MARK = '$t"';

// lru-cache clears all its arrays (time proportional to `max`) when its last entry is deleted; a sentinel that no
// caller can name (keys are non-empty) keeps it from ever becoming empty through a delete.
const SENTINEL = '';
const SENTINEL_ENTRY: Entry = { text: '', expiresAt: Number.POSITIVE_INFINITY };

/** Expired entries are swept once this many writes with a TTL have happened (or `size`, if larger). */
const SWEEP_EVERY_WRITES = 1024;

/**
 * An in-process LRU {@link ClosableCache} on `lru-cache`, answering every call exactly as the Redis adapter would:
 * the faithful stand-in for Redis in development and tests, and the usual L1 of a `TieredCache`.
 */
export class MemoryCacheAdapter implements ClosableCache, EntryReader, SyncReader, TextWriter {
  /** What this adapter supports. */
  readonly capabilities: CacheCapabilities = { patternDelete: true, ttlPrecision: 'milliseconds' };
  /** The namespace this cache was given. */
  readonly namespace: string;
  readonly #lru: LRUCache<string, Entry>;
  readonly #codec: Codec;
  readonly #now: () => number;
  readonly #maxBytes: number | undefined;
  readonly #frozen: boolean;
  /** Whether a read copies a private decoded template instead of decoding the text again (see the constructor). */
  readonly #copies: boolean;
  #ttlWrites = 0;
  #sweepAfter = SWEEP_EVERY_WRITES;
  /** No entry expires before this (epoch ms): a sweep before it would find nothing, and is skipped. */
  #earliestExpiry = Number.POSITIVE_INFINITY;
  #closed = false;

  /**
   * @throws {TypeError} for an unknown option or one of the wrong type.
   * @throws {RangeError} for an option out of range (a size, a time, a namespace with `:`).
   */
  constructor(options: MemoryCacheAdapterOptions = {}) {
    assertOptionNames('MemoryCacheAdapter', options, OPTION_NAMES);
    const merged = { ...DEFAULTS, ...options };
    this.namespace = resolveNamespace(merged.namespace);
    const maxEntries = positiveIntegerOption('maxEntries', merged.maxEntries);
    this.#maxBytes =
      merged.maxBytes === undefined ? undefined : positiveIntegerOption('maxBytes', merged.maxBytes);
    if (typeof merged.now !== 'function')
      throw new TypeError('now must be a function returning epoch milliseconds');
    if (typeof merged.codec?.encode !== 'function' || typeof merged.codec.decode !== 'function') {
      throw new TypeError('codec must have encode() and decode()');
    }
    if (typeof merged.frozen !== 'boolean') throw new TypeError('frozen must be a boolean');
    this.#frozen = merged.frozen;
    this.#codec = merged.codec;
    // Copying a decoded template is several times cheaper than decoding, and gives exactly what decoding gives for
    // the default codec's plain-JSON texts. The template costs memory besides the text, which `maxBytes` does not
    // count: a byte-bounded cache decodes every read instead, so that its bound also bounds its heap.
    this.#copies =
      !this.#frozen && this.#maxBytes === undefined && this.#codec.decode === defaultCodec.decode;
    this.#now = merged.now;
    this.#lru = new LRUCache<string, Entry>({
      max: maxEntries + 1,
      ...(this.#maxBytes === undefined
        ? {}
        : {
            maxSize: this.#maxBytes + 1,
            sizeCalculation: (entry: Entry, key: string) => entrySize(key, entry),
          }),
    });
    this.#lru.set(SENTINEL, SENTINEL_ENTRY);
  }

  /** How values are encoded. */
  get codec(): Codec {
    return this.#codec;
  }

  /**
   * Stores `text`, as this cache's codec encoded a value, under `key` for `ttlMs` ms (none: no expiry): how a tier
   * above a cache with the same codec takes a value without encoding it again.
   */
  setText(key: string, text: string, ttlMs: number | undefined): void {
    assertKey(key);
    if (ttlMs !== undefined && !(Number.isSafeInteger(ttlMs) && ttlMs > 0))
      throw new CacheValidationError('ttl', `ttlMs must be a positive integer, got ${String(ttlMs)}`);
    if (typeof text !== 'string') throw new CacheValidationError('value', 'text must be a string');
    if (this.#closed) throw closedError('setText');
    this.#write(key, this.#checkSize(key, text), ttlMs);
  }

  /** Reads `key`: a fresh copy of its value (with `frozen`, the shared frozen one), or `undefined`. */
  async get<T = unknown>(key: string): Promise<T | undefined> {
    return this.getSync<T>(key);
  }

  /** What `get(key)` would resolve to, synchronously. */
  getSync<T = unknown>(key: string): T | undefined {
    assertKey(key);
    if (this.#closed) throw closedError('get');
    const entry = this.#live(key);
    return entry === undefined ? undefined : (this.#value(entry) as T);
  }

  /** Reads `key` with its remaining TTL in ms (`undefined`: no expiry); `undefined` when absent or expired. */
  async getEntry<T = unknown>(key: string): Promise<CacheEntry<T> | undefined> {
    assertKey(key);
    if (this.#closed) throw closedError('getEntry');
    const entry = this.#live(key);
    return entry === undefined ? undefined : this.#toCacheEntry<T>(entry);
  }

  /** Reads many keys with their remaining TTLs: the present ones, in request order, each once. */
  async getManyEntries<T = unknown>(keys: readonly string[]): Promise<Map<string, CacheEntry<T>>> {
    assertKeys(keys);
    if (this.#closed) throw closedError('getManyEntries');
    const found = new Map<string, CacheEntry<T>>();
    for (const key of keys) {
      if (found.has(key)) continue;
      const entry = this.#live(key);
      if (entry !== undefined) found.set(key, this.#toCacheEntry<T>(entry));
    }
    return found;
  }

  /** Stores `value` under `key` for `ttl` seconds. */
  async set(key: string, value: unknown, ttl?: number | null): Promise<void> {
    assertKey(key);
    const ttlMs = ttlToMs(ttl);
    if (this.#closed) throw closedError('set');
    this.#write(key, this.#encode(key, value), ttlMs);
  }

  /** Removes `key`. */
  async delete(key: string): Promise<void> {
    assertKey(key);
    if (this.#closed) throw closedError('delete');
    this.#remove(key);
  }

  /** True when `key` is present and not expired. */
  async exists(key: string): Promise<boolean> {
    assertKey(key);
    if (this.#closed) throw closedError('exists');
    return this.#live(key) !== undefined;
  }

  /** Reads many keys: the present ones, in request order, each once. */
  async getMany<T = unknown>(keys: readonly string[]): Promise<Map<string, T>> {
    assertKeys(keys);
    if (this.#closed) throw closedError('getMany');
    const found = new Map<string, T>();
    for (const key of keys) {
      if (found.has(key)) continue;
      const entry = this.#live(key);
      if (entry !== undefined) found.set(key, this.#value(entry) as T);
    }
    return found;
  }

  /** Stores every item for `ttl` seconds; nothing is written unless every key and value is valid. */
  async setMany(items: CacheItems, ttl?: number | null): Promise<void> {
    const entries = toItemEntries(items);
    const ttlMs = ttlToMs(ttl);
    if (this.#closed) throw closedError('setMany');
    const encoded = entries.map(([key, value]) => this.#encode(key, value));
    for (let i = 0; i < entries.length; i++) this.#write(entries[i]![0], encoded[i]!, ttlMs);
  }

  /** Deletes the keys matching the Redis glob `pattern`; resolves to how many were deleted. */
  async deletePattern(pattern: string): Promise<number> {
    assertPattern(pattern);
    if (this.#closed) throw closedError('deletePattern');
    const matches = compileGlob(pattern);
    const now = this.#now();
    const doomed: string[] = [];
    for (const [key, entry] of this.#lru.entries()) {
      if (key !== SENTINEL && now <= entry.expiresAt && matches(key)) doomed.push(key);
    }
    for (const key of doomed) this.#remove(key);
    return doomed.length;
  }

  /** Remaining TTL of `key` in whole seconds rounded up; `undefined` when absent or without expiry. */
  async ttl(key: string): Promise<number | undefined> {
    assertKey(key);
    if (this.#closed) throw closedError('ttl');
    const entry = this.#live(key);
    if (entry === undefined || entry.expiresAt === Number.POSITIVE_INFINITY) return undefined;
    return msToTtlSeconds(entry.expiresAt - this.#now());
  }

  /** Deletes every key of this cache. */
  async clear(): Promise<void> {
    if (this.#closed) throw closedError('clear');
    this.#lru.clear();
    this.#lru.set(SENTINEL, SENTINEL_ENTRY);
    this.#earliestExpiry = Number.POSITIVE_INFINITY;
  }

  /** How many entries are held, expired ones not yet swept included. */
  get size(): number {
    return this.#lru.size - (this.#lru.has(SENTINEL) ? 1 : 0);
  }

  /** How many bytes are held (as counted for `maxBytes`); 0 without a byte limit. */
  get bytes(): number {
    return this.#maxBytes === undefined
      ? 0
      : Math.max(0, this.#lru.calculatedSize - (this.#lru.has(SENTINEL) ? 1 : 0));
  }

  /** Drops every entry; later calls reject with `CacheUnavailableError` (code `CACHE_CLOSED`). */
  async close(): Promise<void> {
    this.#closed = true;
    this.#lru.clear();
  }

  /** Same as {@link MemoryCacheAdapter.close}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #live(key: string): Entry | undefined {
    const entry = this.#lru.get(key);
    if (entry === undefined || this.#now() <= entry.expiresAt) return entry;
    this.#remove(key);
    return undefined;
  }

  #toCacheEntry<T>(entry: Entry): CacheEntry<T> {
    const ttlMs = entry.expiresAt === Number.POSITIVE_INFINITY ? undefined : entry.expiresAt - this.#now();
    return { value: this.#value(entry) as T, ttlMs, text: entry.text };
  }

  /**
   * The value of `entry`: a fresh copy (decoded, or copied from the entry's decoded template), or with `frozen` the
   * shared frozen one when the value can be frozen.
   */
  #value(entry: Entry): unknown {
    const decoded = entry.decoded;
    if (decoded === undefined) return this.#firstValue(entry);
    if (decoded === UNSHAREABLE) return this.#codec.decode(entry.text);
    if (this.#frozen) return decoded;
    try {
      return cloneJson(decoded);
    } catch {
      // Nested deeper than copying can go (JSON.parse has no such limit).
      return this.#codec.decode(entry.text);
    }
  }

  /** The value of an entry never read before, keeping what later reads of it use. */
  #firstValue(entry: Entry): unknown {
    if (!this.#frozen && !this.#copies) return this.#codec.decode(entry.text);
    const value = this.#codec.decode(entry.text);
    if (this.#frozen) {
      entry.decoded = freezeDeep(value) ? value : UNSHAREABLE;
      return entry.decoded === UNSHAREABLE ? this.#codec.decode(entry.text) : value;
    }
    if (entry.text.includes(TAG_MARK)) {
      entry.decoded = UNSHAREABLE;
      return value;
    }
    // The decoded value becomes the template, never handed out; the caller gets a copy.
    entry.decoded = value;
    return this.#value(entry);
  }

  #encode(key: string, value: unknown): string {
    return this.#checkSize(key, encodeFor(this.#codec, key, value));
  }

  /** `text`, unless with its key it is larger than `maxBytes`. */
  #checkSize(key: string, text: string): string {
    if (this.#maxBytes !== undefined && entrySize(key, { text, expiresAt: 0 }) > this.#maxBytes) {
      throw new CacheValidationError(
        'value',
        `key ${JSON.stringify(key)} with its encoded value is larger than maxBytes (${this.#maxBytes})`,
        'CACHE_VALUE_TOO_LARGE',
      );
    }
    return text;
  }

  #write(key: string, text: string, ttlMs: number | undefined): void {
    const expiresAt = ttlMs === undefined ? Number.POSITIVE_INFINITY : this.#now() + ttlMs;
    if (expiresAt < this.#earliestExpiry) this.#earliestExpiry = expiresAt;
    this.#lru.set(key, { text, expiresAt });
    // The sentinel is evicted like any entry once the cache is full; putting it back evicts one more real entry,
    // which keeps real entries within maxEntries and maxBytes (the LRU itself is one slot and one byte larger).
    if (!this.#lru.has(SENTINEL)) this.#lru.set(SENTINEL, SENTINEL_ENTRY);
    if (ttlMs !== undefined && ++this.#ttlWrites >= this.#sweepAfter) this.#sweep();
  }

  #remove(key: string): void {
    if (this.#lru.size === 1) this.#lru.set(SENTINEL, SENTINEL_ENTRY);
    this.#lru.delete(key);
  }

  /**
   * Deletes expired entries. It runs after as many TTL writes as there were entries after the last sweep (at
   * least 1024), so its O(size) cost is amortized O(1) per write and expired entries never accumulate; and not at
   * all while no entry can have expired yet (long TTLs): walking every entry is the costly part.
   */
  #sweep(): void {
    this.#ttlWrites = 0;
    this.#sweepAfter = Math.max(SWEEP_EVERY_WRITES, this.#lru.size);
    const now = this.#now();
    if (now <= this.#earliestExpiry) return;
    const expired: string[] = [];
    let earliest = Number.POSITIVE_INFINITY;
    for (const [key, entry] of this.#lru.entries()) {
      if (now > entry.expiresAt) expired.push(key);
      else if (entry.expiresAt < earliest) earliest = entry.expiresAt;
    }
    for (const key of expired) this.#remove(key);
    this.#earliestExpiry = earliest;
    this.#sweepAfter = Math.max(SWEEP_EVERY_WRITES, this.#lru.size);
  }
}

/** Deep-freezes plain objects and arrays; false (leaving it partly frozen) when `value` holds anything else. */
function freezeDeep(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return true;
  if (Array.isArray(value)) {
    for (const item of value) if (!freezeDeep(item)) return false;
  } else {
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) return false;
    for (const item of Object.values(value)) if (!freezeDeep(item)) return false;
  }
  Object.freeze(value);
  return true;
}

/** Epoch milliseconds from the monotonic clock: the wall clock's value at start, advanced by elapsed time only. */
function monotonicNow(): number {
  return Math.floor(performance.timeOrigin + performance.now());
}

function entrySize(key: string, entry: Entry): number {
  return key === SENTINEL ? 1 : Buffer.byteLength(key) + Buffer.byteLength(entry.text);
}
