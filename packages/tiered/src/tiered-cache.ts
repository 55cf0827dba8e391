import {
  assertKey,
  assertKeys,
  assertOptionNames,
  assertPattern,
  type BusListener,
  type BusMessage,
  type BusResetReason,
  type BusSuspendReason,
  busInUseError,
  type CacheCapabilities,
  type CacheEntry,
  CacheError,
  type CacheItems,
  type CacheProtocol,
  CacheUnavailableError,
  type ClosableCache,
  callBoundMs,
  closedError,
  compileGlob,
  DeadlineSweeper,
  type EncodedWriter,
  type EntryReader,
  encodeFor,
  type Invalidation,
  type InvalidationBus,
  isOrderedBus,
  type OrderedBus,
  readsEntries,
  readsSync,
  type SyncReader,
  type TextWriter,
  toItemEntries,
  ttlToMs,
  writesEncoded,
  writesText,
} from '@strata-cache/core';
import { EventEmitter } from 'eventemitter3';
import { FillFence } from './fill-fence.js';
import type { TieredCacheEvents, TieredCacheStats } from './tiered-events.js';
import { positiveSecondsToMs, readEntries, readEntry, type Tier, type TierOptions, toTier } from './tiers.js';

/** Options of {@link TieredCache}. */
export interface TieredCacheOptions {
  /** At least two tiers, top first (usually `[memory, redis]`); the last one is authoritative. */
  tiers: ReadonlyArray<CacheProtocol | TierOptions>;
  /** Carries invalidations between instances; omit it for a single process. */
  bus?: InvalidationBus;
  /**
   * The longest an entry lives in a tier above the last, in seconds: staleness is bounded by it even if every
   * invalidation is lost.
   * @default 60
   */
  maxTtl?: number;
  /**
   * Calls to the tiers below the top reject with `CacheUnavailableError` after this many ms.
   * @default 2000 (the Redis adapter's own `commandTimeoutMs`, default 1000, usually answers first)
   */
  timeoutMs?: number;
  /**
   * When a tier below the top fails on a read: `'degrade'` answers as a miss and emits `error`; `'throw'`
   * rejects. Writes always reject.
   * @default 'degrade'
   */
  onLowerTierError?: 'degrade' | 'throw';
}

const DEFAULTS = { maxTtl: 60, timeoutMs: 2_000, onLowerTierError: 'degrade' } as const;

const OPTION_NAMES: ReadonlySet<string> = new Set(['tiers', 'bus', ...Object.keys(DEFAULTS)]);

/** The buses serving a cache: a cache never hears what another cache publishes through its own bus. */
const BUSES_IN_USE = new WeakSet<InvalidationBus>();

/**
 * A {@link CacheProtocol} over several tiers, usually an in-process L1 over Redis, kept coherent across
 * processes by invalidations over a bus. Reads go down until a hit and fill the tiers above (never longer than
 * the lower entry lives, nor than `maxTtl`); writes go to the last tier first, then up; every change is
 * broadcast, and a fill that raced with any change is refused.
 */
export class TieredCache extends EventEmitter<TieredCacheEvents> implements ClosableCache {
  /** What this cache supports: what its last tier supports. */
  readonly capabilities: CacheCapabilities;
  readonly #tiers: readonly Tier[];
  readonly #upper: readonly Tier[];
  readonly #last: CacheProtocol;
  readonly #top: CacheProtocol;
  /** The top tier, when it answers reads synchronously (the memory adapter does): an L1 hit then takes no await. */
  readonly #syncTop: SyncReader | undefined;
  readonly #bus: InvalidationBus | undefined;
  readonly #deadlines: DeadlineSweeper;
  /** The last tier, when it takes a value already encoded (see `EncodedWriter`): `set` then encodes once. */
  readonly #encodedWriter: EncodedWriter | undefined;
  /** Per tier: the tier when it takes encoded text (see `TextWriter`). */
  readonly #textWriters: ReadonlyArray<TextWriter | undefined>;
  /** Per tier: the codec of the text its entries carry, if it says. */
  readonly #codecs: readonly unknown[];
  /** Per tier: whether it bounds its own calls within `timeoutMs`, so that no time limit of ours is stacked on it. */
  readonly #selfBounded: readonly boolean[];
  /**
   * Per tier: whether it bounds its own calls at all. Its long operations (`setMany`, `deletePattern`, `clear`) are
   * bounded per step by the tier, never as a whole by this cache.
   */
  readonly #stepBounded: readonly boolean[];
  /** Per tier: the tier when it reads entries and bounds its own calls (read directly on the hot path). */
  readonly #directReaders: ReadonlyArray<EntryReader | undefined>;
  /** The bus, once it has paired with the last tier: writes and their invalidations then share a round trip. */
  #ordered: OrderedBus | undefined;
  readonly #degrade: boolean;
  readonly #fence = new FillFence();
  readonly #counts = { misses: 0, sets: 0, deletes: 0, sent: 0, received: 0, resets: 0, errors: 0 };
  readonly #hits: number[];
  readonly #ready: Promise<void>;
  /** Aborted on close: a subscription still being set up is given up. */
  readonly #closing = new AbortController();
  /**
   * Whether upper tiers are read and filled: only while the bus subscription is live (or there is no bus) and no
   * drop of them is under way. Derived from the three fields below by `#update`.
   */
  #upperOpen = false;
  /** The bus subscription was set up and the tiers above dropped since (always, without a bus). */
  #subscribed = false;
  /** The bus said its subscription is not live, and has not said it is again. */
  #busDown = false;
  /** Drops of the upper tiers under way (after a reset). */
  #dropping = 0;
  #unsubscribe: (() => void) | undefined;
  #closed = false;

