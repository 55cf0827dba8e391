import {
  assertKey,
  assertKeys,
  assertPattern,
  type CacheCapabilities,
  type CacheItems,
  CacheValidationError,
  type ClosableCache,
  checkedTags,
  resolveSetOptions,
  type SetOptions,
  StoreCache,
  toItemEntries,
  UnsupportedOperationError,
} from '@strata-cache/core';
import { closedError } from '@strata-cache/core/internal';
import { Coherence } from './coherence.js';
import { ReadThrough } from './get-or-set.js';
import {
  defaultGetOrSet,
  type GetOrSetOptions,
  type Loader,
  type ResolvedGetOrSet,
  resolveGetOrSet,
} from './get-or-set-options.js';
import { GlobalWrite } from './global-write.js';
import { Leases } from './lease.js';
import { LeaseClaims } from './lease-claims.js';
import { Observer } from './observer.js';
import { ReadPath } from './read-path.js';
import { TierSet } from './tier-set.js';
import type { TieredCacheEvents, TieredCacheStats } from './tiered-events.js';
import { resolveTieredOptions, type TieredCacheOptions } from './tiered-options.js';
import { WritePath } from './write-path.js';

/** A listener of a {@link TieredCache} event. */
export type TieredListener<K extends keyof TieredCacheEvents> = (...args: TieredCacheEvents[K]) => void;

/**
 * A `CacheProtocol` over several tiers, usually an in-process L1 over Redis, kept coherent across
 * processes by invalidations over a bus. Reads go down until a hit and fill the tiers above (never longer than
 * the lower entry lives, nor than `maxTtl`); writes go to the last tier first, then up; every change is
 * broadcast, and a fill that raced with any change is refused. While the bus cannot hear other instances, the tiers
 * above the last are not used.
 */
export class TieredCache implements ClosableCache {
  /** What this cache supports: what its last tier supports. */
  readonly capabilities: CacheCapabilities;
  readonly #set: TierSet;
  readonly #observer: Observer;
  readonly #coherence: Coherence;
  readonly #reads: ReadPath;
  readonly #writes: WritePath;
  readonly #global: GlobalWrite;
  readonly #readThrough: ReadThrough;
  /** Aborted on close: loaders' signals and lease waits end. */
  readonly #closing = new AbortController();
  readonly #defaultTtl: number | null;
  /** `getOrSet`'s options when a call gives none. */
  readonly #defaultGetOrSet: ResolvedGetOrSet;
  #closed = false;

