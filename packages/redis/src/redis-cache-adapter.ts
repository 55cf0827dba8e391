import {
  assertKey,
  assertKeys,
  assertOptionNames,
  assertPattern,
  type BoundedCalls,
  type CacheCapabilities,
  type CacheEntry,
  type CacheItems,
  CacheUnavailableError,
  type ClosableCache,
  type Codec,
  closedError,
  decodeFor,
  defaultCodec,
  type EncodedWriter,
  type EntryReader,
  encodeFor,
  escapeGlob,
  msToTtlSeconds,
  positiveIntegerOption,
  prefixKey,
  resolveNamespace,
  toItemEntries,
  ttlToMs,
} from '@strata-cache/core';
import { EventEmitter } from 'eventemitter3';
import type { Cluster, Redis } from 'ioredis';
import { CallGuard } from './call-guard.js';
import { groupBySlot, masters, refreshSlots } from './cluster-routing.js';
import { RedisBatchWriter } from './redis-batch-writer.js';
import { RedisClock } from './redis-clock.js';
import {
  assertNoKeyPrefix,
  closeClient,
  type RedisConnectionOptions,
  resolveConnection,
} from './redis-connection.js';
import { type RawEntry, type ReadResult, RedisEntryReader } from './redis-entry-reader.js';
import { RedisWriteGatherer } from './redis-write-gatherer.js';
import { ENVELOPE_PREFIX, wrapEntry } from './stored-entry.js';
import { corkForTick } from './tick-cork.js';

/** Options of {@link RedisCacheAdapter}: how to connect (see {@link RedisConnectionOptions}) plus these. */
export interface RedisCacheAdapterOptions extends RedisConnectionOptions {
  /**
   * Keys are stored as `<namespace>:<key>`. A non-empty string without `:`. On a Cluster, avoid `{…}` in it: it
   * would be a hash tag putting every key in one slot.
   * @default 'strata'
   */
  namespace?: string;
  /** How values are encoded; plain JSON values are stored as plain JSON text. @default defaultCodec */
  codec?: Codec;
  /** Every call rejects with `CacheUnavailableError` if Redis has not answered within this many ms. @default 1000 */
  commandTimeoutMs?: number;
  /** The COUNT hint of each SCAN step in `deletePattern` and `clear`. @default 1000 */
  scanCount?: number;
  /**
   * How values are stored. `'envelope'`: the codec's text inside a small JSON envelope that also carries the
   * value's absolute expiry (`{"$s":1,"exp":…,"v":…}`, docs/codec.md), so that a `TieredCache` learns how long a
   * value lives without a PTTL per read. `'plain'`: the codec's text alone (a plain JSON value as plain JSON text,
   * for other programs reading the keys); a tiered read then also reads the key's PTTL. Either way both forms are
   * read.
   * @default 'envelope'
   */
  valueFormat?: 'envelope' | 'plain';
}

/** Events of {@link RedisCacheAdapter} (only for a client it owns; watch your own client yourself). */
export interface RedisCacheAdapterEvents {
  /**
   * The client reported an error (a connection refused or lost, a Cluster that cannot load its slot table): a
   * `CacheUnavailableError` of operation `'connection'`, with the ioredis error as `cause`. Calls fail meanwhile,
   * and the client reconnects by itself.
   */
  error: [error: CacheUnavailableError];
}

const DEFAULTS = {
  namespace: undefined,
  codec: defaultCodec,
  commandTimeoutMs: 1_000,
  scanCount: 1_000,
  valueFormat: 'envelope',
} as const;

const OPTION_NAMES: ReadonlySet<string> = new Set([
  'client',
  'url',
  'redisOptions',
  'cluster',
  ...Object.keys(DEFAULTS),
]);

/**
 * The production {@link ClosableCache} on ioredis, for standalone Redis, Sentinel and Cluster alike. One round
 * trip per call where Redis allows it; on a Cluster, batch calls take at most one round trip per master.
 */
