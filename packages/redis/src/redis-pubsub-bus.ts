import { randomUUID } from 'node:crypto';
import {
  assertOptionNames,
  BUS_WIRE_VERSION,
  type BusListener,
  type BusMessage,
  type BusResetReason,
  type BusSubscribeOptions,
  type BusSuspendReason,
  busInUseError,
  CacheError,
  closedError,
  DeadlineSweeper,
  decodeBusMessage,
  encodeBusMessage,
  type Invalidation,
  invalidationsOfKeys,
  type OrderedBus,
  positiveIntegerOption,
  resolveNamespace,
  SequenceTracker,
  toUnavailableError,
} from '@strata-cache/core';
import type { Cluster, Redis } from 'ioredis';
import { CallGuard } from './call-guard.js';
import { masterOfSlot, refreshSlots } from './cluster-routing.js';
import { type Deferred, deferred } from './deferred.js';
import { keySlot } from './key-slot.js';
import { RedisCacheAdapter } from './redis-cache-adapter.js';
import { closeClient, type RedisConnectionOptions, resolveConnection } from './redis-connection.js';
import { type Announcer, announceBehind } from './redis-write-gatherer.js';

/** Options of {@link RedisPubSubBus}: how to connect (see {@link RedisConnectionOptions}) plus these. */
export interface RedisPubSubBusOptions extends RedisConnectionOptions {
  /** Instances with the same namespace hear each other; use the caches' namespace. @default 'strata' */
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
   * connection looks alive): listeners are reset and the subscriber reconnects.
   * @default 3000
   */
  heartbeatTimeoutMs?: number;
  /** A publish rejects with `CacheUnavailableError` after this many ms. @default 1000 */
  publishTimeoutMs?: number;
}

