import { randomUUID } from 'node:crypto';
import {
  BUS_WIRE_VERSION,
  type BusListener,
  type BusMessage,
  type BusResetReason,
  type BusSubscribeOptions,
  type BusSuspendReason,
  CacheError,
  decodeBusMessage,
  type Invalidation,
  type InvalidationBus,
  resolveNamespace,
} from '@strata-cache/core';
import {
  assertOptionNames,
  busInUseError,
  closedError,
  positiveIntegerOption,
  SequenceTracker,
  toUnavailableError,
} from '@strata-cache/core/internal';
import type { Cluster, Redis } from 'ioredis';
import { BusPublisher } from './internal/bus-publisher.js';
import { CallGuard } from './internal/call-guard.js';
import { type Deferred, deferred } from './internal/deferred.js';
import type { RedisCacheAdapter } from './redis-cache-adapter.js';
import { closeClient, type RedisConnectionOptions, resolveConnection } from './redis-connection.js';

/**
 * Options of {@link RedisPubSubBus}: the adapter whose connection it shares (and whose writes it then announces from
 * the commands that write them), or how to connect (see {@link RedisConnectionOptions}); plus these.
 */
export interface RedisPubSubBusOptions extends RedisConnectionOptions {
  /**
   * The Redis adapter of the caches this bus serves: the bus publishes through its connection and uses its
   * namespace, and the adapter's writes made through a `TieredCache` on this bus carry their invalidation in the
   * very command that writes them (one round trip for both, and no one hears of a write before it took effect).
   * Give it instead of connection settings.
   */
  adapter?: RedisCacheAdapter;
  /**
   * Instances with the same namespace hear each other; use the caches' namespace (with `adapter`: its namespace,
   * which this must equal if given).
   * @default 'strata'
   */
  namespace?: string;
  /**
   * A name for this instance: its messages' origin is this name followed by `/` and a random suffix, so two
   * instances given the same name still hear each other.
   * @default a random UUID (no suffix)
   */
  id?: string;
  /** How often this instance sends itself a heartbeat through Redis, in ms. @default 1000 */
  heartbeatMs?: number;
  /**
   * When no own heartbeat came back for this long, the subscriber is presumed silently dead (a half-open TCP
   * connection looks alive): its listener is suspended, the subscriber reconnects, and the listener is reset once
   * subscribed again.
   * @default 3000
   */
  heartbeatTimeoutMs?: number;
  /** A publish rejects with `CacheUnavailableError` after this many ms. @default 1000 */
  publishTimeoutMs?: number;
}

const DEFAULTS = {
  adapter: undefined,
  namespace: undefined,
  id: undefined,
  heartbeatMs: 1_000,
  heartbeatTimeoutMs: 3_000,
  publishTimeoutMs: 1_000,
};

const OPTION_NAMES: ReadonlySet<string> = new Set([
  'client',
  'url',
  'redisOptions',
  'cluster',
  ...Object.keys(DEFAULTS),
]);

/** The channel of a namespace: the wire version is part of it, so a rolling upgrade never mis-parses. */
export function busChannel(namespace: string): string {
  return `strata:bus:v${BUS_WIRE_VERSION}:${namespace}`;
}

/**
 * An {@link InvalidationBus} over Redis pub/sub. It publishes through its adapter's connection (or its own, or the
 * given client) and listens on a dedicated subscriber connection. Messages carry the sender's id and sequence number;
 * a closed subscriber connection, or a heartbeat that does not come back, suspends its listener until it is
 * subscribed again (then it resets it); so does a gap in a sender's sequence (a reset). Only invalidations travel,
 * never values.
 */
export class RedisPubSubBus implements InvalidationBus {
  readonly id: string;
  /** The Redis channel in use. */
  readonly channel: string;
  readonly #client: Redis | Cluster;
  readonly #ownsClient: boolean;
  readonly #adapter: RedisCacheAdapter | undefined;
  readonly #subscriber: Redis | Cluster;
  readonly #publisher: BusPublisher;
  #listener: BusListener | undefined;
  readonly #tracker = new SequenceTracker();
  /** Bounds each publish, and holds one issued while the connection (re)connects until it is ready. */
  readonly #guard: CallGuard;
  readonly #heartbeatTimeoutMs: number;
  readonly #heartbeat: ReturnType<typeof setInterval>;
  /** The listener's `subscribe` call, while it waits for the subscription to be live. */
  #waiting: Deferred<void> | undefined;
  /** How every message this bus publishes begins (see `BusPublisher`). */
  readonly #ownPrefix: string;
  #lastOwnMessageAt = performance.now();
  /** Subscribed on a connection not presumed dead: messages are being heard. */
  #live = false;
  /** How the subscription was last lost, if it was: the reason its listener is told when it is live again. */
  #lostBy: BusResetReason | undefined;
  #closed = false;

