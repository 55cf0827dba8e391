import {
  type BusListener,
  type BusMessage,
  type BusResetReason,
  type BusSuspendReason,
  CacheError,
  CacheUnavailableError,
  type Invalidation,
  type InvalidationBus,
} from '@strata-cache/core';
import { busInUseError, closedError } from '@strata-cache/core/internal';
import type { TierSet } from './tier-set.js';

/** The buses serving a cache: a cache never hears what another cache publishes through its own bus. */
const BUSES_IN_USE = new WeakSet<InvalidationBus>();

/**
 * Keeps the tiers above the last coherent with other instances through the bus: publishes this instance's changes,
 * applies others' (drops the keys and stamps the fence), and decides when the upper tiers may be used at all: only
 * while the subscription is live. Before it is, while the bus says it is not (`suspend`), and while they are being
 * dropped after a `reset`, they are neither read nor filled; if subscribing fails, never.
 */
export class Coherence {
  /** Resolves once the subscription is live; rejects, saying why, if it never will be. */
  readonly ready: Promise<void>;
  /** The bus when the last tier announces its own writes on it (see `CacheStore.announcesOn`). */
  readonly announcer: InvalidationBus | undefined;
  readonly #set: TierSet;
  readonly #bus: InvalidationBus | undefined;
  /** Aborted on close: a subscription still being set up is given up. */
  readonly #closing = new AbortController();
  /** The bus subscription was set up and the tiers above dropped since (always, without a bus). */
  #subscribed = false;
  /** The bus said its subscription is not live, and has not said it is again. */
  #busDown = false;
  /** Drops of the upper tiers under way (after a reset). */
  #dropping = 0;
  #unsubscribe: (() => void) | undefined;
  #closed = false;

  /** @throws {TypeError} when `bus` already serves another cache. */
  constructor(set: TierSet, bus: InvalidationBus | undefined) {
    this.#set = set;
    this.#bus = bus;
    if (bus === undefined) {
      this.announcer = undefined;
      this.#subscribed = true;
      this.#update();
      this.ready = Promise.resolve();
      return;
    }
    if (BUSES_IN_USE.has(bus)) throw busInUseError('bus');
    BUSES_IN_USE.add(bus);
    this.announcer = set.last.store.announcesOn(bus) ? bus : undefined;
    this.ready = this.#subscribe(bus);
    // Observed here: a cache nobody asks `ready()` of must not report an unhandled rejection.
    this.ready.catch(() => {});
  }

  /** Publishes `invalidation`; never rejects (a failure is an `error` event: the write itself took effect). */
  async publish(invalidation: Invalidation): Promise<void> {
    const bus = this.#bus;
    if (bus === undefined) return;
    try {
      await bus.publish(invalidation);
      this.sent(invalidation);
    } catch (error) {
      // Other instances are bounded by maxTtl (and reset when their bus reconnects).
      this.#set.observer.error('publish', error);
    }
  }

  /**
   * A write that failed may still be applied later (a command sent before a hang is run when the backend resumes):
   * the other instances must drop what it touched too. Not awaited, so that a dead bus adds no time of its own to
   * the failed call; if the message is lost as well, the receivers' gap detection or reset covers it.
   */
  publishUnknownEffect(invalidation: Invalidation): void {
    void this.publish(invalidation);
  }

  /** `invalidation` went out (published, or announced by the write itself). */
  sent(invalidation: Invalidation): void {
    const observer = this.#set.observer;
    observer.counts.sent++;
    observer.emitter.emit('invalidation-sent', invalidation);
  }