const DEFAULTS = {
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

/** Statuses of an ioredis connection that has lost its server. */
const LOST_STATUSES: ReadonlySet<string> = new Set(['reconnecting', 'close', 'end']);

/**
 * The most characters of keys (as JSON) one message carries: keys published in one tick travel together, split into
 * messages of at most this much, far below what receivers accept (`MAX_BUS_MESSAGE_LENGTH`); a single key longer
 * than this travels as a pattern matching its beginning (see `invalidationsOfKeys`).
 */
const MESSAGE_KEY_CHARS = 64 * 1024;

/** Keys waiting to be published together, and the promise every publisher of them waits on. */
interface Batch {
  readonly keys: Set<string>;
  chars: number;
  readonly sent: Deferred<void>;
}

/**
 * The `run_id` of the server `client` is connected to, waiting (within the caller's limit) for it to be ready. A
 * Cluster's node connection is asked at once: it connects on its first command, and queues it meanwhile.
 */
async function serverRunId(client: Redis, clusterNode = false): Promise<string | undefined> {
  if (!clusterNode && client.status !== 'ready')
    await new Promise((resolve) => client.once('ready', resolve));
  const info = await client.info('server');
  return /^run_id:(\w+)/m.exec(info)?.[1];
}

/** The channel of a namespace: the wire version is part of it, so a rolling upgrade never mis-parses. */
export function busChannel(namespace: string): string {
  return `strata:bus:v${BUS_WIRE_VERSION}:${namespace}`;
}

/**
 * An {@link OrderedBus} (an `InvalidationBus` that can publish right behind a paired adapter's writes) over Redis
 * pub/sub. It publishes through the given (or its own) client, or the paired adapter's, and listens on a dedicated
 * subscriber connection. Messages carry the sender's id and sequence number; a gap in a sender's
 * sequence, a reconnect of the subscriber, or a heartbeat that does not come back all tell listeners to `reset`.
 * Only invalidations travel, never values.
 */
export class RedisPubSubBus implements OrderedBus {
  readonly id: string;
  /** The Redis channel in use. */
  readonly channel: string;
  readonly #publisher: Redis | Cluster;
  readonly #ownsPublisher: boolean;
  readonly #subscriber: Redis | Cluster;
  #listener: BusListener | undefined;
  readonly #tracker = new SequenceTracker();
  readonly #deadlines: DeadlineSweeper;
  /** Bounds each publish, and holds one issued while the publisher (re)connects until it is ready. */
  readonly #guard: CallGuard;
  readonly #heartbeatTimeoutMs: number;
  readonly #heartbeat: ReturnType<typeof setInterval>;
  /** The listener's `subscribe` call, while it waits for the subscription to be live. */
  #waiting: Deferred<void> | undefined;
  /** How every message this bus publishes begins (see `#send`). */
  readonly #ownPrefix: string;
  /** The last sequence number sent, per stream ('' for the main one). */
  readonly #seqs = new Map<string, number>();
  #batch: Batch | undefined;
  /** How the paired cache's writes carry this bus's invalidations (see `publishBehind`). */
  readonly #announcer: Announcer;
  /**
   * The cache this bus is paired with (see `pairWith`), and on a standalone server its connection, which this bus
   * then publishes through.
   */
  #paired: { readonly cache: RedisCacheAdapter; readonly client: Redis | undefined } | undefined;
  #slotsRefreshedAt = Number.NEGATIVE_INFINITY;
  #lastOwnMessageAt = performance.now();
  /** Subscribed on a connection not presumed dead: messages are being heard. */
  #live = false;
  /** How the subscription was last lost, if it was: the reason its listener is told when it is live again. */
  #lostBy: BusResetReason | undefined;
  #closed = false;

  /**
   * @throws {TypeError} for an unknown option or one of the wrong type.
   * @throws {RangeError} for an option out of range (a size, a time, a namespace with `:`).
   */
  constructor(options: RedisPubSubBusOptions) {
    assertOptionNames('RedisPubSubBus', options, OPTION_NAMES);
    const merged = { ...DEFAULTS, ...options };
    this.channel = busChannel(resolveNamespace(merged.namespace));
    this.#announcer = {
      channel: this.channel,
      messages: (keys, stream) =>
        invalidationsOfKeys(keys, MESSAGE_KEY_CHARS).map((invalidation) =>
          this.#encode(invalidation, stream),
        ),
    };
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
    this.#deadlines = new DeadlineSweeper(publishTimeoutMs);
    const {
      id: _id,
      namespace: _ns,
      heartbeatMs: _h,
      heartbeatTimeoutMs: _t,
      publishTimeoutMs: _p,
      ...connection
    } = options;
    const { client, ownsClient } = resolveConnection(connection);
    this.#publisher = client;
    this.#ownsPublisher = ownsClient;
    this.#guard = new CallGuard(client, publishTimeoutMs);
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
   * together in one message, sent when the tick ends.
   */
  async publish(invalidation: Invalidation): Promise<void> {
    if (this.#closed) throw closedError('publish');
    if (invalidation.kind === 'keys' && invalidation.keys.length > 0) return this.#enqueue(invalidation.keys);
    this.#flush();
    await this.#send(invalidation);
  }

  /**
   * Pairs with `cache` when it is a {@link RedisCacheAdapter} on the very server this bus publishes to (same
   * `run_id`; on a Cluster, the same node serving the channel's slot). From then on
   * {@link RedisPubSubBus.publishBehind} puts an invalidation into the very command that writes the keys it names;
   * on a standalone (or Sentinel) server every other message also goes out on the adapter's connection while it is
   * ready. A bus pairs with one cache at most.
   */
  async pairWith(cache: unknown): Promise<boolean> {
    if (this.#paired !== undefined) return this.#paired.cache === cache;
    if (this.#closed || !(cache instanceof RedisCacheAdapter)) return false;
    if (cache.client.isCluster !== this.#publisher.isCluster) return false;
    try {
      const [mine, theirs] = await this.#deadlines.run('pair', () =>
        Promise.all([this.#pairingRunId(this.#publisher), this.#pairingRunId(cache.client)]),
      );
      if (mine === undefined || mine !== theirs || this.#closed) return false;
    } catch {
      return false;
    }
    this.#paired ??= { cache, client: cache.client.isCluster ? undefined : (cache.client as Redis) };
    return this.#paired.cache === cache;
  }

  /** The `run_id` of the server `client` publishes to: itself, or on a Cluster the master of the channel's slot. */
  async #pairingRunId(client: Redis | Cluster): Promise<string | undefined> {
    if (!client.isCluster) return serverRunId(client as Redis);
    const cluster = client as Cluster;
    if (cluster.status !== 'ready') await new Promise((resolve) => cluster.once('ready', resolve));
    const slot = keySlot(this.channel);
    // Right after 'ready' the node list may still be filling in: reload the table once before giving up.
    let node = masterOfSlot(cluster, slot);
    if (node === undefined) {
      await refreshSlots(cluster);
      node = masterOfSlot(cluster, slot);
    }
    return node === undefined ? undefined : serverRunId(node, true);
  }

  /**
   * Publishes the invalidation of keys whose writes were just issued on the paired `cache` from within the command
   * that carries those writes: Redis runs the writes, then publishes it, and the caller hears of both at once.
   * `undefined` (nothing sent) unless paired with `cache` and every key named has a write of this tick still to be
   * sent (the caller then publishes it once its write is done).
   */
  publishBehind(cache: unknown, invalidation: Invalidation): Promise<void> | undefined {
    const paired = this.#paired;
    if (this.#closed || paired === undefined || paired.cache !== cache || invalidation.kind !== 'keys')
      return undefined;
    return announceBehind(cache, invalidation.keys, this.#announcer);
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

  /** Stops heartbeats, closes the subscriber, and the publisher if this bus created it. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#heartbeat);
    this.#listener = undefined;
    this.#waiting?.reject(closedError('subscribe'));
    this.#batch?.sent.reject(closedError('publish'));
    this.#batch = undefined;
    this.#deadlines.abort((operation) => closedError(operation));
    this.#guard.abort((operation) => closedError(operation));
    await Promise.all([this.#subscriber, ...(this.#ownsPublisher ? [this.#publisher] : [])].map(closeClient));
  }

  /** Same as {@link RedisPubSubBus.close}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /** Adds `keys` to this tick's batch; resolves when the batch is published. */
  #enqueue(keys: readonly string[]): Promise<void> {
    let batch = this.#batch;
    if (batch === undefined) {
      batch = this.#batch = { keys: new Set(), chars: 0, sent: deferred<void>() };
      // After every promise reaction of this tick: the writes whose invalidations these are were all issued before.
      process.nextTick(() => this.#flush());
    }
    for (const key of keys) {
      if (batch.keys.has(key)) continue;
      batch.keys.add(key);
      batch.chars += key.length + 1;
    }
    const { promise } = batch.sent;
    if (batch.chars >= MESSAGE_KEY_CHARS) this.#flush();
    return promise;
  }

  /** Sends the pending batch, if any, now: as many messages as its keys need. */
  #flush(): void {
    const batch = this.#batch;
    if (batch === undefined) return;
    this.#batch = undefined;
    const messages = invalidationsOfKeys([...batch.keys], MESSAGE_KEY_CHARS);
    Promise.all(messages.map((invalidation) => this.#send(invalidation))).then(
      () => batch.sent.resolve(),
      batch.sent.reject,
    );
  }

  async #send(invalidation: Invalidation): Promise<void> {
    // Through the guard: a publish issued before the publisher is connected (right after start-up) waits for it. The
    // message is numbered as it is sent: messages leave each connection in the order of their numbers.
    await this.#guard.run('publish', () =>
      this.#publishVia().publish(this.channel, this.#encode(invalidation)),
    );
  }

  /** The next message of this bus in `stream` (`undefined`: the main one), numbered. */
  #encode(invalidation: Invalidation, stream?: string): string {
    const seq = (this.#seqs.get(stream ?? '') ?? 0) + 1;
    this.#seqs.set(stream ?? '', seq);
    // Version and origin first, so that receivers recognise their own messages by prefix, without parsing them.
    const message: BusMessage =
      stream === undefined
        ? { v: BUS_WIRE_VERSION, origin: this.id, seq, ...invalidation }
        : { v: BUS_WIRE_VERSION, origin: this.id, seq, stream, ...invalidation };
    return encodeBusMessage(message);
  }

  /**
   * Where PUBLISH goes. A Cluster client sends a keyless command to a random node, and each node relays it over its
   * own link, so one sender's messages would arrive out of order and every reordering would look like a loss (a
   * reset, which empties the listeners' L1). All of this bus's messages go through one node instead: the master
   * of the channel's slot.
   */
  #publishVia(): Redis | Cluster {
    // Paired, messages go out on the cache's connection, where its writes carry theirs: in the order of their numbers.
    // While it is not ready, our own one serves.
    const paired = this.#paired?.client;
    if (paired !== undefined && paired.status === 'ready') return paired;
    if (!this.#publisher.isCluster) return this.#publisher;
    const cluster = this.#publisher as Cluster;
    const node = masterOfSlot(cluster, keySlot(this.channel));
    // Pool connections start lazily ('wait') and queue while connecting: only a lost one means a stale table.
    if (node !== undefined && !LOST_STATUSES.has(node.status)) return node;
    // After a failover the table still names the dead master, and PUBLISH (keyless) never gets the MOVED reply
    // that would make ioredis reload it: reload it here (at most every 100 ms); meanwhile any node will do.
    const now = performance.now();
    if (now - this.#slotsRefreshedAt > 100) {
      this.#slotsRefreshedAt = now;
      cluster.refreshSlotsCache();
    }
    return cluster;
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
    this.#send({ kind: 'keys', keys: [] }).catch(() => {});
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
