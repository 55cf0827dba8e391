import {
  assertKey,
  assertKeys,
  assertOptionNames,
  assertPattern,
  type BoundedCalls,
  type CacheCapabilities,
  type CacheEntry,
  type CacheItems,
  type ClosableCache,
  type Codec,
  closedError,
  defaultCodec,
  type EncodedWriter,
  type EntryReader,
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
import {
  groupBySlot,
  type MasterBatch,
  masterOf,
  masters,
  refreshSlots,
  withRedirects,
} from './cluster-routing.js';
import { closeClient, type RedisConnectionOptions, resolveConnection } from './redis-connection.js';
import { RedisEntryReader } from './redis-entry-reader.js';
import { RedisWriteGatherer } from './redis-write-gatherer.js';
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
}

/** Events of {@link RedisCacheAdapter} (only for a client it owns; watch your own client yourself). */
export interface RedisCacheAdapterEvents {
  /** The client reported a connection error; calls fail meanwhile and the client reconnects by itself. */
  error: [error: Error];
}

const DEFAULTS = {
  namespace: undefined,
  codec: defaultCodec,
  commandTimeoutMs: 1_000,
  scanCount: 1_000,
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
  readonly #reader: RedisEntryReader;
  /** Gathers a tick's single-key writes on a standalone server (undefined on a Cluster). */
  readonly #writes: RedisWriteGatherer | undefined;
  readonly #prefix: string;
  readonly #scanPattern: string;
  readonly #scanCount: number;
  #closed = false;

  /** How values are encoded (entries read with `getEntry` carry their text in this codec). */
  get codec(): Codec {
    return this.#codec;
  }

  /** Every call but `deletePattern` and `clear` settles within this many ms: `commandTimeoutMs` plus the sweep. */
  get callBoundMs(): number {
    return this.#guard.boundMs;
  }

  /**
   * @throws {TypeError} for an unknown option or one of the wrong type.
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
    this.#codec = merged.codec;
    this.#prefix = prefixKey(this.namespace, '');
    // A namespace may hold glob metacharacters: escaped, SCAN MATCH sees it literally.
    this.#scanPattern = `${escapeGlob(this.namespace)}:`;
    const { client, ownsClient } = resolveConnection(options);
    this.client = client;
    this.#ownsClient = ownsClient;
    this.#guard = new CallGuard(client, timeoutMs, () => corkForTick(client));
    this.#reader = new RedisEntryReader(client);
    this.#writes = client.isCluster ? undefined : new RedisWriteGatherer(client as Redis, this);
    if (ownsClient) client.on('error', (error: Error) => this.emit('error', error));
  }

  /** Reads `key` (one GET). */
  async get<T = unknown>(key: string): Promise<T | undefined> {
    assertKey(key);
    this.#open('get');
    const text = await this.#guard.run('get', () => this.client.get(this.#prefix + key));
    return text === null ? undefined : (this.#codec.decode(text) as T);
  }

  /**
   * Reads `key` with its remaining TTL in ms, in one round trip. Such reads issued within one tick go to Redis
   * together: one command per master (see `RedisEntryReader`).
   */
  async getEntry<T = unknown>(key: string): Promise<CacheEntry<T> | undefined> {
    assertKey(key);
    this.#open('getEntry');
    const full = this.#prefix + key;
    const entry = await this.#guard.run('getEntry', () => this.#reader.readOne(full));
    return entry === undefined
      ? undefined
      : { value: this.#codec.decode(entry.text) as T, ttlMs: entry.ttlMs, text: entry.text };
  }

  /** Reads many keys with their remaining TTLs: one command per master (GET and PTTL of each key, in Lua). */
  async getManyEntries<T = unknown>(keys: readonly string[]): Promise<Map<string, CacheEntry<T>>> {
    assertKeys(keys);
    this.#open('getManyEntries');
    const found = new Map<string, CacheEntry<T>>();
    if (keys.length === 0) return found;
    const unique = [...new Set(keys)];
    const entries = await this.#guard.run('getManyEntries', () =>
      this.#reader.read(unique.map((k) => this.#prefix + k)),
    );
    for (let i = 0; i < unique.length; i++) {
      const entry = entries[i];
      if (entry !== undefined)
        found.set(unique[i]!, {
          value: this.#codec.decode(entry.text) as T,
          ttlMs: entry.ttlMs,
          text: entry.text,
        });
    }
    return found;
  }

  /** Stores `value` for `ttl` seconds (one SET, with PX when there is a TTL). */
  async set(key: string, value: unknown, ttl?: number | null): Promise<void> {
    assertKey(key);
    const ttlMs = ttlToMs(ttl);
    const text = this.#codec.encode(value);
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

  /** Removes `key` (one UNLINK). */
  async delete(key: string): Promise<void> {
    assertKey(key);
    this.#open('delete');
    await this.#guard.run('delete', () => this.client.unlink(this.#prefix + key));
  }

  /** True when `key` is present (one EXISTS). */
  async exists(key: string): Promise<boolean> {
    assertKey(key);
    this.#open('exists');
    return (await this.#guard.run('exists', () => this.client.exists(this.#prefix + key))) === 1;
  }

  /** Reads many keys: one MGET, or on a Cluster one pipeline of MGETs (one per slot) per master. */
  async getMany<T = unknown>(keys: readonly string[]): Promise<Map<string, T>> {
    assertKeys(keys);
    this.#open('getMany');
    const found = new Map<string, T>();
    if (keys.length === 0) return found;
    const unique = [...new Set(keys)];
    const texts = await this.#guard.run('getMany', () => this.#mget(unique.map((k) => this.#prefix + k)));
    for (let i = 0; i < unique.length; i++) {
      const text = texts[i];
      if (text !== null && text !== undefined) found.set(unique[i]!, this.#codec.decode(text) as T);
    }
    return found;
  }

  /**
   * Stores every item for `ttl` seconds in one MULTI; on a Cluster one MULTI per slot, which makes it atomic per
   * slot, not across slots. Every key and value is validated and encoded before anything is sent.
   */
  async setMany(items: CacheItems, ttl?: number | null): Promise<void> {
    const entries = toItemEntries(items);
    const ttlMs = ttlToMs(ttl);
    const encoded = entries.map(([key, value]) => [this.#prefix + key, this.#codec.encode(value)] as const);
    this.#open('setMany');
    if (encoded.length === 0) return;
    await this.#guard.run('setMany', () => this.#msetTransactional(encoded, ttlMs));
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
    const ms = await this.#guard.run('ttl', () => this.client.pttl(this.#prefix + key));
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

  #setText(key: string, text: string, ttlMs: number | undefined): Promise<unknown> {
    const full = this.#prefix + key;
    const writes = this.#writes;
    if (writes !== undefined) return this.#guard.run('set', () => writes.set(full, text, ttlMs));
    return this.#guard.run('set', () =>
      ttlMs === undefined ? this.client.set(full, text) : this.client.set(full, text, 'PX', ttlMs),
    );
  }

  async #mget(fullKeys: string[]): Promise<Array<string | null>> {
    if (!this.client.isCluster) return (this.client as Redis).mget(fullKeys);
    const result = new Array<string | null>(fullKeys.length).fill(null);
    await withRedirects(this.client, fullKeys, (batches) =>
      Promise.all(batches.map((batch) => this.#mgetBatch(batch, result))),
    );
    return result;
  }

  /** One pipeline on the batch's master: an MGET per hash slot. */
  async #mgetBatch(batch: MasterBatch, result: Array<string | null>): Promise<void> {
    const node = masterOf(batch);
    corkForTick(node);
    const pipeline = node.pipeline();
    for (const group of batch.groups) pipeline.mget(group.keys);
    const replies = (await pipeline.exec()) ?? [];
    batch.groups.forEach((group, g) => {
      const [error, texts] = replies[g] ?? [new Error('missing reply'), null];
      if (error) throw error;
      (texts as Array<string | null>).forEach((text, i) => {
        result[group.positions[i]!] = text;
      });
    });
  }

  async #msetTransactional(
    entries: ReadonlyArray<readonly [string, string]>,
    ttlMs: number | undefined,
  ): Promise<void> {
    const byKey = new Map(entries);
    const send = (node: Redis, keys: readonly string[]): Promise<void> => {
      corkForTick(node);
      const multi = node.multi();
      for (const key of keys) {
        if (ttlMs === undefined) multi.set(key, byKey.get(key)!);
        else multi.set(key, byKey.get(key)!, 'PX', ttlMs);
      }
      return multi.exec().then(
        (replies) => {
          if (replies === null) throw new Error('MULTI was aborted');
          for (const [error] of replies) if (error) throw error;
        },
        (error: unknown) => {
          // A MULTI sent to a node that no longer serves the slot is discarded: report its MOVED, which is retried.
          const first = (error as { previousErrors?: unknown[] }).previousErrors?.[0];
          throw first instanceof Error && /^(?:MOVED|ASK) /.test(first.message) ? first : error;
        },
      );
    };
    const keys = entries.map(([key]) => key);
    if (!this.client.isCluster) return send(this.client as Redis, keys);
    // One MULTI per slot (a transaction cannot span slots), each on its master's own connection.
    await withRedirects(this.client, keys, (batches) =>
      Promise.all(batches.flatMap((batch) => batch.groups.map((group) => send(masterOf(batch), group.keys)))),
    );
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