export class RedisCacheAdapter
  extends EventEmitter<RedisCacheAdapterEvents>
  implements ClosableCache, EntryReader, BoundedCalls, EncodedWriter
{
  /** What this adapter supports. */
  readonly capabilities: CacheCapabilities = { patternDelete: true, ttlPrecision: 'milliseconds' };
  /** The namespace keys are stored under. */
  readonly namespace: string;
  /** The ioredis client in use. */
  readonly client: Redis | Cluster;
  readonly #ownsClient: boolean;
  readonly #codec: Codec;
  readonly #guard: CallGuard;
  readonly #clock: RedisClock;
  readonly #envelope: boolean;
  readonly #reader: RedisEntryReader;
  /** Gathers a tick's single-key writes (see `RedisWriteGatherer`). */
  readonly #writes: RedisWriteGatherer;
  /** Writes `setMany`'s batches (see `RedisBatchWriter`). */
  readonly #batches: RedisBatchWriter;
  readonly #prefix: string;
  readonly #scanPattern: string;
  readonly #scanCount: number;
  #closed = false;

  /** How values are encoded (entries read with `getEntry` carry their text in this codec). */
  get codec(): Codec {
    return this.#codec;
  }

  /**
   * Every call but `setMany`, `deletePattern` and `clear` settles within this many ms: `commandTimeoutMs` plus the
   * sweep. Those three may send many commands, and each of their commands is bounded by it instead.
   */
  get callBoundMs(): number {
    return this.#guard.boundMs;
  }

  /**
   * @throws {TypeError} for an unknown option or one of the wrong type, or an ioredis `keyPrefix` on the client or
   * in its options (ioredis leaves SCAN patterns and script keys unprefixed): use `namespace` instead.
   * @throws {RangeError} for an option out of range (a size, a time, a namespace with `:`).
   */
  constructor(options: RedisCacheAdapterOptions) {
    super();
    assertOptionNames('RedisCacheAdapter', options, OPTION_NAMES);
    const merged = { ...DEFAULTS, ...options };
    this.namespace = resolveNamespace(merged.namespace);
    if (typeof merged.codec?.encode !== 'function' || typeof merged.codec.decode !== 'function') {
      throw new TypeError('codec must have encode() and decode()');
    }
    const timeoutMs = positiveIntegerOption('commandTimeoutMs', merged.commandTimeoutMs);
    this.#scanCount = positiveIntegerOption('scanCount', merged.scanCount);
    if (merged.valueFormat !== 'envelope' && merged.valueFormat !== 'plain')
      throw new RangeError("valueFormat must be 'envelope' or 'plain'");
    this.#envelope = merged.valueFormat === 'envelope';
    this.#codec = merged.codec;
    this.#prefix = prefixKey(this.namespace, '');
    // A namespace may hold glob metacharacters: escaped, SCAN MATCH sees it literally.
    this.#scanPattern = `${escapeGlob(this.namespace)}:`;
    assertNoKeyPrefix(options, 'RedisCacheAdapter');
    const { client, ownsClient } = resolveConnection(options);
    this.client = client;
    this.#ownsClient = ownsClient;
    // Measured again at every (re)connect: the server may be another host than before (a failover).
    this.#clock = new RedisClock(client, timeoutMs);
    client.on('ready', () => this.#clock.connected());
    if (client.status === 'ready') this.#clock.connected();
    this.#guard = new CallGuard(client, timeoutMs, () => this.#clock.gate);
    this.#reader = new RedisEntryReader(client, this.#clock);
    this.#writes = new RedisWriteGatherer(client, this, this.#prefix);
    this.#batches = new RedisBatchWriter(
      client,
      this.#guard,
      (text, ttlMs) => this.#stored(text, ttlMs),
      () => this.#closed,
    );
    if (ownsClient)
      client.on('error', (error: Error) =>
        this.emit('error', new CacheUnavailableError('connection', error.message, { cause: error })),
      );
  }

  /** Reads `key`: one GET, or one MGET shared with the other reads of this tick (see `RedisEntryReader`). */
  async get<T = unknown>(key: string): Promise<T | undefined> {
    assertKey(key);
    this.#open('get');
    const full = this.#prefix + key;
    const found = await this.#guard.run('get', () => this.#reader.readOne(full, false));
    return found === undefined ? undefined : (decodeFor(this.#codec, key, entryOf(found).text) as T);
  }

  /**
   * Reads `key` with its remaining TTL in ms, in one round trip. Such reads issued within one tick go to Redis
   * together: one command per master (see `RedisEntryReader`).
   */
  async getEntry<T = unknown>(key: string): Promise<CacheEntry<T> | undefined> {
    assertKey(key);
    this.#open('getEntry');
    const full = this.#prefix + key;
    const found = await this.#guard.run('getEntry', () => this.#reader.readOne(full, true));
    return found === undefined ? undefined : this.#toCacheEntry<T>(key, entryOf(found));
  }

  /** Reads many keys with their remaining TTLs: one MGET, or on a Cluster one pipeline of MGETs per master. */
  async getManyEntries<T = unknown>(keys: readonly string[]): Promise<Map<string, CacheEntry<T>>> {
    assertKeys(keys);
    this.#open('getManyEntries');
    const found = new Map<string, CacheEntry<T>>();
    if (keys.length === 0) return found;
    const unique = [...new Set(keys)];
    const results = await this.#guard.run('getManyEntries', () =>
      this.#reader.read(
        unique.map((k) => this.#prefix + k),
        true,
      ),
    );
    for (let i = 0; i < unique.length; i++) {
      const result = results[i];
      if (result !== undefined) found.set(unique[i]!, this.#toCacheEntry<T>(unique[i]!, entryOf(result)));
    }
    return found;
  }

  /**
   * Stores `value` for `ttl` seconds: one SET (with PX when there is a TTL), or one command per master shared with
   * the other writes of this tick.
   */
  async set(key: string, value: unknown, ttl?: number | null): Promise<void> {
    assertKey(key);
    const ttlMs = ttlToMs(ttl);
    const text = encodeFor(this.#codec, key, value);
    this.#open('set');
    await this.#setText(key, text, ttlMs);
  }

  /** Stores `text`, which this adapter's codec produced for a value, as `set` would store that value. */
  async setEncoded(key: string, text: string, ttl?: number | null): Promise<void> {
    assertKey(key);
    const ttlMs = ttlToMs(ttl);
    if (typeof text !== 'string') throw new TypeError('text must be a string');
    this.#open('set');
    await this.#setText(key, text, ttlMs);
  }

  /** Removes `key` (one UNLINK, or one command per master shared with the other writes of this tick). */
  async delete(key: string): Promise<void> {
    assertKey(key);
    this.#open('delete');
    await this.#guard.run('delete', () => this.#writes.delete(key));
  }

  /** True when `key` is present (one EXISTS). */
  async exists(key: string): Promise<boolean> {
    assertKey(key);
    this.#open('exists');
    return (await this.#guard.run('exists', () => this.client.exists(this.#prefix + key), this.#cork)) === 1;
  }

  /** Reads many keys: one MGET, or on a Cluster one pipeline of MGETs (one per slot) per master. */
  async getMany<T = unknown>(keys: readonly string[]): Promise<Map<string, T>> {
    assertKeys(keys);
    this.#open('getMany');
    const found = new Map<string, T>();
    if (keys.length === 0) return found;
    const unique = [...new Set(keys)];
    const results = await this.#guard.run('getMany', () =>
      this.#reader.read(
        unique.map((k) => this.#prefix + k),
        false,
      ),
    );
    for (let i = 0; i < unique.length; i++) {
      const result = results[i];
      if (result !== undefined)
        found.set(unique[i]!, decodeFor(this.#codec, unique[i]!, entryOf(result).text) as T);
    }
    return found;
  }

  /**
   * Stores every item for `ttl` seconds: one script per 1,000 keys, a few in flight at a time (see
   * `RedisBatchWriter`), each atomic; on a Cluster one per master and 1,000 keys, never splitting a slot's keys, which
   * makes it atomic per slot, not across slots. Every key and value is validated and encoded before anything is
   * sent. Each command, not the whole call, is bounded by `commandTimeoutMs`; once one fails, no other is sent.
   */
  async setMany(items: CacheItems, ttl?: number | null): Promise<void> {
    const entries = toItemEntries(items);
    const ttlMs = ttlToMs(ttl);
    const encoded = entries.map(
      ([key, value]) => [this.#prefix + key, encodeFor(this.#codec, key, value)] as const,
    );
    this.#open('setMany');
    if (encoded.length === 0) return;
    await this.#batches.setMany(encoded, ttlMs);
  }

  /** Deletes this namespace's keys matching `pattern`: SCAN MATCH on every master, UNLINK per batch (per slot). */
  async deletePattern(pattern: string): Promise<number> {
    assertPattern(pattern);
    this.#open('deletePattern');
    // The empty pattern matches only the empty key, which no caller can write.
    if (pattern === '') return 0;
    return this.#guardedScanDelete('deletePattern', this.#scanPattern + pattern);
  }

  /** Remaining TTL of `key` in whole seconds rounded up, from PTTL (never TTL, which rounds to nearest). */
  async ttl(key: string): Promise<number | undefined> {
    assertKey(key);
    this.#open('ttl');
    const ms = await this.#guard.run('ttl', () => this.client.pttl(this.#prefix + key), this.#cork);
    return ms < 0 ? undefined : msToTtlSeconds(ms);
  }

  /** Deletes every key of this namespace (SCAN + UNLINK on every master; never FLUSHDB). */
  async clear(): Promise<void> {
    this.#open('clear');
    await this.#guardedScanDelete('clear', `${this.#scanPattern}*`);
  }

  /** Rejects pending calls and closes the client if this adapter created it. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#clock.stop();
    this.#guard.abort((operation) => closedError(operation));
    if (this.#ownsClient) await closeClient(this.client);
  }

  /** Same as {@link RedisCacheAdapter.close}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #open(operation: string): void {
    if (this.#closed) throw closedError(operation);
  }

  /**
   * Coalesces the socket writes of the commands this adapter sends itself within one tick (see `corkForTick`);
   * gathered reads and writes are one command a tick already.
   */
  readonly #cork = (): void => corkForTick(this.client);

  #setText(key: string, text: string, ttlMs: number | undefined): Promise<unknown> {
    // The envelope is stamped as the write is sent (after any wait for the connection): its expiry is then never
    // later than the one Redis gives the key.
    return this.#guard.run('set', () => this.#writes.set(key, this.#stored(text, ttlMs), ttlMs));
  }

  /** What is stored for the codec's `text` living `ttlMs` from now: see `valueFormat`. */
  #stored(text: string, ttlMs: number | undefined): string {
    const known = this.#clock.known;
    // Without a measured clock, no expiry can be stamped: the text alone is stored, and read with its PTTL. But a
    // text that begins like an envelope would then be read as one: it is always wrapped, and with an unknown clock
    // its expiry says 0, which lets it be read but never copied into a tier above.
    if ((!this.#envelope || !known) && !text.startsWith(ENVELOPE_PREFIX)) return text;
    return wrapEntry(text, ttlMs === undefined ? undefined : known ? this.#clock.earliest() + ttlMs : 0);
  }

  #toCacheEntry<T>(key: string, entry: RawEntry): CacheEntry<T> {
    return { value: decodeFor(this.#codec, key, entry.text) as T, ttlMs: entry.ttlMs, text: entry.text };
  }

  // SCAN can take many round trips: the time limit applies to each step, not to the whole walk.
  async #guardedScanDelete(operation: string, match: string): Promise<number> {
    let deleted = 0;
    // Through the guard, so that a Cluster still discovering its nodes is waited for, not seen as having none. The
    // slot table is reloaded first: after a failover the client's may still list a dead master and miss its
    // promoted replica, whose keys SCAN would then never see.
    const nodes = await this.#guard.run(operation, async () => {
      await refreshSlots(this.client);
      return masters(this.client);
    });
    for (const node of nodes) {
      let cursor = '0';
      do {
        const [next, keys] = await this.#guard.run(operation, () =>
          node.scan(cursor, 'MATCH', match, 'COUNT', this.#scanCount),
        );
        cursor = next;
        if (keys.length > 0) deleted += await this.#guard.run(operation, () => this.#unlink(node, keys));
        if (this.#closed) throw closedError(operation);
      } while (cursor !== '0');
    }
    return deleted;
  }

  async #unlink(node: Redis, keys: string[]): Promise<number> {
    if (!this.client.isCluster) return node.unlink(keys);
    const pipeline = node.pipeline();
    for (const group of groupBySlot(keys)) pipeline.unlink(group.keys);
    let deleted = 0;
    for (const [error, count] of (await pipeline.exec()) ?? []) {
      if (error) throw error;
      deleted += count as number;
    }
    return deleted;
  }
}

/** The entry a read found; a stored text that is not a well-formed envelope is refused. */
function entryOf(result: Exclude<ReadResult, undefined>): RawEntry {
  if (result instanceof Error) throw result;
  return result;
}
