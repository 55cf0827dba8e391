import type { CacheProtocol, InvalidationBus } from '@strata-cache/core';

/**
 * For contrast only: an L1-over-L2 read-through the way it is usually written. A miss reads L2 and installs
 * whatever came back in L1, unconditionally; a write updates L2, drops L1 and publishes an invalidation. It looks
 * right, and it is open to the stale-refill race the demo replays.
 */
export class NaiveTieredCache {
  readonly #l1: CacheProtocol;
  readonly #l2: CacheProtocol;
  readonly #bus: InvalidationBus;

  constructor(l1: CacheProtocol, l2: CacheProtocol, bus: InvalidationBus) {
    this.#l1 = l1;
    this.#l2 = l2;
    this.#bus = bus;
  }

  /** Subscribes to the bus: an invalidation drops the keys from L1. */
  async start(onInvalidation: () => void): Promise<void> {
    await this.#bus.subscribe({
      invalidate: (message) => {
        if (message.kind === 'keys') for (const key of message.keys) void this.#l1.delete(key);
        onInvalidation();
      },
      suspend: () => {},
      reset: () => void this.#l1.clear(),
      error: () => {},
    });
  }

  async get<T>(key: string): Promise<{ value: T | undefined; from: 'L1' | 'L2' | 'miss' }> {
    const cached = await this.#l1.get<T>(key);
    if (cached !== undefined) return { value: cached, from: 'L1' };
    const value = await this.#l2.get<T>(key);
    if (value === undefined) return { value, from: 'miss' };
    await this.#l1.set(key, value, 60);
    return { value, from: 'L2' };
  }

  async set(key: string, value: unknown): Promise<void> {
    await this.#l2.set(key, value);
    await this.#l1.delete(key);
    await this.#bus.publish({ kind: 'keys', keys: [key] });
  }
}
