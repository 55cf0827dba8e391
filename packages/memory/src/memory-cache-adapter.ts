import { type Codec, defaultCodec, resolveNamespace, StoreCache } from '@strata-cache/core';
import { assertOptionNames, monotonicNow, positiveIntegerOption } from '@strata-cache/core/internal';
import { MemoryStore } from './memory-store.js';

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

/**
 * An in-process LRU cache on `lru-cache` ({@link MemoryStore}), answering every call exactly as the Redis adapter
 * would: the faithful stand-in for Redis in development and tests, and the usual L1 of a `TieredCache`.
 */
export class MemoryCacheAdapter extends StoreCache {
  /** The namespace this cache was given. */
  readonly namespace: string;
  declare readonly store: MemoryStore;

  /**
   * @throws {TypeError} for an unknown option or one of the wrong type.
   * @throws {RangeError} for an option out of range (a size, a time, a namespace with `:`).
   */
  constructor(options: MemoryCacheAdapterOptions = {}) {
    assertOptionNames('MemoryCacheAdapter', options, OPTION_NAMES);
    const merged = { ...DEFAULTS, ...options };
    const namespace = resolveNamespace(merged.namespace);
    const maxEntries = positiveIntegerOption('maxEntries', merged.maxEntries);
    const maxBytes =
      merged.maxBytes === undefined ? undefined : positiveIntegerOption('maxBytes', merged.maxBytes);
    if (typeof merged.now !== 'function')
      throw new TypeError('now must be a function returning epoch milliseconds');
    if (typeof merged.frozen !== 'boolean') throw new TypeError('frozen must be a boolean');
    // Copying a decoded template is several times cheaper than decoding. The template costs memory besides the text,
    // which `maxBytes` does not count: a byte-bounded cache decodes every read instead, so that its bound also bounds
    // its heap.
    const reading = merged.frozen ? 'frozen' : maxBytes === undefined ? 'copy' : 'decode';
    super(new MemoryStore({ maxEntries, maxBytes, now: merged.now }), { codec: merged.codec, reading });
    this.namespace = namespace;
  }

  /** How many entries are held, expired ones not yet swept included. */
  get size(): number {
    return this.store.size;
  }

  /** How many bytes are held (as counted for `maxBytes`); 0 without a byte limit. */
  get bytes(): number {
    return this.store.bytes;
  }
}