  /**
   * @throws {TypeError} for an unknown option or one of the wrong type.
   * @throws {RangeError} for an option out of range (a size, a time, a namespace with `:`).
   */
  constructor(options: TieredCacheOptions) {
    super();
    assertOptionNames('TieredCache', options, OPTION_NAMES);
    const merged = { ...DEFAULTS, ...options };
    const defaultMaxTtlMs = positiveSecondsToMs('maxTtl', merged.maxTtl);
    if (!Array.isArray(merged.tiers) || merged.tiers.length < 2)
      throw new TypeError('tiers must list at least two caches');
    this.#tiers = merged.tiers.map((tier, i) => toTier(tier, i, defaultMaxTtlMs));
    this.#upper = this.#tiers.slice(0, -1);
    this.#last = this.#tiers.at(-1)!.cache;
    this.#top = this.#tiers[0]!.cache;
    this.#syncTop = readsSync(this.#top) ? this.#top : undefined;
    if (!['degrade', 'throw'].includes(merged.onLowerTierError))
      throw new RangeError("onLowerTierError must be 'degrade' or 'throw'");
    this.#degrade = merged.onLowerTierError === 'degrade';
    this.#deadlines = new DeadlineSweeper(merged.timeoutMs);
    this.#encodedWriter = writesEncoded(this.#last) ? this.#last : undefined;
    this.#textWriters = this.#tiers.map(({ cache }) => (writesText(cache) ? cache : undefined));
    this.#codecs = this.#tiers.map(({ cache }) => (cache as { codec?: unknown }).codec);
    this.#selfBounded = this.#tiers.map(({ cache }) => (callBoundMs(cache) ?? Infinity) <= merged.timeoutMs);
    this.#stepBounded = this.#tiers.map(({ cache }) => callBoundMs(cache) !== undefined);
    this.#directReaders = this.#tiers.map(({ cache }, i) =>
      this.#selfBounded[i] && readsEntries(cache) ? cache : undefined,
    );
    this.#hits = this.#tiers.map(() => 0);
    this.capabilities = (this.#last as { capabilities?: CacheCapabilities }).capabilities ?? {
      patternDelete: true,
      ttlPrecision: 'milliseconds',
    };
    this.#bus = merged.bus;
    if (this.#bus !== undefined) {
      if (BUSES_IN_USE.has(this.#bus)) throw busInUseError('bus');
      BUSES_IN_USE.add(this.#bus);
      this.#ready = this.#subscribe(this.#bus);
      // Observed here: a cache nobody asks `ready()` of must not report an unhandled rejection.
      this.#ready.catch(() => {});
    } else {
      this.#subscribed = true;
      this.#update();
      this.#ready = Promise.resolve();
    }
  }

  /**
   * Resolves once the bus subscription is live (at once without a bus); until then upper tiers are neither read
   * nor filled.
   * @throws {CacheUnavailableError} when subscribing failed (the cause attached): the cache then goes on serving
   * from its last tier only, since it cannot hear other instances; or when it was closed first.
   */
  ready(): Promise<void> {
    return this.#ready;
  }

  /** Reads `key` from the first tier that has it, filling the tiers above. */
  async get<T = unknown>(key: string): Promise<T | undefined> {
    // A top tier that reads synchronously validates the key itself and answers an L1 hit without an await.
    const sync = this.#syncTop !== undefined && this.#upperOpen && !this.#closed;
    if (!sync) {
      assertKey(key);
      this.#open('get');
    }
    if (this.#upperOpen) {
      let value: T | undefined;
      try {
        value = sync ? this.#syncTop!.getSync<T>(key) : await this.#top.get<T>(key);
      } catch (error) {
        this.#upperFailed('get', error, 0);
        assertKey(key);
      }
      if (value !== undefined) {
        this.#hit(key, 0);
        return value;
      }
    }
    return this.#readBelow<T>(key);
  }

  /**
   * Writes the last tier, publishes the change, then fills the tiers above (unless the key changed meanwhile). The
   * value is encoded once when the last tier takes encoded text: the same text goes to every tier sharing its codec.
   */
  async set(key: string, value: unknown, ttl?: number | null): Promise<void> {
    assertKey(key);
    const ttlMs = ttlToMs(ttl);
    this.#open('set');
    const writer = this.#encodedWriter;
    if (writer !== undefined) {
      const { codec } = writer;
      const text = encodeFor(codec, key, value);
      const encoded = { text, codec };
      await this.#write('set', [key], () => writer.setEncoded(key, text, ttl), {
        values: [value],
        ttlMs,
        encoded,
      });
    } else {
      await this.#write('set', [key], () => this.#last.set(key, value, ttl), { values: [value], ttlMs });
    }
    this.#counts.sets++;
    this.emit('set', { keys: [key] });
  }

