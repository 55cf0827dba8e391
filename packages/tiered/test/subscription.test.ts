import {
  type BusListener,
  type BusSubscribeOptions,
  CacheUnavailableError,
  type Invalidation,
  type InvalidationBus,
  LocalBus,
  LocalBusChannel,
} from '@strata-cache/core';
import { MemoryCacheAdapter } from '@strata-cache/memory';
import { describe, expect, it } from 'vitest';
import { TieredCache } from '../src/index.js';
import { settle } from './support/delayed-tier.js';

/** A bus whose subscription is whatever the test makes of it: never live, refused, or live on demand. */
class ScriptedBus implements InvalidationBus {
  readonly id = 'scripted';
  readonly published: Invalidation[] = [];
  listener: BusListener | undefined;
  aborted = 0;
  #live: (() => void) | undefined;

  constructor(readonly mode: 'hang' | 'reject' | 'manual') {}

  async publish(invalidation: Invalidation): Promise<void> {
    this.published.push(invalidation);
  }

  subscribe(listener: BusListener, options: BusSubscribeOptions = {}): Promise<() => void> {
    if (this.mode === 'reject') return Promise.reject(new Error('subscribing refused'));
    this.listener = listener;
    const unsubscribe = (): void => {
      if (this.listener === listener) this.listener = undefined;
    };
    return new Promise((resolve, reject) => {
      this.#live = () => resolve(unsubscribe);
      options.signal?.addEventListener('abort', () => {
        this.aborted++;
        unsubscribe();
        reject(options.signal?.reason);
      });
    });
  }

  goLive(): void {
    this.#live?.();
  }

  async close(): Promise<void> {}
}

function stack(bus: InvalidationBus, l2 = new MemoryCacheAdapter()) {
  const l1 = new MemoryCacheAdapter();
  const cache = new TieredCache({ tiers: [l1, l2], bus });
  const errors: Error[] = [];
  cache.on('error', ({ error }) => errors.push(error));
  return { l1, l2, cache, errors };
}

describe('TieredCache and its bus subscription (SPEC: Missed messages)', () => {
  it('a bus whose subscribe() rejects: ready() rejects saying why, and L1 is never used (no fail-open)', async () => {
    const { l1, l2, cache, errors } = stack(new ScriptedBus('reject'));
    const ready = await cache.ready().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(ready).toBeInstanceOf(CacheUnavailableError);
    expect((ready as Error).cause).toMatchObject({ message: 'subscribing refused' });
    expect(errors.map((e) => e.message)).toEqual(['subscribing refused']);
    await l2.set('k', 1);
    expect(await cache.get('k')).toBe(1);
    await cache.set('own', 2);
    expect(await cache.get('own')).toBe(2);
    // Nothing was copied into L1, so another instance's writes (unheard) can never be hidden by it.
    expect(await l1.getMany(['k', 'own'])).toEqual(new Map());
    await l2.set('k', 3);
    expect(await cache.get('k')).toBe(3);
    expect(cache.stats().hits).toEqual([0, 3]);
    await cache.close();
  });

  it('before the subscription is live, L1 is neither read nor filled', async () => {
    const bus = new ScriptedBus('manual');
    const { l1, l2, cache } = stack(bus);
    await l1.set('k', 'stale');
    await l2.set('k', 'fresh');
    expect(await cache.get('k')).toBe('fresh');
    expect(await l1.get('k')).toBe('stale');
    bus.goLive();
    await cache.ready();
    // Subscribing dropped what L1 held from before.
    expect(await l1.get('k')).toBeUndefined();
    expect(await cache.get('k')).toBe('fresh');
    expect(await l1.get('k')).toBe('fresh');
    await cache.close();
  });

  it('a suspend stops L1 at once, also for reads in flight; the next reset drops it and uses it again', async () => {
    const bus = new ScriptedBus('manual');
    const { l1, l2, cache } = stack(bus);
    bus.goLive();
    await cache.ready();
    await l2.set('k', 1);
    expect(await cache.get('k')).toBe(1);
    const inFlight = cache.get('j');
    bus.listener!.suspend('heartbeat');
    await l2.set('k', 2);
    expect(await cache.get('k')).toBe(2);
    await inFlight;
    expect(await l1.get('j')).toBeUndefined();
    bus.listener!.reset('heartbeat');
    await settle();
    expect(await l1.get('k')).toBeUndefined();
    expect(await cache.get('k')).toBe(2);
    expect(await l1.get('k')).toBe(2);
    await cache.close();
  });

  it('closing a cache before ready() resolves leaves nothing on its bus, and the bus can serve another cache', async () => {
    const bus = new ScriptedBus('hang');
    const { cache } = stack(bus);
    expect(bus.listener).toBeDefined();
    await cache.close();
    expect(bus.aborted).toBe(1);
    expect(bus.listener).toBeUndefined();
    await expect(cache.ready()).rejects.toMatchObject({ code: 'CACHE_CLOSED' });
    const next = stack(bus);
    expect(bus.listener).toBeDefined();
    await next.cache.close();
  });

  it('refuses a second cache on a bus already serving one, with a clear error', async () => {
    const bus = new LocalBus();
    const first = stack(bus);
    expect(() => stack(bus)).toThrow(/already serves a cache: give each cache a bus of its own/);
    await expect(bus.subscribe({ invalidate() {}, suspend() {}, reset() {}, error() {} })).rejects.toThrow(
      TypeError,
    );
    await first.cache.close();
    const second = stack(bus);
    await second.cache.ready();
    await second.cache.close();
  });

  it('two LocalBuses given the same id still hear each other', async () => {
    const channel = new LocalBusChannel();
    const l2 = new MemoryCacheAdapter();
    const a = stack(new LocalBus({ channel, id: 'same' }), l2);
    const b = stack(new LocalBus({ channel, id: 'same' }), l2);
    await Promise.all([a.cache.ready(), b.cache.ready()]);
    await a.cache.set('k', 1);
    expect(await b.cache.get('k')).toBe(1);
    await a.cache.set('k', 2);
    await settle();
    expect(await b.cache.get('k')).toBe(2);
    await Promise.all([a.cache.close(), b.cache.close()]);
  });
});