  /** Unsubscribes; a subscription still being set up is given up. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#update();
    this.#closing.abort(closedError('subscribe'));
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    if (this.#bus !== undefined) BUSES_IN_USE.delete(this.#bus);
  }

  /** Derives whether the upper tiers may be used from the subscription's state. */
  #update(): void {
    this.#set.upperOpen = this.#subscribed && !this.#busDown && this.#dropping === 0 && !this.#closed;
  }

  /**
   * Subscribes to the bus, then drops the upper tiers (they may hold what was invalidated unheard before): from then
   * on they are used while the subscription is live. If subscribing fails they never are (this cache cannot hear
   * other instances), and `ready` says why.
   */
  async #subscribe(bus: InvalidationBus): Promise<void> {
    const listener: BusListener = {
      invalidate: (message) => this.#onInvalidation(message),
      suspend: (reason) => this.#onSuspend(reason),
      reset: (reason) => this.#onReset(reason),
      error: (error) => this.#set.observer.error('bus', error),
    };
    try {
      const unsubscribe = await bus.subscribe(listener, { signal: this.#closing.signal });
      if (this.#closed) {
        unsubscribe();
        throw closedError('ready');
      }
      this.#unsubscribe = unsubscribe;
      await this.#dropUpper('subscribe');
    } catch (error) {
      if (this.#closed) throw closedError('ready');
      this.#set.observer.error('subscribe', error);
      throw error instanceof CacheError
        ? error
        : new CacheUnavailableError('subscribe', 'the bus could not subscribe', { cause: error });
    }
    this.#subscribed = true;
    this.#update();
  }

  #onInvalidation(message: BusMessage): void {
    if (this.#closed) return;
    const set = this.#set;
    set.observer.counts.received++;
    if (message.kind === 'keys') {
      for (const key of message.keys) set.fence.touch(key);
      void set.dropUpper(message.keys);
      set.watch.touch(message.keys);
    } else if (message.kind === 'tags') {
      set.tags.heard(message.tags, message.versions);
      // Which keys carry the tags is not known here: no run that began before joins a call from now on, and no
      // fill read before lands (their copies would be screened out anyway).
      set.fence.touchAll();
    } else {
      if (message.kind === 'clear') set.fence.touchAll();
      else set.fence.touchPattern(message.pattern);
      set.watch.touchAll();
      for (const tier of set.upper) {
        const done =
          message.kind === 'clear' ? tier.cache.clear() : tier.cache.deletePattern(message.pattern);
        done.catch((e: unknown) => set.observer.error('invalidation', e, tier.index));
      }
    }
    set.observer.emitter.emit('invalidation-received', message);
  }

  /** The bus cannot hear other instances for now: the upper tiers are neither read nor filled until it can. */
  #onSuspend(reason: BusSuspendReason): void {
    if (this.#closed || this.#busDown) return;
    this.#busDown = true;
    this.#set.tags.reset();
    this.#update();
    // Fills of reads already in flight are refused too.
    this.#set.fence.touchAll();
    this.#set.watch.touchAll();
    this.#set.observer.emitter.emit('suspend', { reason });
  }

  #onReset(reason: BusResetReason): void {
    if (this.#closed) return;
    this.#set.observer.counts.resets++;
    this.#set.tags.reset();
    this.#busDown = false;
    this.#dropping++;
    this.#update();
    void this.#dropUpper(reason).finally(() => {
      this.#dropping--;
      this.#update();
    });
    this.#set.observer.emitter.emit('reset', { reason });
  }

  /**
   * The tiers above may hold what was invalidated unheard: they are dropped, or with the fail-safe on, their copies
   * are demoted to unverified (a fallback only).
   */
  async #dropUpper(reason: string): Promise<void> {
    const set = this.#set;
    set.fence.touchAll();
    set.watch.touchAll();
    await Promise.all(
      set.upper.map((tier) =>
        (set.failSafe.enabled ? set.failSafe.demote(tier) : tier.cache.clear()).catch((e: unknown) =>
          set.observer.error(`reset:${reason}`, e, tier.index),
        ),
      ),
    );
  }

  /** Whether this cache hears other instances' changes at all (it has a bus). */
  get listening(): boolean {
    return this.#bus !== undefined;
  }
}
