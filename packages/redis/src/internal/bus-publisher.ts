import {
  BUS_WIRE_VERSION,
  type BusMessage,
  encodeBusMessage,
  type Invalidation,
  invalidationsOfKeys,
} from '@strata-cache/core';
import { closedError, TickBatcher } from '@strata-cache/core/internal';
import type { Cluster, Redis } from 'ioredis';
import type { CallGuard } from './call-guard.js';
import { masterOfSlot } from './cluster-routing.js';
import { type Deferred, deferred } from './deferred.js';
import { keySlot } from './key-slot.js';
import type { Announcer } from './write-gatherer.js';

/**
 * The most characters of keys (as JSON) one message carries: keys published in one tick travel together, split into
 * messages of at most this much, far below what receivers accept (`MAX_BUS_MESSAGE_LENGTH`); a single key longer
 * than this travels as a pattern matching its beginning (see `invalidationsOfKeys`).
 */
const MESSAGE_KEY_CHARS = 64 * 1024;

/** Statuses of an ioredis connection that has lost its server. */
const LOST_STATUSES: ReadonlySet<string> = new Set(['reconnecting', 'close', 'end']);

/** Keys waiting to be published together, and the promise every publisher of them waits on. */
interface Batch {
  readonly keys: Set<string>;
  chars: number;
  readonly sent: Deferred<void>;
}

/**
 * Numbers and publishes one bus's messages. Keys published within one tick travel together; every message is numbered
 * as it is sent, per stream, so that each stream's messages leave in the order of their numbers. It also builds the
 * messages a store's writes carry (see {@link BusPublisher.announcer}).
 */
export class BusPublisher {
  /** How a store's writes carry this bus's invalidations, numbered in the stream of the node that runs them. */
  readonly announcer: Announcer;
  readonly #channel: string;
  readonly #origin: string;
  readonly #client: Redis | Cluster;
  readonly #guard: CallGuard;
  readonly #batcher: TickBatcher<Batch>;
  /** The last sequence number sent, per stream ('' for the main one). */
  readonly #seqs = new Map<string, number>();
  #slotsRefreshedAt = Number.NEGATIVE_INFINITY;

  /** Publishes on `channel` as `origin` through `client`, each PUBLISH bounded by `guard`. */
  constructor(channel: string, origin: string, client: Redis | Cluster, guard: CallGuard) {
    this.#channel = channel;
    this.#origin = origin;
    this.#client = client;
    this.#guard = guard;
    this.announcer = {
      channel,
      messages: (keys, stream) =>
        invalidationsOfKeys(keys, MESSAGE_KEY_CHARS).map((invalidation) =>
          this.#encode(invalidation, stream),
        ),
    };
    this.#batcher = new TickBatcher<Batch>(
      () => ({ keys: new Set(), chars: 0, sent: deferred<void>() }),
      (batch) => this.#sendBatch(batch),
      (batch) => batch.chars >= MESSAGE_KEY_CHARS,
    );
  }

  /** Publishes `invalidation`; keys published within one tick go together. Resolves once Redis accepted it. */
  publish(invalidation: Invalidation): Promise<void> {
    if (invalidation.kind === 'keys' && invalidation.keys.length > 0) {
      const batch = this.#batcher.current();
      for (const key of invalidation.keys) {
        if (batch.keys.has(key)) continue;
        batch.keys.add(key);
        batch.chars += key.length + 1;
      }
      this.#batcher.sendIfFull();
      return batch.sent.promise;
    }
    // Whatever keys wait go first: messages leave in the order they were published.
    this.#batcher.sendNow();
    return this.#send(invalidation);
  }

  /** Rejects whatever waits to be sent (the bus is closing). */
  abort(): void {
    this.#batcher.take()?.sent.reject(closedError('publish'));
  }

  #sendBatch(batch: Batch): void {
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
      this.#publishVia().publish(this.#channel, this.#encode(invalidation)),
    );
  }

  /** The next message of this bus in `stream` (`undefined`: the main one), numbered. */
  #encode(invalidation: Invalidation, stream?: string): string {
    const seq = (this.#seqs.get(stream ?? '') ?? 0) + 1;
    this.#seqs.set(stream ?? '', seq);
    // Version and origin first, so that receivers recognise their own messages by prefix, without parsing them.
    const message: BusMessage =
      stream === undefined
        ? { v: BUS_WIRE_VERSION, origin: this.#origin, seq, ...invalidation }
        : { v: BUS_WIRE_VERSION, origin: this.#origin, seq, stream, ...invalidation };
    return encodeBusMessage(message);
  }

  /**
   * Where PUBLISH goes. A Cluster client sends a keyless command to a random node, and each node relays it over its
   * own link, so one sender's messages would arrive out of order and every reordering would look like a loss (a
   * reset, which empties the listeners' L1). All of this bus's messages go through one node instead: the master
   * of the channel's slot.
   */
  #publishVia(): Redis | Cluster {
    if (!this.#client.isCluster) return this.#client;
    const cluster = this.#client as Cluster;
    const node = masterOfSlot(cluster, keySlot(this.#channel));
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
}