  /** Deletes `key` from every tier and publishes it. */
  async delete(key: string): Promise<void> {
    assertKey(key);
    this.#open('delete');
    await this.#write('delete', [key], () => this.#last.delete(key), undefined);
    this.#counts.deletes++;
    this.emit('delete', { keys: [key] });
  }

  /** True when any tier holds `key`. */
  async exists(key: string): Promise<boolean> {
    assertKey(key);
    this.#open('exists');
    if (this.#upperOpen) {
      for (const [i, tier] of this.#upper.entries()) {
        if (await this.#upperRead('exists', i, () => tier.cache.exists(key))) return true;
      }
    }
    return (await this.#lowerRead('exists', () => this.#last.exists(key))) ?? false;
  }

  /** Reads many keys: each tier is asked once, only for what the tiers above it missed. */
  async getMany<T = unknown>(keys: readonly string[]): Promise<Map<string, T>> {
    assertKeys(keys);
    this.#open('getMany');
    const unique = [...new Set(keys)];
    const found = new Map<string, T>();
    let missing = unique;
    // How many tiers answered some keys: with one, `found` is already in request order.
    let answering = 0;
    if (this.#upperOpen && missing.length > 0) {
      const top =
        (await this.#upperRead('getMany', 0, () => this.#tiers[0]!.cache.getMany<T>(missing))) ??
        new Map<string, T>();
      for (const [k, v] of top) {
        found.set(k, v);
        this.#hits[0]!++;
      }
      if (top.size > 0) {
        answering++;
        missing = missing.filter((k) => !top.has(k));
      }
    }
    for (let i = 1; i < this.#tiers.length && missing.length > 0; i++) {
      const ticket = this.#fence.begin();
      try {
        const entries = await this.#readEntries<T>(i, missing);
        if (entries.size > 0) answering++;
        for (const [k, entry] of entries) {
          found.set(k, entry.value);
          this.#hits[i]!++;
          this.#fill(k, entry, i, ticket);
        }
        missing = missing.filter((k) => !entries.has(k));
      } finally {
        this.#fence.end(ticket);
      }
    }
    this.#counts.misses += missing.length;
    if (answering <= 1) return found;
    const ordered = new Map<string, T>();
    for (const k of unique) if (found.has(k)) ordered.set(k, found.get(k) as T);
    return ordered;
  }

  /** Writes every item to the last tier (validated first), publishes them, then fills the tiers above. */
  async setMany(items: CacheItems, ttl?: number | null): Promise<void> {
    const entries = toItemEntries(items);
    const ttlMs = ttlToMs(ttl);
    this.#open('setMany');
    if (entries.length === 0) return;
    const keys = entries.map(([k]) => k);
    const values = entries.map(([, v]) => v);
    await this.#write('setMany', keys, () => this.#last.setMany(new Map(entries), ttl), { values, ttlMs });
    this.#counts.sets += keys.length;
    this.emit('set', { keys });
  }

  /** Deletes matching keys in every tier (the count is the last tier's) and publishes the pattern. */
  async deletePattern(pattern: string): Promise<number> {
    assertPattern(pattern);
    this.#open('deletePattern');
    const count = await this.#globalWrite(
      'deletePattern',
      () => this.#last.deletePattern(pattern),
      (tier) => tier.deletePattern(pattern),
      { kind: 'pattern', pattern },
      compileGlob(pattern),
    );
    this.emit('delete', { pattern });
    return count;
  }

  /** Remaining TTL of `key`, from the last (authoritative) tier. */
  async ttl(key: string): Promise<number | undefined> {
    assertKey(key);
    this.#open('ttl');
    return this.#lowerRead('ttl', () => this.#last.ttl(key));
  }

  /** Empties every tier (each only within its namespace) and publishes it. */
  async clear(): Promise<void> {
    this.#open('clear');
    await this.#globalWrite(
      'clear',
      () => this.#last.clear(),
      (tier) => tier.clear(),
      { kind: 'clear' },
      undefined,
    );
    this.emit('delete', { all: true });
  }

  /** Counters since creation. */
  stats(): TieredCacheStats {
    const c = this.#counts;
    return {
      hits: [...this.#hits],
      misses: c.misses,
      sets: c.sets,
      deletes: c.deletes,
      invalidationsSent: c.sent,
      invalidationsReceived: c.received,
      resets: c.resets,
      errors: c.errors,
      fenceRejections: this.#fence.rejections,
    };
  }

  /** Unsubscribes from the bus; the tiers and the bus are yours to close (this cache did not open them). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#update();
    this.#closing.abort(closedError('subscribe'));
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    if (this.#bus !== undefined) BUSES_IN_USE.delete(this.#bus);
    this.#deadlines.abort((operation) => closedError(operation));
    this.removeAllListeners();
  }

  /** Same as {@link TieredCache.close}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #open(operation: string): void {
    if (this.#closed) throw closedError(operation);
  }

  #hit(key: string, tier: number): void {
    this.#hits[tier]!++;
    if (this.#observed) this.emit('hit', { key, tier });
  }

  /** Whether anyone listens for `hit`: building the event object per hit costs on the hot path. */
  get #observed(): boolean {
    return this.listenerCount('hit') > 0;
  }

  #error(operation: string, error: unknown, tier?: number): Error {
    const err = error instanceof Error ? error : new Error(String(error));
    this.#counts.errors++;
    this.emit('error', tier === undefined ? { operation, error: err } : { operation, error: err, tier });
    return err;
  }

