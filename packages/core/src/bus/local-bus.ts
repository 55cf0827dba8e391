import { randomUUID } from 'node:crypto';
import { closedError } from '../errors.js';
import {
  BUS_WIRE_VERSION,
  type BusListener,
  type BusMessage,
  type BusSubscribeOptions,
  busInUseError,
  type Invalidation,
  type InvalidationBus,
} from './bus.js';

/** Options of {@link LocalBusChannel}. */
export interface LocalBusChannelOptions {
  /**
   * Runs each delivery; tests pass a scheduler to choose the order of deliveries.
   * @default queueMicrotask (asynchronous, in publish order)
   */
  schedule?: (deliver: () => void) => void;
}

/** The shared medium of in-process buses: every {@link LocalBus} on one channel hears the others. */
export class LocalBusChannel {
  readonly #endpoints = new Set<LocalBus>();
  readonly #schedule: (deliver: () => void) => void;

  constructor(options: LocalBusChannelOptions = {}) {
    this.#schedule = options.schedule ?? queueMicrotask;
  }

  /** @internal Adds an endpoint. */
  join(bus: LocalBus): void {
    this.#endpoints.add(bus);
  }

  /** @internal Removes an endpoint. */
  leave(bus: LocalBus): void {
    this.#endpoints.delete(bus);
  }

  /** @internal Delivers `message` to every endpoint but its sender (by identity: two endpoints may share an id). */
  broadcast(sender: LocalBus, message: BusMessage): void {
    for (const endpoint of this.#endpoints) {
      if (endpoint !== sender) this.#schedule(() => endpoint.deliver(message));
    }
  }
}

/** Options of {@link LocalBus}. */
export interface LocalBusOptions {
  /** The channel to join; buses on the same channel hear each other. @default a new private channel */
  channel?: LocalBusChannel;
  /** This endpoint's origin id. @default a random UUID */
  id?: string;
}

/** Options of {@link LocalBus.disconnect}. */
export interface LocalBusDisconnectOptions {
  /**
   * Simulate a loss nobody notices (a half-open connection): the listener is not told that the subscription is
   * suspended, only, on `reconnect`, that messages were missed.
   * @default false (the listener is suspended at once, as a bus noticing a closed connection would do)
   */
  silent?: boolean;
}

/**
 * An in-process {@link InvalidationBus}, for tests and single-process use. It never loses a message unless a test
 * disconnects it ({@link LocalBus.disconnect}), and then it reports a `reset` when reconnected, as a network bus would.
 * Like every Strata bus it serves one listener (one cache) at a time.
 */
export class LocalBus implements InvalidationBus {
  readonly id: string;
  readonly #channel: LocalBusChannel;
  #listener: BusListener | undefined;
  #seq = 0;
  #connected = true;
  #closed = false;

  constructor(options: LocalBusOptions = {}) {
    this.id = options.id ?? randomUUID();
    this.#channel = options.channel ?? new LocalBusChannel();
    this.#channel.join(this);
  }

  /** Broadcasts `invalidation` to the other endpoints of the channel. */
  async publish(invalidation: Invalidation): Promise<void> {
    if (this.#closed) throw closedError('publish');
    this.#seq += 1;
    // Dropped while disconnected, as pub/sub drops it; the receivers learn of it through their gap detection.
    if (!this.#connected) return;
    this.#channel.broadcast(this, { ...invalidation, v: BUS_WIRE_VERSION, origin: this.id, seq: this.#seq });
  }

  /**
   * Registers `listener` (live at once).
   * @throws {TypeError} when another listener is registered: each cache needs a bus of its own.
   */
  async subscribe(listener: BusListener, options: BusSubscribeOptions = {}): Promise<() => void> {
    if (this.#closed) throw closedError('subscribe');
    options.signal?.throwIfAborted();
    if (this.#listener !== undefined) throw busInUseError('LocalBus');
    this.#listener = listener;
    if (!this.#connected) listener.suspend('disconnect');
    return () => {
      if (this.#listener === listener) this.#listener = undefined;
    };
  }

  /** Simulates a lost connection: messages sent and received meanwhile are dropped. */
  disconnect(options: LocalBusDisconnectOptions = {}): void {
    if (!this.#connected) return;
    this.#connected = false;
    this.#channel.leave(this);
    if (options.silent !== true) this.#listener?.suspend('disconnect');
  }

  /** Ends a simulated disconnection: the listener is told to `reset`, since it may have missed messages. */
  reconnect(): void {
    if (this.#closed || this.#connected) return;
    this.#connected = true;
    this.#channel.join(this);
    this.#listener?.reset('reconnect');
  }

  /** @internal Called by the channel. */
  deliver(message: BusMessage): void {
    if (!this.#connected || this.#closed) return;
    this.#listener?.invalidate(message);
  }

  /** Leaves the channel. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#listener = undefined;
    this.#channel.leave(this);
  }

  /** Same as {@link LocalBus.close}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
