import {
  CacheUnavailableError,
  type Codec,
  defaultCodec,
  resolveNamespace,
  StoreCache,
} from '@strata-cache/core';
import { assertOptionNames, positiveIntegerOption } from '@strata-cache/core/internal';
import { EventEmitter } from 'eventemitter3';
import type { Cluster, Redis } from 'ioredis';
import {
  assertNoKeyPrefix,
  closeClient,
  type RedisConnectionOptions,
  resolveConnection,
} from './redis-connection.js';
import { RedisStore } from './redis-store.js';

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
 * The production cache on ioredis ({@link RedisStore}), for standalone Redis, Sentinel and Cluster alike. One round
 * trip per call where Redis allows it; on a Cluster, batch calls take at most one round trip per master. Every
 * command is bounded by `commandTimeoutMs`: a call that fails or outlives it rejects with `CacheUnavailableError`,
 * and the adapter recovers by itself once Redis is back.
 */
export class RedisCacheAdapter extends StoreCache {
  /** The namespace keys are stored under. */
  readonly namespace: string;
  /** The ioredis client in use. */
  readonly client: Redis | Cluster;
  declare readonly store: RedisStore;
  readonly #ownsClient: boolean;
  readonly #events = new EventEmitter<RedisCacheAdapterEvents>();
  #closed = false;

  /**
   * @throws {TypeError} for an unknown option or one of the wrong type, or an ioredis `keyPrefix` on the client or
   * in its options (ioredis leaves SCAN patterns and script keys unprefixed): use `namespace` instead.
   * @throws {RangeError} for an option out of range (a size, a time, a namespace with `:`).
   */
  constructor(options: RedisCacheAdapterOptions) {
    assertOptionNames('RedisCacheAdapter', options, OPTION_NAMES);
    const merged = { ...DEFAULTS, ...options };
    const namespace = resolveNamespace(merged.namespace);
    const commandTimeoutMs = positiveIntegerOption('commandTimeoutMs', merged.commandTimeoutMs);
    const scanCount = positiveIntegerOption('scanCount', merged.scanCount);
    if (merged.valueFormat !== 'envelope' && merged.valueFormat !== 'plain')
      throw new RangeError("valueFormat must be 'envelope' or 'plain'");
    if (typeof merged.codec?.encode !== 'function' || typeof merged.codec.decode !== 'function')
      throw new TypeError('codec must have encode() and decode()');
    assertNoKeyPrefix(options, 'RedisCacheAdapter');
    const { client, ownsClient } = resolveConnection(options);
    const store = new RedisStore({
      client,
      namespace,
      commandTimeoutMs,
      scanCount,
      plain: merged.valueFormat === 'plain',
    });
    super(store, { codec: merged.codec });
    this.namespace = namespace;
    this.client = client;
    this.#ownsClient = ownsClient;
    if (ownsClient)
      client.on('error', (error: Error) =>
        this.#events.emit('error', new CacheUnavailableError('connection', error.message, { cause: error })),
      );
  }

  /**
   * Every call but `setMany`, `deletePattern` and `clear` settles within this many ms: `commandTimeoutMs` plus the
   * sweep. Those three may send many commands, and each of their commands is bounded by it instead.
   */
  get callBoundMs(): number {
    return this.store.callBoundMs;
  }

  /** Listens for `event` (only the client's errors, and only for a client this adapter created). */
  on<K extends keyof RedisCacheAdapterEvents>(
    event: K,
    listener: (...args: RedisCacheAdapterEvents[K]) => void,
  ): this {
    this.#events.on(event, listener);
    return this;
  }

  /** Stops listening for `event` with `listener`. */
  off<K extends keyof RedisCacheAdapterEvents>(
    event: K,
    listener: (...args: RedisCacheAdapterEvents[K]) => void,
  ): this {
    this.#events.off(event, listener);
    return this;
  }

  /** How many listeners `event` has. */
  listenerCount(event: keyof RedisCacheAdapterEvents): number {
    return this.#events.listenerCount(event);
  }

  /** Rejects pending calls and closes the client if this adapter created it. */
  override async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await super.close();
    this.#events.removeAllListeners();
    if (this.#ownsClient) await closeClient(this.client);
  }
}
