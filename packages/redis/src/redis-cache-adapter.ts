import {
  assertKey,
  assertKeys,
  assertOptionNames,
  assertPattern,
  type CacheCapabilities,
  type CacheEntry,
  type CacheItems,
  type ClosableCache,
  type Codec,
  closedError,
  defaultCodec,
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
import type { ChainableCommander, Cluster, Redis } from 'ioredis';
import { CallGuard } from './call-guard.js';
import { groupByMaster, groupBySlot, masters, type SlotGroup } from './cluster-routing.js';
import { closeClient, type RedisConnectionOptions, resolveConnection } from './redis-connection.js';

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
  implements ClosableCache, EntryReader
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
  readonly #prefix: string;
  readonly #scanPattern: string;
  readonly #scanCount: number;
  #closed = false;

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
    this.#guard = new CallGuard(client, timeoutMs);
    if (ownsClient) client.on('error', (error: Error) => this.emit('error', error));
  }

  /** Reads `key` (one GET). */
  async get<T = unknown>(key: string): Promise<T | undefined> {
    assertKey(key);
    this.#open('get');
    const text = await this.#guard.run('get', () => this.client.get(this.#prefix + key));
    return text === null ? undefined : (this.#codec.decode(text) as T);
  }

  /** Reads `key` with its remaining TTL in ms: MGET and PTTL back to back (one round trip). */
  async getEntry<T = unknown>(key: string): Promise<CacheEntry<T> | undefined> {
    assertKey(key);
    this.#open('getEntry');
    const full = this.#prefix + key;
    // Two commands issued back to back on one connection: one round trip, run in order, and none of the per-call
    // allocations of an ioredis Pipeline (the L2 hit is a hot path). A key that expired between the two is absent.
    // MGET, not GET, like getManyEntries: a key of another type (written by someone else) reads as absent.
    const [[text], pttl] = await this.#guard.run('getEntry', () =>
      Promise.all([this.client.mget(full), this.client.pttl(full)]),
    );
    if (text === null || text === undefined || pttl === -2) return undefined;
    return { value: this.#codec.decode(text) as T, ttlMs: pttl === -1 ? undefined : pttl };
  }

  /** Reads many keys with their remaining TTLs: MGET plus a PTTL per key, one pipeline per master. */
  async getManyEntries<T = unknown>(keys: readonly string[]): Promise<Map<string, CacheEntry<T>>> {
    assertKeys(keys);
    this.#open('getManyEntries');
    const found = new Map<string, CacheEntry<T>>();
    if (keys.length === 0) return found;
    const unique = [...new Set(keys)];
    const entries = await this.#guard.run('getManyEntries', () =>
      this.#readEntries(unique.map((k) => this.#prefix + k)),
    );
    for (let i = 0; i < unique.length; i++) {
      const entry = entries[i];
      if (entry !== undefined)
        found.set(unique[i]!, { value: this.#codec.decode(entry.text) as T, ttlMs: entry.ttlMs });
    }
    return found;
  }

  /** Stores `value` for `ttl` seconds (one SET, with PX when there is a TTL). */
  async set(key: string, value: unknown, ttl?: number | null): Promise<void> {
    assertKey(key);
    const ttlMs = ttlToMs(ttl);
    const text = this.#codec.encode(value);
    this.#open('set');
    const full = this.#prefix + key;
    await this.#guard.run('set', () =>
      ttlMs === undefined ? this.client.set(full, text) : this.client.set(full, text, 'PX', ttlMs),
    );
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

  async #mget(fullKeys: string[]): Promise<Array<string | null>> {
    if (!this.client.isCluster) return (this.client as Redis).mget(fullKeys);
    const result = new Array<string | null>(fullKeys.length).fill(null);
    for (const { group, replies } of await this.#pipelinedBySlot(fullKeys, (p, keys) => p.mget(keys))) {
      (replies[0] as Array<string | null>).forEach((v, i) => {
        result[group.positions[i]!] = v;
      });
    }
    return result;
  }

  /** Values with remaining TTLs, by position; a key that expired between its GET and PTTL counts as absent. */
  async #readEntries(
    fullKeys: string[],
  ): Promise<Array<{ text: string; ttlMs: number | undefined } | undefined>> {
    const result = new Array<{ text: string; ttlMs: number | undefined } | undefined>(fullKeys.length);
    const batches = await this.#pipelinedBySlot(fullKeys, (p, keys) => {
      p.mget(keys);
      for (const key of keys) p.pttl(key);
    });
    for (const { group, replies } of batches) {
      const texts = replies[0] as Array<string | null>;
      texts.forEach((text, i) => {
        const pttl = replies[i + 1] as number;
        if (text !== null && pttl !== -2)
          result[group.positions[i]!] = { text, ttlMs: pttl === -1 ? undefined : pttl };
      });
    }
    return result;
  }

  /**
   * Queues `commands` for each hash-slot group of `fullKeys` (one group of all keys on a standalone server) in one
   * pipeline per master, and returns each group's replies.
   */
  async #pipelinedBySlot(
    fullKeys: string[],
    commands: (pipeline: ChainableCommander, keys: string[]) => void,
  ): Promise<Array<{ group: SlotGroup; replies: unknown[] }>> {
    try {
      return await this.#sendBySlot(fullKeys, commands);
    } catch (error) {
      // ioredis follows MOVED for single commands, but not for a pipeline whose replies name different slots, and
      // then never refreshes its slot table: after a failover, batches would fail forever. A redirected command
      // was not executed, so the batch is sent again on the fresh table.
      if (!this.client.isCluster || !isRedirection(error)) throw error;
      await this.#refreshSlots();
      return this.#sendBySlot(fullKeys, commands);
    }
  }

  /** On a Cluster, reloads the slot table (and the set of masters) from a node; never rejects. */
  #refreshSlots(): Promise<void> {
    if (!this.client.isCluster) return Promise.resolve();
    const cluster = this.client as Cluster;
    return new Promise((resolve) => cluster.refreshSlotsCache(() => resolve()));
  }

  async #sendBySlot(
    fullKeys: string[],
    commands: (pipeline: ChainableCommander, keys: string[]) => void,
  ): Promise<Array<{ group: SlotGroup; replies: unknown[] }>> {
    const batches = this.client.isCluster
      ? groupByMaster(this.client as Cluster, groupBySlot(fullKeys))
      : [[{ slot: 0, keys: fullKeys, positions: fullKeys.map((_, i) => i) }]];
    const results: Array<{ group: SlotGroup; replies: unknown[] }> = [];
    await Promise.all(
      batches.map(async (groups) => {
        const pipeline = this.client.pipeline();
        const counts = groups.map((group) => {
          const before = pipeline.length;
          commands(pipeline, group.keys);
          return pipeline.length - before;
        });
        const replies = (await pipeline.exec()) ?? [];
        let offset = 0;
        groups.forEach((group, g) => {
          const slice = replies.slice(offset, offset + counts[g]!);
          offset += counts[g]!;
          for (const [error] of slice) if (error) throw error;
          results.push({ group, replies: slice.map(([, reply]) => reply) });
        });
      }),
    );
    return results;
  }

  async #msetTransactional(
    entries: ReadonlyArray<readonly [string, string]>,
    ttlMs: number | undefined,
  ): Promise<void> {
    const groups = this.client.isCluster
      ? groupBySlot(entries.map(([k]) => k))
      : [{ positions: entries.map((_, i) => i) }];
    await Promise.all(
      groups.map(async (group) => {
        const multi = this.client.multi();
        for (const i of group.positions) {
          const [key, text] = entries[i]!;
          if (ttlMs === undefined) multi.set(key, text);
          else multi.set(key, text, 'PX', ttlMs);
        }
        const replies = await multi.exec();
        if (replies === null) throw new Error('MULTI was aborted');
        for (const [error] of replies) if (error) throw error;
      }),
    );
  }

  // SCAN can take many round trips: the time limit applies to each step, not to the whole walk.
  async #guardedScanDelete(operation: string, match: string): Promise<number> {
    let deleted = 0;
    // Through the guard, so that a Cluster still discovering its nodes is waited for, not seen as having none. The
    // slot table is reloaded first: after a failover the client's may still list a dead master and miss its
    // promoted replica, whose keys SCAN would then never see.
    const nodes = await this.#guard.run(operation, async () => {
      await this.#refreshSlots();
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

/** A Cluster redirection (MOVED or ASK): the command was not executed, and the client's slot table is stale. */
function isRedirection(error: unknown): boolean {
  return error instanceof Error && /^(?:MOVED|ASK) /.test(error.message);
}