  /**
   * @throws {TypeError} for an unknown option or one of the wrong type, or a bus that already serves a cache.
   * @throws {RangeError} for an option out of range (a size, a time, a namespace with `:`).
   */
  constructor(options: TieredCacheOptions) {
    const resolved = resolveTieredOptions(options);
    this.#defaultTtl = resolved.defaultTtl;
    this.#defaultGetOrSet = defaultGetOrSet(this.#defaultTtl);
    this.#observer = new Observer(resolved.tiers.length);
    this.#set = new TierSet(resolved.tiers, this.#observer, resolved.set);
    const last = this.#set.last.cache;
    this.capabilities =
      last instanceof StoreCache
        ? last.capabilities
        : ((last as { capabilities?: CacheCapabilities }).capabilities ?? {
            patternDelete: true,
            ttlPrecision: 'milliseconds',
          });
    this.#coherence = new Coherence(this.#set, resolved.bus);
    this.#reads = new ReadPath(this.#set);
    this.#writes = new WritePath(this.#set, this.#coherence);
    this.#global = new GlobalWrite(this.#set, this.#coherence);
    const coherence = this.#coherence;
    const claims = new LeaseClaims(this.#set, new Leases(this.#set, coherence), () => coherence.listening);
    this.#readThrough = new ReadThrough(this.#set, this.#writes, claims, this.#closing);
  }

  /**
   * Resolves once the bus subscription is live (at once without a bus); until then upper tiers are neither read
   * nor filled.
   * @throws {CacheUnavailableError} when subscribing failed (the cause attached): the cache then goes on serving
   * from its last tier only, since it cannot hear other instances; or when it was closed first.
   */
  ready(): Promise<void> {
    return this.#coherence.ready;
  }

  /** Reads `key` from the first tier that has it, filling the tiers above. */
  get<T = unknown>(key: string): Promise<T | undefined> {
    try {
      assertKey(key);
      this.#open('get');
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#reads.get<T>(key);
  }

  /**
   * Writes the last tier, publishes the change, then fills the tiers above (unless the key changed meanwhile). The
   * value is encoded once: the same text goes to every tier sharing the last tier's codec.
   */
  async set(key: string, value: unknown, ttlOrOptions?: number | null | SetOptions): Promise<void> {
    assertKey(key);
    const options = resolveSetOptions(ttlOrOptions);
    this.#open('set');
    await this.#writes.set(key, value, options);
    this.#observer.counts.sets++;
    this.#observer.emitter.emit('set', { keys: [key] });
  }

  /**
   * Reads `key` like `get`; on a miss, calls `loader` once for every concurrent caller (in this instance, and with
   * the last tier's lease across instances), caches what it returns for `ttl` (if no write of the key happened in any
   * instance since it started) and answers it. `undefined` from the loader is answered and not cached; `null` is
   * cached. See the read-through guide for grace, timeouts, refresh ahead and leases.
   * @throws {CacheValidationError} for a bad key, loader or option; {CacheLoaderTimeoutError} after
   * `hardTimeoutMs` without a stale value; whatever the loader threw (the same error for every caller of the run).
   */
  getOrSet<T>(key: string, loader: Loader<T>, options?: GetOrSetOptions): Promise<T | undefined> {
    let resolved: ResolvedGetOrSet;
    try {
      assertKey(key);
      if (typeof loader !== 'function') throw new CacheValidationError('loader', 'expected a function');
      resolved =
        options === undefined ? this.#defaultGetOrSet : resolveGetOrSet(options, this.#defaultGetOrSet);
      this.#open('getOrSet');
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#readThrough.getOrSet(key, loader, resolved);
  }

  /** Deletes `key` from every tier and publishes it. */
  async delete(key: string): Promise<void> {
    assertKey(key);
    this.#open('delete');
    await this.#writes.delete(key);
    this.#observer.counts.deletes++;
    this.#observer.emitter.emit('delete', { keys: [key] });
  }

  /** Deletes `keys` from every tier (one call to the last tier) and publishes them; resolves to how many it held. */
  async deleteMany(keys: readonly string[]): Promise<number> {
    assertKeys(keys);
    this.#open('deleteMany');
    if (keys.length === 0) return 0;
    const unique = keys.length === 1 ? keys : [...new Set(keys)];
    const deleted = await this.#writes.deleteMany(unique);
    this.#observer.counts.deletes += unique.length;
    this.#observer.emitter.emit('delete', { keys: unique });
    return deleted;
  }

  /**
   * Invalidates every value written with any of `tags` before this call, in every tier and (once the bus delivers
   * it) every instance: the tags' versions are raised in the last tier and published. Its cost does not depend on
   * how many values carry the tags.
   */
  async invalidateTags(tags: readonly string[]): Promise<void> {
    const checked = checkedTags(tags);
    this.#open('invalidateTags');
    if (checked.length > 0) await this.#global.invalidateTags(checked);
  }

  /** True when any tier holds `key`. */
  async exists(key: string): Promise<boolean> {
    assertKey(key);
    this.#open('exists');
    return this.#reads.exists(key);
  }

  /** Reads many keys: each tier is asked once, only for what the tiers above it missed. */
  async getMany<T = unknown>(keys: readonly string[]): Promise<Map<string, T>> {
    assertKeys(keys);
    this.#open('getMany');
    return keys.length === 0 ? new Map() : this.#reads.getMany<T>(keys);
  }

  /** Writes every item to the last tier (validated and encoded first), publishes them, then fills the tiers above. */
  async setMany(items: CacheItems, ttlOrOptions?: number | null | SetOptions): Promise<void> {
    const entries = toItemEntries(items);
    const options = resolveSetOptions(ttlOrOptions);
    this.#open('setMany');
    if (entries.length === 0) return;
    await this.#writes.setMany(entries, options);
    this.#observer.counts.sets += entries.length;
    this.#observer.emitter.emit('set', { keys: entries.map(([k]) => k) });
  }

  /** Deletes matching keys in every tier (the count is the last tier's) and publishes the pattern. */
  async deletePattern(pattern: string): Promise<number> {
    assertPattern(pattern);
    this.#open('deletePattern');
    const count = await this.#global.deletePattern(pattern);
    this.#observer.emitter.emit('delete', { pattern });
    return count;
  }

  /** Remaining TTL of `key`, from the last (authoritative) tier. */
  async ttl(key: string): Promise<number | undefined> {
    assertKey(key);
    this.#open('ttl');
    const last = this.#set.last;
    return this.#set.lowerRead(last, 'ttl', () => last.cache.ttl(key));
  }

  /** Empties every tier (each only within its namespace) and publishes it. */
  async clear(): Promise<void> {
    this.#open('clear');
    await this.#global.clear();
    this.#observer.emitter.emit('delete', { all: true });
  }

  /** The live keys matching the Redis glob `pattern` (every key by default), from the last tier, each once. */
  async *keys(pattern = '*'): AsyncGenerator<string> {
    assertPattern(pattern);
    this.#open('keys');
    const last = this.#set.last.cache;
    if (!(last instanceof StoreCache)) throw new UnsupportedOperationError('keys', 'this last tier');
    yield* last.keys(pattern);
  }

  /** Counters since creation. */
  stats(): TieredCacheStats {
    return this.#observer.stats(this.#set.fence.rejections);
  }

  /** Listens for `event`. */
  on<K extends keyof TieredCacheEvents>(event: K, listener: TieredListener<K>): this {
    this.#observer.emitter.on(event, listener as never);
    return this;
  }

  /** Listens for the next `event` only. */
  once<K extends keyof TieredCacheEvents>(event: K, listener: TieredListener<K>): this {
    this.#observer.emitter.once(event, listener as never);
    return this;
  }

  /** Stops listening for `event` with `listener`. */
  off<K extends keyof TieredCacheEvents>(event: K, listener: TieredListener<K>): this {
    this.#observer.emitter.off(event, listener as never);
    return this;
  }

  /** How many listeners `event` has. */
  listenerCount(event: keyof TieredCacheEvents): number {
    return this.#observer.emitter.listenerCount(event);
  }

  /** Unsubscribes from the bus; the tiers and the bus are yours to close (this cache did not open them). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#closing.abort(closedError('getOrSet'));
    this.#readThrough.close();
    this.#coherence.close();
    this.#set.abort((operation) => closedError(operation));
    this.#observer.emitter.removeAllListeners();
  }

  /** Same as {@link TieredCache.close}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #open(operation: string): void {
    if (this.#closed) throw closedError(operation);
  }
}