  /** An upper tier failing is never fatal: it is a miss plus an `error` event. */
  async #upperRead<R>(operation: string, tier: number, read: () => Promise<R>): Promise<R | undefined> {
    try {
      return await read();
    } catch (error) {
      this.#upperFailed(operation, error, tier);
      return undefined;
    }
  }

  #upperFailed(operation: string, error: unknown, tier: number): void {
    if (error instanceof CacheError && error.code.startsWith('CACHE_INVALID')) throw error;
    this.#error(operation, error, tier);
  }

  /** Reads a lower tier within the time limit; failures degrade to `undefined` (plus `error`) or reject. */
  async #lowerRead<R>(
    operation: string,
    read: () => Promise<R>,
    tier = this.#tiers.length - 1,
  ): Promise<R | undefined> {
    try {
      return await this.#bounded(tier, operation, read);
    } catch (error) {
      return this.#lowerFailed(operation, error, tier);
    }
  }

  /** A read of a lower tier failed: a miss plus an `error` event when degrading, else a rejection. */
  #lowerFailed(operation: string, error: unknown, tier: number): undefined {
    if (error instanceof CacheError && error.code !== 'CACHE_UNAVAILABLE') throw error;
    this.#error(operation, error, tier);
    if (this.#degrade) return undefined;
    throw error;
  }

  /**
   * Runs a call of tier `i` within `timeoutMs`: the tier's own limit if it has one that fits, else ours. A long
   * operation (`setMany`) of a tier that bounds its own steps is not bounded as a whole.
   */
  #bounded<R>(i: number, operation: string, call: () => Promise<R>): Promise<R> {
    const own = operation === 'setMany' ? this.#stepBounded[i] : this.#selfBounded[i];
    return own ? call() : this.#deadlines.run(operation, call);
  }

  async #readBelow<T>(key: string): Promise<T | undefined> {
    const ticket = this.#fence.begin();
    try {
      for (let i = 1; i < this.#tiers.length; i++) {
        const reader = this.#directReaders[i];
        // A tier that reads entries and bounds its own calls is asked directly: one await, not three layers.
        const entry =
          reader !== undefined
            ? await reader.getEntry<T>(key).catch((error: unknown) => this.#lowerFailed('get', error, i))
            : await readEntry<T>(this.#tiers[i]!.cache, key, (operation, read) =>
                this.#lowerRead(operation, read, i),
              );
        if (entry !== undefined) {
          this.#hit(key, i);
          this.#fill(key, entry, i, ticket);
          return entry.value;
        }
      }
    } finally {
      this.#fence.end(ticket);
    }
    this.#counts.misses++;
    this.emit('miss', { key });
    return undefined;
  }

  /** Values with remaining TTLs from tier `i`, within the time limit (see {@link readEntries}). */
  #readEntries<T>(i: number, keys: readonly string[]): Promise<Map<string, CacheEntry<T>>> {
    return readEntries<T>(this.#tiers[i]!.cache, keys, (operation, read) =>
      this.#lowerRead(operation, read, i),
    );
  }

  /** Installs `entry` (read from tier `from`, its TTL as of its reply) in the tiers above it, if the fence allows. */
  #fill(key: string, entry: CacheEntry, from: number, ticket: number): void {
    if (!this.#upperOpen || !this.#fence.mayFill(key, ticket)) return;
    const codec = this.#codecs[from];
    for (let i = 0; i < from; i++) this.#put(i, key, entry.value, entry.ttlMs, entry.text, codec);
  }

  /**
   * Sets `key` in upper tier `i` for at most its maxTtl and `ttlMs` (whole ms, rounded down); synchronous start, so
   * no invalidation slips between. A tier that takes text in `codec`, the codec `text` is in, gets that text: no
   * second encoding.
   */
  #put(
    i: number,
    key: string,
    value: unknown,
    ttlMs: number | undefined,
    text: string | undefined,
    codec: unknown,
  ): void {
    const tier = this.#tiers[i]!;
    const ms = Math.floor(Math.min(ttlMs ?? Number.POSITIVE_INFINITY, tier.maxTtlMs));
    if (ms < 1) return;
    const writer = this.#textWriters[i];
    if (writer !== undefined && text !== undefined && codec === writer.codec) {
      try {
        writer.setText(key, text, ms);
      } catch (error) {
        this.#fillFailed(i, key, error);
      }
      return;
    }
    tier.cache.set(key, value, ms / 1000).catch((error: unknown) => this.#fillFailed(i, key, error));
  }

  #fillFailed(i: number, key: string, error: unknown): void {
    // A value an upper tier cannot hold (too large for its maxBytes) simply is not cached there.
    if (!(error instanceof CacheError && error.code === 'CACHE_VALUE_TOO_LARGE'))
      this.#error('fill', error, i);
    void this.#dropUpper([key]);
  }

  /**
   * A write: drop the keys above, write the last tier, publish, then fill above with what was written (for `set`
   * and `setMany`) if no other change of those keys came in meanwhile. If the last tier fails, its effect is
   * unknown, so nothing is installed above and the call rejects.
   */
  async #write(
    operation: string,
    keys: readonly string[],
    writeLast: () => Promise<void>,
    fill:
      | {
          values: readonly unknown[];
          ttlMs: number | undefined;
          /** For a single key: its value as the last tier's codec encoded it. */
          encoded?: { readonly text: string; readonly codec: unknown };
        }
      | undefined,
  ): Promise<void> {
    const tickets = keys.map((k) => this.#fence.beginWrite(k));
    const invalidation: Invalidation = { kind: 'keys', keys };
    const last = this.#tiers.length - 1;
    // The last tier counts the entry's TTL from when it applies the write, which is after this.
    const startedAt = performance.now();
    try {
      // The upper copies are dropped while the write is sent (an in-process tier drops them at once): either way
      // they are gone before this call returns, and the fence keeps any concurrent fill from restoring them.
      const dropped = this.#dropUpper(keys);
      const written = this.#bounded(last, operation, writeLast);
      // Paired, the invalidation is sent on the write's own connection right behind it: one round trip for both,
      // and still no other instance hears of the write before it took effect.
      const sending = this.#ordered?.publishBehind(this.#last, invalidation);
      // Observed at once (it never rejects): the publish may fail while the write is still pending.
      const behind = sending === undefined ? undefined : this.#published(invalidation, sending);
      try {
        await written;
      } catch (error) {
        if (behind === undefined) this.#publishUnknownEffect(invalidation);
        await dropped;
        throw this.#error(operation, error, last);
      }
      await dropped;
      // Paired, the publish's reply follows the write's on one connection: waiting for it costs nothing. Otherwise the
      // invalidation is sent now, after the write took effect, and the caller does not wait a second round trip
      // for Redis to acknowledge it: a failed publish is an `error` event either way, never the caller's rejection.
      if (behind !== undefined) await behind;
      else void this.#publish(invalidation);
      if (fill === undefined || !this.#upperOpen) return;
      // The last tier counted the TTL from when it applied the write, after `startedAt`: what is left of it now,
      // rounded against us by a millisecond, since both tiers decide expiry to the millisecond.
      const ttlMs =
        fill.ttlMs === undefined ? undefined : fill.ttlMs - Math.ceil(performance.now() - startedAt) - 1;
      for (const [k, key] of keys.entries()) {
        if (!this.#fence.mayFillOwnWrite(key, tickets[k]!)) continue;
        for (let i = 0; i < this.#upper.length; i++)
          this.#put(i, key, fill.values[k], ttlMs, fill.encoded?.text, fill.encoded?.codec);
      }
    } finally {
      for (const [k, key] of keys.entries()) this.#fence.endWrite(key, tickets[k]!);
    }
  }

  /**
   * A `deletePattern` or `clear`: the last tier walks the keyspace, then the invalidation is published; the tiers
   * above drop what it may have deleted, and no key it matches (`matches`; `undefined`: every key) is filled
   * meanwhile. A walk is bounded per step by a tier that bounds its own calls, never as a whole: on a healthy
   * backend it is not cut off however long it takes. A tier that declares no bound gets the cache's time limit on
   * the whole call; if that rejects while the walk goes on, the fence holds and the invalidation is published again
   * once the walk has ended, so that no instance keeps what it deleted.
   */
  async #globalWrite<R>(
    operation: string,
    writeLast: () => Promise<R>,
    writeUpper: (tier: CacheProtocol) => Promise<unknown>,
    invalidation: Invalidation,
    matches: ((key: string) => boolean) | undefined,
  ): Promise<R> {
    const last = this.#tiers.length - 1;
    const ticket = this.#fence.beginGlobalWrite(matches);
    const dropUpper = (): Promise<unknown> =>
      Promise.all(
        this.#upper.map((tier, i) =>
          writeUpper(tier.cache).catch((e: unknown) => this.#error(operation, e, i)),
        ),
      );
    let walking: Promise<R>;
    try {
      walking = writeLast();
    } catch (error) {
      walking = Promise.reject(error);
    }
    let walkEnded = true;
    try {
      const result = await (this.#stepBounded[last]
        ? walking
        : this.#deadlines.run(operation, () => walking));
      await this.#publish(invalidation);
      return result;
    } catch (error) {
      this.#publishUnknownEffect(invalidation);
      walkEnded = this.#stepBounded[last]!;
      throw this.#error(operation, error, last);
    } finally {
      // Whatever the last tier did, the tiers above must not keep what it may have deleted.
      await dropUpper();
      if (walkEnded) this.#fence.endGlobalWrite(ticket);
      else {
        void walking
          .catch(() => {})
          .then(async () => {
            await dropUpper();
            this.#publishUnknownEffect(invalidation);
            this.#fence.endGlobalWrite(ticket);
          });
      }
    }
  }

  /** Deletes `keys` from every upper tier; never rejects (failures are `error` events). */
  #dropUpper(keys: readonly string[]): Promise<unknown> {
    if (this.#upper.length === 1 && keys.length === 1) {
      return this.#upper[0]!.cache.delete(keys[0]!).catch((e: unknown) => this.#error('delete', e, 0));
    }
    return Promise.all(
      this.#upper.flatMap((tier, i) =>
        keys.map((k) => tier.cache.delete(k).catch((e: unknown) => this.#error('delete', e, i))),
      ),
    );
  }

  #publish(invalidation: Invalidation): Promise<void> {
    if (this.#bus === undefined) return Promise.resolve();
    let sending: Promise<void>;
    try {
      sending = this.#bus.publish(invalidation);
    } catch (error) {
      sending = Promise.reject(error);
    }
    return this.#published(invalidation, sending);
  }

  /** Waits for a publish of `invalidation`: counted and announced once sent, an `error` event if it failed. */
  async #published(invalidation: Invalidation, sending: Promise<void>): Promise<void> {
    try {
      await sending;
      this.#counts.sent++;
      this.emit('invalidation-sent', invalidation);
    } catch (error) {
      // The write itself succeeded; other instances are bounded by maxTtl (and reset when their bus reconnects).
      this.#error('publish', error);
    }
  }

  /**
   * A write that failed may still be applied later (a command sent before a hang is run when Redis resumes): the
   * other instances must drop what it touched too. Not awaited, so that a dead bus adds no timeout of its own to
   * the failed call; if the message is lost as well, the receivers' gap detection or reset covers it.
   */
  #publishUnknownEffect(invalidation: Invalidation): void {
    void this.#publish(invalidation);
  }

  /** Derives `#upperOpen` from the subscription's state. */
  #update(): void {
    this.#upperOpen = this.#subscribed && !this.#busDown && this.#dropping === 0 && !this.#closed;
  }

  /**
   * Subscribes to the bus, then drops the upper tiers (they may hold what was invalidated unheard before): from then
   * on they are used while the subscription is live. If subscribing fails they never are (this cache cannot hear
   * other instances), and `ready()` says why.
   */
  async #subscribe(bus: InvalidationBus): Promise<void> {
    const listener: BusListener = {
      invalidate: (message) => this.#onInvalidation(message),
      suspend: (reason) => this.#onSuspend(reason),
      reset: (reason) => this.#onReset(reason),
      error: (error) => this.#error('bus', error),
    };
    try {
      const unsubscribe = await bus.subscribe(listener, { signal: this.#closing.signal });
      if (this.#closed) {
        unsubscribe();
        throw closedError('ready');
      }
      this.#unsubscribe = unsubscribe;
      if (isOrderedBus(bus) && (await bus.pairWith(this.#last))) this.#ordered = bus;
      await this.#clearUpper('subscribe');
    } catch (error) {
      if (this.#closed) throw closedError('ready');
      this.#error('subscribe', error);
      throw error instanceof CacheError
        ? error
        : new CacheUnavailableError('subscribe', 'the bus could not subscribe', { cause: error });
    }
    this.#subscribed = true;
    this.#update();
  }

  #onInvalidation(message: BusMessage): void {
    if (this.#closed) return;
    this.#counts.received++;
    if (message.kind === 'keys') {
      for (const key of message.keys) this.#fence.touch(key);
      void this.#dropUpper(message.keys);
    } else {
      if (message.kind === 'clear') this.#fence.touchAll();
      else this.#fence.touchPattern(message.pattern);
      for (const [i, tier] of this.#upper.entries()) {
        const done =
          message.kind === 'clear' ? tier.cache.clear() : tier.cache.deletePattern(message.pattern);
        done.catch((e: unknown) => this.#error('invalidation', e, i));
      }
    }
    this.emit('invalidation-received', message);
  }

  /** The bus cannot hear other instances for now: the upper tiers are neither read nor filled until it can. */
  #onSuspend(reason: BusSuspendReason): void {
    if (this.#closed || this.#busDown) return;
    this.#busDown = true;
    this.#update();
    // Fills of reads already in flight are refused too.
    this.#fence.touchAll();
    this.emit('suspend', { reason });
  }

  #onReset(reason: BusResetReason): void {
    if (this.#closed) return;
    this.#counts.resets++;
    this.#busDown = false;
    this.#dropping++;
    this.#update();
    void this.#clearUpper(reason).finally(() => {
      this.#dropping--;
      this.#update();
    });
    this.emit('reset', { reason });
  }

  async #clearUpper(reason: string): Promise<void> {
    this.#fence.touchAll();
    await Promise.all(
      this.#upper.map((tier, i) =>
        tier.cache.clear().catch((e: unknown) => this.#error(`reset:${reason}`, e, i)),
      ),
    );
  }
}