  /**
   * @throws {TypeError} for an unknown option or one of the wrong type, or both an adapter and connection settings.
   * @throws {RangeError} for an option out of range (a size, a time, a namespace with `:`, or one other than the
   * adapter's).
   */
  constructor(options: RedisPubSubBusOptions) {
    assertOptionNames('RedisPubSubBus', options, OPTION_NAMES);
    const merged = { ...DEFAULTS, ...options };
    const {
      adapter,
      id: _id,
      namespace: _ns,
      heartbeatMs: _h,
      heartbeatTimeoutMs: _t,
      publishTimeoutMs: _p,
      ...connection
    } = options;
    let namespace: string;
    if (adapter !== undefined) {
      if (typeof adapter !== 'object' || typeof adapter.store?.announceOn !== 'function')
        throw new TypeError('adapter must be a RedisCacheAdapter');
      if (Object.values(connection).some((value) => value !== undefined))
        throw new TypeError(
          'Pass either adapter or connection settings (client, url, redisOptions, cluster), not both',
        );
      namespace = adapter.namespace;
      if (merged.namespace !== undefined && resolveNamespace(merged.namespace) !== namespace)
        throw new RangeError(
          `namespace ${JSON.stringify(merged.namespace)} differs from the adapter's (${JSON.stringify(namespace)}): ` +
            "a bus must carry the invalidations of its caches' own keys",
        );
    } else {
      namespace = resolveNamespace(merged.namespace);
    }
    this.channel = busChannel(namespace);
    if (merged.id !== undefined && (typeof merged.id !== 'string' || merged.id.length === 0))
      throw new TypeError('id must be a non-empty string');
    // A name given twice (two processes started alike) must not make them take each other's messages for their own.
    this.id = merged.id === undefined ? randomUUID() : `${merged.id}/${randomUUID().slice(0, 8)}`;
    this.#ownPrefix = `{"v":${BUS_WIRE_VERSION},"origin":${JSON.stringify(this.id)},`;
    const heartbeatMs = positiveIntegerOption('heartbeatMs', merged.heartbeatMs);
    this.#heartbeatTimeoutMs = positiveIntegerOption('heartbeatTimeoutMs', merged.heartbeatTimeoutMs);
    if (this.#heartbeatTimeoutMs <= heartbeatMs)
      throw new RangeError('heartbeatTimeoutMs must be longer than heartbeatMs');
    const publishTimeoutMs = positiveIntegerOption('publishTimeoutMs', merged.publishTimeoutMs);
    const { client, ownsClient } =
      adapter === undefined ? resolveConnection(connection) : { client: adapter.client, ownsClient: false };
    this.#client = client;
    this.#ownsClient = ownsClient;
    this.#adapter = adapter;
    this.#guard = new CallGuard(client, publishTimeoutMs);
    this.#publisher = new BusPublisher(this.channel, this.id, client, this.#guard);
    adapter?.store.announceOn(this, this.#publisher.announcer);
    // The subscriber is always our own connection: a subscribed connection can do nothing else.
    this.#subscriber = client.isCluster
      ? (client as Cluster).duplicate(undefined, { redisOptions: { autoResubscribe: false } })
      : (client as Redis).duplicate({ autoResubscribe: false });
    this.#subscriber.on('error', (error: Error) => this.#broadcastError(error));
    if (ownsClient) client.on('error', () => {});
    this.#subscriber.on('message', (channel: string, text: string) => {
      if (channel === this.channel) this.#receive(text);
    });
    this.#subscriber.on('ready', () => {
      void this.#subscribe().catch((error: unknown) => this.#broadcastError(error));
    });
    // Messages sent from now until it is subscribed again are gone.
    this.#subscriber.on('close', () => this.#lost('disconnect'));
    this.#heartbeat = setInterval(() => this.#beat(), heartbeatMs);
    this.#heartbeat.unref();
  }

  /**
   * Broadcasts `invalidation` with PUBLISH; resolves once Redis accepted it. Keys published within one tick travel
   * together, in as few messages as their size allows, sent when the tick ends.
   */
  async publish(invalidation: Invalidation): Promise<void> {
    if (this.#closed) throw closedError('publish');
    await this.#publisher.publish(invalidation);
  }

  /**
   * Registers `listener`; resolves once the subscription is live (waiting for Redis if it is down), unless
   * `signal` aborts first, which unregisters it.
   * @throws {TypeError} when another listener is registered: each cache needs a bus of its own.
   */
  async subscribe(listener: BusListener, options: BusSubscribeOptions = {}): Promise<() => void> {
    if (this.#closed) throw closedError('subscribe');
    const { signal } = options;
    signal?.throwIfAborted();
    if (this.#listener !== undefined) throw busInUseError('RedisPubSubBus');
    this.#listener = listener;
    const unsubscribe = (): void => {
      if (this.#listener === listener) this.#listener = undefined;
    };
    if (!this.#live) {
      // A waiter of its own, dropped on abort: nothing long-lived may keep a reference to a caller that gave up.
      const waiting = deferred<void>();
      this.#waiting = waiting;
      const abort = (): void => waiting.reject(signal?.reason);
      signal?.addEventListener('abort', abort, { once: true });
      try {
        await waiting.promise;
      } catch (error) {
        unsubscribe();
        throw error;
      } finally {
        signal?.removeEventListener('abort', abort);
        if (this.#waiting === waiting) this.#waiting = undefined;
      }
    }
    return unsubscribe;
  }

  /** Stops heartbeats, closes the subscriber, and the connection if this bus created it (never its adapter's). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#heartbeat);
    this.#adapter?.store.stopAnnouncing(this);
    this.#listener = undefined;
    this.#waiting?.reject(closedError('subscribe'));
    this.#publisher.abort();
    this.#guard.abort((operation) => closedError(operation));
    await Promise.all([this.#subscriber, ...(this.#ownsClient ? [this.#client] : [])].map(closeClient));
  }

  /** Same as {@link RedisPubSubBus.close}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #subscribe(): Promise<void> {
    await this.#subscriber.subscribe(this.channel);
    if (this.#closed) return;
    this.#lastOwnMessageAt = performance.now();
    this.#live = true;
    // Messages sent while the subscriber was away are gone: only now, with the subscription live again, can the
    // listener safely drop what it derived from the ones it missed, and trust what it derives from now on.
    const lostBy = this.#lostBy;
    this.#lostBy = undefined;
    if (lostBy !== undefined) this.#reset(lostBy);
    this.#waiting?.resolve();
  }

  /** The subscription is lost (or presumed so): the listener is suspended until it is live again. */
  #lost(reason: BusSuspendReason): void {
    if (!this.#live || this.#closed) return;
    this.#live = false;
    this.#lostBy = reason === 'heartbeat' ? 'heartbeat' : 'reconnect';
    this.#listener?.suspend(reason);
  }

  #receive(text: string): void {
    // Every instance hears its own publishes (heartbeats included): recognise them without a JSON.parse.
    if (text.startsWith(this.#ownPrefix)) {
      this.#lastOwnMessageAt = performance.now();
      return;
    }
    let message: BusMessage;
    try {
      message = decodeBusMessage(text);
    } catch (error) {
      this.#broadcastError(error);
      // What could not be read may have been an invalidation: dropping it silently could leave the listener stale.
      this.#reset('malformed');
      return;
    }
    if (message.origin === this.id) return;
    const inSequence = this.#tracker.accept(message);
    if (!inSequence) this.#reset('gap');
    // Heartbeats are invalidations of no key: they only carry the sender's sequence.
    if (message.kind === 'keys' && message.keys.length === 0) return;
    this.#listener?.invalidate(message);
  }

  #beat(): void {
    if (this.#closed) return;
    if (this.#live && performance.now() - this.#lastOwnMessageAt > this.#heartbeatTimeoutMs) {
      this.#lost('heartbeat');
      // Drop the (possibly half-open) connection; once subscribed again on a new one, the listener is reset.
      this.#subscriber.disconnect(true);
    }
    this.#publisher.publish({ kind: 'keys', keys: [] }).catch(() => {});
  }

  #reset(reason: BusResetReason): void {
    this.#tracker.reset();
    this.#listener?.reset(reason);
  }

  /** Reports a failure to the listener as Strata's own error (the client's, if any, as its `cause`). */
  #broadcastError(error: unknown): void {
    this.#listener?.error(error instanceof CacheError ? error : toUnavailableError('bus', error));
  }
}
