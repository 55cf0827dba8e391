import type { InvalidationBus } from './bus/bus.js';
import type { Entry, EntryWrite } from './entry.js';

/** A value, or a promise of it: an in-process store answers at once, a remote one later. */
export type MaybePromise<T> = T | Promise<T>;

/** Options of a store's writes. */
export interface StoreWriteOptions {
  /**
   * Announce the change on this bus, one the store announces its writes on (see {@link CacheStore.announcesOn}), in
   * the same step as the write itself (one command, one transaction): no other instance hears of it before it took
   * effect, and none misses it if it did. Ignored for a bus the store does not announce on.
   */
  readonly announce?: InvalidationBus | undefined;
}

/**
 * The backend of a cache: entries in and out by key, under a namespace the store applies itself. It is all a new
 * backend implements; validation, the codec, TTL conversion and every law of the cache live once in core
 * (`StoreCache`), and `@strata-cache/core/testing` checks a store's own laws (`describeCacheStore`).
 *
 * Keys are non-empty, well-formed strings, already validated; patterns are Redis globs matched against them with
 * Redis's byte semantics (`compileGlob` does it in process). Failures reject with `CacheUnavailableError` (or, for
 * stored data the store cannot read, `SerializationError`).
 */
export interface CacheStore {
  /**
   * The store's clock, in epoch milliseconds: what the times of the entries it returns are measured in. An in-process
   * store reads its own clock (monotonic). A remote one either answers with its server's time, or (as the Redis store
   * does) converts the server's times into this process's monotonic clock as it reads them, each bounded so that a
   * remaining time computed against `now()` never outlives the entry on the server.
   */
  now(): number;
  /** The live entry under `key`, or `undefined` (absent or expired). May answer synchronously. */
  get(key: string): MaybePromise<Entry | undefined>;
  /** The live entries under distinct `keys`, by position. */
  getMany(keys: readonly string[]): Promise<Array<Entry | undefined>>;
  /** Writes `entry` under `key`, replacing whatever was there (and its expiry). May complete synchronously. */
  set(key: string, entry: EntryWrite, options?: StoreWriteOptions): MaybePromise<void>;
  /** Writes every entry (distinct keys), as `set` would each. */
  setMany(
    entries: ReadonlyArray<readonly [key: string, entry: EntryWrite]>,
    options?: StoreWriteOptions,
  ): Promise<void>;
  /**
   * Writes `entry` (or, when `null`, deletes the key) only if the key's live entry has the version stamp `expected`
   * (`null`: only if there is no live entry), atomically; resolves to whether it wrote.
   */
  compareAndSet(
    key: string,
    expected: string | null,
    entry: EntryWrite | null,
    options?: StoreWriteOptions,
  ): Promise<boolean>;
  /**
   * The current version of each of the distinct `tags`, in order: a counter the store keeps per tag in its namespace
   * (see `bumpTags`), never lowered. May answer synchronously.
   */
  tagVersions(tags: readonly string[]): MaybePromise<number[]>;
  /**
   * Raises the version of each of the distinct `tags` (each atomically; its cost does not depend on how many entries
   * carry the tag); resolves to the new versions, in order. An entry written with an older version of one of its tags
   * is no longer valid.
   */
  bumpTags(tags: readonly string[]): Promise<number[]>;
  /** Removes distinct `keys`; resolves to how many of them held a live entry. May complete synchronously. */
  delete(keys: readonly string[], options?: StoreWriteOptions): MaybePromise<number>;
  /**
   * Deletes every entry of the store's namespace, and nothing outside it (a backend that can, at once; others walk
   * and delete, as `deleteMatching` does).
   */
  clear(): MaybePromise<void>;
  /**
   * The live keys matching the Redis glob `pattern`, in batches as the backend walks them (each key at least once; a
   * walk may return one twice). Each step of the walk is bounded in time, never the walk as a whole.
   */
  scan(pattern: string): AsyncIterable<readonly string[]>;
  /**
   * Whether this store can announce its own writes on `bus` (see {@link StoreWriteOptions.announce}): a backend that
   * is also the bus's transport (a Redis bus built on the adapter, a PostgreSQL NOTIFY in the writing transaction).
   */
  announcesOn(bus: InvalidationBus): boolean;
  /**
   * The longest any call but `setMany` and `scan`'s walk as a whole takes before it settles, in ms, rejections
   * included (a remote store bounds its own calls); `undefined`: no bound, the caller bounds it.
   */
  readonly callBoundMs: number | undefined;
  /** Releases what the store opened (never a client it was given). */
  close(): Promise<void>;
}
