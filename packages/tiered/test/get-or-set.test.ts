import {
  CacheLoaderTimeoutError,
  CacheUnavailableError,
  CacheValidationError,
  LocalBus,
  LocalBusChannel,
} from '@strata-cache/core';
import { describeCacheProtocol, ManualClock } from '@strata-cache/core/testing';
import { MemoryCacheAdapter } from '@strata-cache/memory';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type LoaderContext, TieredCache, type TieredCacheOptions } from '../src/index.js';
import { DelayedTier, settle } from './support/delayed-tier.js';

describeCacheProtocol('TieredCache over one memory tier', {
  clock: 'manual',
  create: ({ namespace, now }) => new TieredCache({ tiers: [new MemoryCacheAdapter({ namespace, now })] }),
});

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A promise with its resolve and reject at hand. */
function deferred<T>(): {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
} {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Instances (memory L1 each) over one shared memory L2, hearing each other on one local channel. */
function instances(count: number, options: Partial<TieredCacheOptions> = {}, clock?: ManualClock) {
  const now = clock?.now;
  const l2 = new MemoryCacheAdapter({ namespace: 'shared', ...(now ? { now } : {}) });
  const channel = new LocalBusChannel();
  const caches = Array.from({ length: count }, (_, i) => {
    const l1 = new MemoryCacheAdapter({ namespace: `l1-${i}`, ...(now ? { now } : {}) });
    const cache = new TieredCache({
      tiers: [l1, new DelayedTier(l2, async () => {})],
      bus: new LocalBus({ channel, id: `i${i}` }),
      ...options,
    });
    return { cache, l1 };
  });
  return { l2, caches, ready: () => Promise.all(caches.map(({ cache }) => cache.ready())) };
}

const open: TieredCache[] = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const cache of open.splice(0)) await cache.close();
});

function track<T extends { caches: Array<{ cache: TieredCache }> }>(made: T): T {
  for (const { cache } of made.caches) open.push(cache);
  return made;
}

describe('getOrSet: the rules (memory tiers)', () => {
  it('rule 1: a fresh value in any tier is returned and the loader is not called; L1 is filled', async () => {
    const { l2, caches, ready } = track(instances(1));
    await ready();
    const [{ cache, l1 }] = caches as [{ cache: TieredCache; l1: MemoryCacheAdapter }];
    await l2.set('k', { v: 1 }, 60);
    const loader = vi.fn(() => ({ v: 2 }));
    expect(await cache.getOrSet('k', loader)).toEqual({ v: 1 });
    expect(await l1.get('k')).toEqual({ v: 1 });
    expect(await cache.getOrSet('k', loader)).toEqual({ v: 1 });
    expect(loader).not.toHaveBeenCalled();
    expect(cache.stats().hits).toEqual([1, 1]);
  });

  it('rule 2: concurrent calls in one instance share one loader run, each caller with its own copy', async () => {
    const { caches, ready } = track(instances(1));
    await ready();
    const { cache } = caches[0]!;
    const gate = deferred<{ list: number[] }>();
    const loader = vi.fn(() => gate.promise);
    const calls = Array.from({ length: 100 }, () => cache.getOrSet('k', loader, { ttl: 60 }));
    await settle();
    gate.resolve({ list: [1] });
    const answers = await Promise.all(calls);
    expect(loader).toHaveBeenCalledTimes(1);
    answers[0]!.list.push(2);
    expect(answers[1]).toEqual({ list: [1] });
    expect(await cache.get('k')).toEqual({ list: [1] });
  });

  it('rule 3: N instances × M callers on a missing key make one loader run; waiters wake on the write', async () => {
    const { caches, ready } = track(instances(3, { defaultTtl: 60 }));
    await ready();
    const gate = deferred<string>();
    let runs = 0;
    const loader = () => {
      runs++;
      return gate.promise;
    };
    const calls = caches.flatMap(({ cache }) =>
      Array.from({ length: 20 }, () => cache.getOrSet('k', loader)),
    );
    await sleep(20);
    expect(runs).toBe(1);
    const released = performance.now();
    gate.resolve('loaded');
    expect(new Set(await Promise.all(calls))).toEqual(new Set(['loaded']));
    // Woken by the holder's invalidation, not by the lease's lapse (5 s) nor by polling.
    expect(performance.now() - released).toBeLessThan(200);
    expect(runs).toBe(1);
    const waits = caches.map(({ cache }) => cache.stats().leaseWaits);
    expect(waits.filter((w) => w > 0)).toHaveLength(2);
  });

  it('rule 3: a holder that dies delays the others by at most the lease TTL', async () => {
    const { caches, ready } = track(instances(2, { defaultTtl: 60 }));
    await ready();
    const [a, b] = caches as [{ cache: TieredCache }, { cache: TieredCache }, ...unknown[]];
    // A takes the lease and never writes (its loader hangs, as a process that died would).
    void a.cache
      .getOrSet('k', () => new Promise<string>(() => {}), { lease: { ttlMs: 300 } })
      .catch(() => {});
    await sleep(20);
    const started = performance.now();
    expect(await b.cache.getOrSet('k', () => 'b', { lease: { ttlMs: 300 } })).toBe('b');
    const waited = performance.now() - started;
    expect(waited).toBeGreaterThan(250);
    expect(waited).toBeLessThan(300 + 150);
    expect(await b.cache.get('k')).toBe('b');
  });

  it('rule 3: a waiter that waited waitMs loads for itself and does not cache what it loaded', async () => {
    const { caches, l2, ready } = track(instances(2, { defaultTtl: 60 }));
    await ready();
    const [a, b] = caches as [{ cache: TieredCache }, { cache: TieredCache }, ...unknown[]];
    const gate = deferred<string>();
    const holder = a.cache.getOrSet('k', () => gate.promise, { lease: { ttlMs: 5_000 } });
    await sleep(20);
    const waitEvents: unknown[] = [];
    b.cache.on('lease-wait', (event) => waitEvents.push(event));
    expect(await b.cache.getOrSet('k', () => 'mine', { lease: { ttlMs: 5_000, waitMs: 100 } })).toBe('mine');
    expect(waitEvents).toMatchObject([{ key: 'k', outcome: 'timeout' }]);
    expect(await l2.get('k')).toBeUndefined();
    gate.resolve('holder');
    expect(await holder).toBe('holder');
    expect(await b.cache.get('k')).toBe('holder');
  });

  it('rule 8: null is cached, undefined is answered and not cached, an error reaches every caller as is', async () => {
    const { caches, ready } = track(instances(1, { defaultTtl: 60 }));
    await ready();
    const { cache } = caches[0]!;
    expect(await cache.getOrSet('n', () => null)).toBeNull();
    expect(await cache.exists('n')).toBe(true);
    expect(await cache.getOrSet('u', () => undefined)).toBeUndefined();
    expect(await cache.exists('u')).toBe(false);
    const boom = new Error('boom');
    const failing = () => Promise.reject(boom);
    const results = await Promise.allSettled([cache.getOrSet('e', failing), cache.getOrSet('e', failing)]);
    for (const result of results) expect(result).toEqual({ status: 'rejected', reason: boom });
    expect(await cache.exists('e')).toBe(false);
    expect(cache.stats()).toMatchObject({ loads: 4 - 1, loadFailures: 1 });
  });

  it('rule 8: the loader may change ttl (adaptive caching)', async () => {
    const { caches, ready } = track(instances(1, { defaultTtl: 60 }));
    await ready();
    const { cache } = caches[0]!;
    expect(
      await cache.getOrSet('k', (ctx: LoaderContext<number>) => {
        ctx.ttl = 5;
        return 1;
      }),
    ).toBe(1);
    expect(await cache.ttl('k')).toBe(5);
    const bad = cache.getOrSet('bad', (ctx: LoaderContext<number>) => {
      ctx.ttl = -1;
      return 1;
    });
    await expect(bad).rejects.toBeInstanceOf(CacheValidationError);
    expect(await cache.exists('bad')).toBe(false);
  });

  it('refuses bad input whole, before calling anything', async () => {
    const { caches, ready } = track(instances(1));
    await ready();
    const { cache } = caches[0]!;
    const loader = vi.fn(() => 1);
    await expect(cache.getOrSet('', loader)).rejects.toBeInstanceOf(CacheValidationError);
    await expect(cache.getOrSet('k', 'nope' as never)).rejects.toThrow(/loader/);
    await expect(cache.getOrSet('k', loader, { ttl: 0 })).rejects.toThrow(/ttl/);
    await expect(cache.getOrSet('k', loader, { grace: -1 })).rejects.toThrow(/grace/);
    await expect(cache.getOrSet('k', loader, { refreshAhead: 1 })).rejects.toThrow(/refreshAhead/);
    await expect(cache.getOrSet('k', loader, { hardTimeoutMs: 0 })).rejects.toThrow(/hardTimeoutMs/);
    await expect(cache.getOrSet('k', loader, { lease: { ttlMs: 1.5 } })).rejects.toThrow(/lease.ttlMs/);
    await expect(cache.getOrSet('k', loader, { tll: 5 } as never)).rejects.toThrow(
      /unknown getOrSet option 'tll'/,
    );
    await expect(cache.getOrSet('k', loader, { lease: { ttl: 5 } as never })).rejects.toThrow(
      /unknown lease option/,
    );
    await expect(cache.getOrSet('k', loader, { tags: [''] })).rejects.toThrow(/tags\[0\]/);
    await expect(cache.getOrSet('k', loader, { tags: 't' as never })).rejects.toThrow(/tags/);
    expect(loader).not.toHaveBeenCalled();
  });
});

/** The system of record the loaders read: values per key, each write with a value never written before. */
class Database {
  readonly rows = new Map<string, number>();
  /** Every value each key held, with the logical time it stopped being current (Infinity: still current). */
  readonly history: Array<{ key: string; value: number; from: number; to: number }> = [];
  time = 0;
  #next = 0;

  write(key: string): number {
    const value = ++this.#next;
    this.#end(key);
    this.rows.set(key, value);
    this.history.push({ key, value, from: ++this.time, to: Number.POSITIVE_INFINITY });
    return value;
  }

  remove(key: string): void {
    this.#end(key);
    this.rows.delete(key);
  }

  /** Values of `key` current at some moment in [from, to]. */
  currentDuring(key: string, from: number, to: number): Set<number> {
    return new Set(
      this.history.filter((h) => h.key === key && h.from <= to && h.to >= from).map((h) => h.value),
    );
  }

  #end(key: string): void {
    const time = ++this.time;
    for (const h of this.history) if (h.key === key && h.to === Number.POSITIVE_INFINITY) h.to = time;
  }
}

type RaceOp =
  | { m: 'getOrSet'; key: string; fail: boolean }
  | { m: 'write' | 'remove'; key: string }
  | { m: 'deletePattern'; pattern: string }
  | { m: 'clear' }
  | { m: 'tick' };

const RACE_KEYS = ['a', 'b'] as const;
const raceKeyArb = fc.constantFrom(...RACE_KEYS);
const raceOpArb: fc.Arbitrary<RaceOp> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({ m: fc.constant('getOrSet' as const), key: raceKeyArb, fail: fc.boolean() }),
  },
  {
    weight: 3,
    arbitrary: fc.record({ m: fc.constantFrom('write' as const, 'remove' as const), key: raceKeyArb }),
  },
  fc.record({ m: fc.constant('deletePattern' as const), pattern: fc.constantFrom('a*', '?', 'b') }),
  fc.record({ m: fc.constant('clear' as const) }),
  fc.record({ m: fc.constant('tick' as const) }),
);

/**
 * Instances over one shared L2 whose every request, reply, bus delivery and loader completion is ordered by the
 * scheduler. Loaders read the database when they start; writers change the database, then delete the key from the
 * cache, as a service does. Values are fresh for 1 s, then stale for 10 s of grace.
 */
async function race(s: fc.Scheduler, count: number, ops: Array<[number, RaceOp]>): Promise<void> {
  const clock = new ManualClock();
  let scheduled = true;
  const delay = (label: string) => (scheduled ? s.schedule(Promise.resolve(), label) : Promise.resolve());
  const l2 = new MemoryCacheAdapter({ namespace: 'shared', now: clock.now });
  const channel = new LocalBusChannel({ schedule: (deliver) => void delay('bus delivery').then(deliver) });
  const caches = Array.from({ length: count }, (_, i) => {
    const bus = new LocalBus({ channel, id: `i${i}` });
    const l1 = new MemoryCacheAdapter({ namespace: `l1-${i}`, now: clock.now });
    return new TieredCache({ tiers: [l1, new DelayedTier(l2, delay, i % 2 === 0 ? bus : undefined)], bus });
  });
  for (const cache of caches) cache.on('error', () => {});
  try {
    await s.waitFor(Promise.all(caches.map((cache) => cache.ready())));
    const db = new Database();
    const checks: Array<() => void> = [];
    const calls = ops.map(async ([who, op], i) => {
      await s.schedule(Promise.resolve(), `start ${i}`);
      const cache = caches[who % count]!;
      switch (op.m) {
        case 'getOrSet': {
          const began = db.time;
          const answer = await cache
            .getOrSet(
              op.key,
              () => {
                const row = db.rows.get(op.key) ?? null;
                return s.schedule(Promise.resolve(), `load ${i}`).then(() => {
                  if (op.fail) throw new Error('the database is down');
                  return row;
                });
              },
              { ttl: 1, grace: 10, graceBackoff: 0, lease: { ttlMs: 50, waitMs: 100 } },
            )
            .catch(() => 'failed' as const);
          const ended = db.time;
          // Rule 5: a stale answer is an expired value, never one overwritten or deleted before the call began.
          if (answer !== 'failed' && answer !== null)
            checks.push(() =>
              expect(db.currentDuring(op.key, began, ended), `getOrSet ${i} answered ${answer}`).toContain(
                answer,
              ),
            );
          return;
        }
        case 'write':
          // Invalidate on write (concurrent `set`s of one key may land in any order: that race is not read-through's).
          db.write(op.key);
          return cache.delete(op.key).catch(() => {});
        case 'remove':
          db.remove(op.key);
          return cache.delete(op.key).catch(() => {});
        case 'deletePattern':
          return cache.deletePattern(op.pattern).catch(() => {});
        case 'clear':
          return cache.clear().catch(() => {});
        case 'tick':
          clock.advance(600);
          return;
      }
    });
    await s.waitFor(Promise.allSettled(calls));
    await s.waitAll();
    scheduled = false;
    await settle();
    for (const check of checks) check();
    // Rule 4: once quiet, nothing older than the database is left behind, in L2 or in any instance.
    for (const key of RACE_KEYS) {
      const truth = db.rows.get(key);
      const held = l2.store.get(key);
      if (held !== undefined && held.meta?.placeholder !== true) {
        const value = JSON.parse(held.text) as number | null;
        if (value !== null) expect(value, `L2 holds an older ${key}`).toBe(truth);
      }
      for (const [i, cache] of caches.entries()) {
        const read = await cache.get(key);
        if (read !== undefined && read !== null)
          expect(read, `instance ${i} reads an older ${key}`).toBe(truth);
      }
    }
  } finally {
    for (const cache of caches) await cache.close();
  }
}

describe('getOrSet under every interleaving (memory tiers, fc.scheduler)', () => {
  it('no stale set, and grace never serves an invalidated value, across 2–3 instances', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.scheduler(),
        fc.integer({ min: 2, max: 3 }),
        fc.array(fc.tuple(fc.nat(2), raceOpArb), { minLength: 1, maxLength: 10 }),
        (s, count, ops) => race(s, count, ops),
      ),
      {
        numRuns: Number(process.env.STRATA_FC_RUNS ?? 50) * 4,
        endOnFailure: process.env.STRATA_FC_SHRINK !== '1',
      },
    );
  }, 120_000);
});

/** One instance over a memory L2 whose calls fail while `down` is set; stores on a manual clock, timers faked. */
function faked(options: Partial<TieredCacheOptions> = {}) {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
  const clock = new ManualClock();
  const l1 = new MemoryCacheAdapter({ namespace: 'l1', now: clock.now });
  const l2 = new MemoryCacheAdapter({ namespace: 'l2', now: clock.now });
  /** `calls` counts each call's request and its reply. */
  const state = { down: false, calls: 0 };
  const tier = new DelayedTier(l2, async () => {
    state.calls++;
    if (state.down) throw new CacheUnavailableError('get', 'L2 is down (test)');
  });
  const bus = new LocalBus();
  const cache = new TieredCache({ tiers: [l1, tier], bus, ...options });
  open.push(cache);
  const events: Array<[string, unknown]> = [];
  for (const name of ['stale', 'load', 'breaker', 'error'] as const)
    cache.on(name, (e) => events.push([name, e]));
  /** Lets `ms` pass for the stores' clock and for timers alike. */
  const elapse = async (ms: number) => {
    clock.advance(ms);
    await vi.advanceTimersByTimeAsync(ms);
  };
  return { cache, l1, l2, state, events, elapse, clock, bus };
}

const named = (events: Array<[string, unknown]>, name: string) =>
  events.filter(([n]) => n === name).map(([, e]) => e);

describe('getOrSet: grace, backoff and timeouts (an injected clock)', () => {
  it('rule 5: a stale value is never seen by get, exists or ttl; a failed reload answers it and backs off', async () => {
    const { cache, events, elapse } = faked();
    await cache.ready();
    const options = { ttl: 1, grace: 10, graceBackoff: 2 };
    expect(await cache.getOrSet('k', () => 'v1', options)).toBe('v1');
    await elapse(1_500);
    expect(await cache.get('k')).toBeUndefined();
    expect(await cache.exists('k')).toBe(false);
    expect(await cache.ttl('k')).toBeUndefined();
    expect(await cache.getMany(['k'])).toEqual(new Map());
    const seen: Array<LoaderContext<string>['stale']> = [];
    const failing = vi.fn((ctx: LoaderContext<string>) => {
      seen.push(ctx.stale);
      throw new Error('db down');
    });
    expect(await cache.getOrSet('k', failing, options)).toBe('v1');
    expect(seen).toEqual([{ value: 'v1', expiredMs: 500 }]);
    expect(named(events, 'stale')).toEqual([{ key: 'k', reason: 'loader-error', staleMs: 500 }]);
    // Backed off: the loader is not called again for graceBackoff.
    await elapse(1_000);
    expect(await cache.getOrSet('k', failing, options)).toBe('v1');
    expect(failing).toHaveBeenCalledTimes(1);
    expect(named(events, 'stale').at(-1)).toMatchObject({ reason: 'backoff' });
    await elapse(1_001);
    expect(await cache.getOrSet('k', () => 'v2', options)).toBe('v2');
    expect(await cache.get('k')).toBe('v2');
    expect(cache.stats()).toMatchObject({ loads: 3, loadFailures: 1, staleAnswers: 2 });
  });

  it('rule 5: after delete, no instance answers the old value, stale or not', async () => {
    const { cache, elapse } = faked();
    await cache.ready();
    await cache.getOrSet('k', () => 'v1', { ttl: 1, grace: 10 });
    await elapse(1_500);
    await cache.delete('k');
    const boom = new Error('db down');
    await expect(cache.getOrSet('k', () => Promise.reject(boom), { ttl: 1, grace: 10 })).rejects.toBe(boom);
    await cache.getOrSet('p', () => 'v1', { ttl: 1, grace: 10 });
    await elapse(1_500);
    await cache.deletePattern('p*');
    await expect(cache.getOrSet('p', () => Promise.reject(boom), { ttl: 1, grace: 10 })).rejects.toBe(boom);
  });

  it('rule 6: after softTimeoutMs a stale value answers; the load completes in the background and is cached', async () => {
    const { cache, events, elapse } = faked();
    await cache.ready();
    await cache.getOrSet('k', () => 'v1', { ttl: 1, grace: 10 });
    await elapse(1_500);
    let answered: string | undefined;
    const call = cache
      .getOrSet('k', () => new Promise<string>((resolve) => setTimeout(() => resolve('v2'), 1_000)), {
        ttl: 1,
        grace: 10,
        softTimeoutMs: 100,
      })
      .then((v) => {
        answered = v;
      });
    await elapse(99);
    expect(answered).toBeUndefined();
    await elapse(1);
    await call;
    expect(answered).toBe('v1');
    expect(named(events, 'stale')).toMatchObject([{ reason: 'timeout' }]);
    await elapse(900);
    expect(await cache.get('k')).toBe('v2');
    expect(named(events, 'load').at(-1)).toMatchObject({ key: 'k', cached: true, background: true });
  });

  it('rule 6: hardTimeoutMs aborts ctx.signal and rejects with CacheLoaderTimeoutError, or answers stale', async () => {
    const { cache, elapse } = faked();
    await cache.ready();
    let signal: AbortSignal | undefined;
    const hanging = (ctx: LoaderContext<string>) => {
      signal = ctx.signal;
      return new Promise<string>(() => {});
    };
    const call = cache.getOrSet('k', hanging, { ttl: 1, hardTimeoutMs: 200 });
    const rejected = expect(call).rejects.toBeInstanceOf(CacheLoaderTimeoutError);
    await elapse(200);
    await rejected;
    expect(signal?.aborted).toBe(true);
    expect(signal?.reason).toBeInstanceOf(CacheLoaderTimeoutError);
    expect(await cache.exists('k')).toBe(false);
    await cache.getOrSet('s', () => 'v1', { ttl: 1, grace: 10 });
    await elapse(1_500);
    const stale = cache.getOrSet('s', hanging, { ttl: 1, grace: 10, hardTimeoutMs: 200 });
    await elapse(200);
    expect(await stale).toBe('v1');
  });

  it('rule 9: with L2 down the loader is still called and its value returned; failures are error events', async () => {
    const { cache, state, events } = faked({ breaker: false });
    await cache.ready();
    state.down = true;
    const loader = vi.fn(() => 'from the database');
    expect(await Promise.all([cache.getOrSet('k', loader), cache.getOrSet('k', loader)])).toEqual([
      'from the database',
      'from the database',
    ]);
    expect(loader).toHaveBeenCalledTimes(1);
    expect(named(events, 'error').length).toBeGreaterThan(0);
    expect(named(events, 'load')).toMatchObject([{ key: 'k', cached: false }]);
  });

  it('close() aborts the loaders in progress', async () => {
    const { cache } = faked();
    await cache.ready();
    let signal: AbortSignal | undefined;
    const call = cache.getOrSet('k', (ctx) => {
      signal = ctx.signal;
      return new Promise<string>((_, reject) =>
        ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason)),
      );
    });
    await vi.advanceTimersByTimeAsync(0);
    await cache.close();
    await expect(call).rejects.toBeInstanceOf(CacheUnavailableError);
    expect(signal?.aborted).toBe(true);
    await expect(cache.getOrSet('k', () => 1)).rejects.toThrow(/closed/);
  });
});

describe('getOrSet: refresh ahead', () => {
  it('rule 7: a fresh hit past refreshAhead × ttl answers at once and starts one reload across instances', async () => {
    const clock = new ManualClock();
    const { caches, ready } = track(instances(2, {}, clock));
    await ready();
    const options = { ttl: 10, refreshAhead: 0.5 };
    let version = 1;
    const gate = deferred<void>();
    const loader = vi.fn(async () => {
      if (version > 1) await gate.promise;
      return `v${version++}`;
    });
    expect(await caches[0]!.cache.getOrSet('k', loader, options)).toBe('v1');
    expect(await caches[1]!.cache.getOrSet('k', loader, options)).toBe('v1');
    clock.advance(6_000);
    // Both instances, many callers: all answered at once with the current value while one reload runs.
    const answers = await Promise.all(
      caches.flatMap(({ cache }) => Array.from({ length: 10 }, () => cache.getOrSet('k', loader, options))),
    );
    expect(new Set(answers)).toEqual(new Set(['v1']));
    await sleep(10);
    expect(loader).toHaveBeenCalledTimes(2);
    gate.resolve();
    await sleep(10);
    for (const { cache } of caches) expect(await cache.getOrSet('k', loader, options)).toBe('v2');
    expect(loader).toHaveBeenCalledTimes(2);
    expect(caches.reduce((n, { cache }) => n + cache.stats().refreshes, 0)).toBe(1);
  });
});

describe('outages: the fail-safe (staleIfError) and the circuit breaker', () => {
  it('with staleIfError, a read L2 cannot answer is answered by the L1 copy within the bound, and says so', async () => {
    const { cache, state, events, elapse } = faked({ staleIfError: 5, breaker: false });
    await cache.ready();
    await cache.set('k', 'v', 1);
    await cache.set('m', 'w', 1);
    await elapse(1_500);
    state.down = true;
    expect(await cache.get('k')).toBe('v');
    expect(await cache.getMany(['m', 'absent'])).toEqual(new Map([['m', 'w']]));
    // A copy's fresh time is counted from the write's start, a millisecond against it.
    expect(named(events, 'stale')).toEqual([
      { key: 'k', reason: 'unavailable', staleMs: 501 },
      { key: 'm', reason: 'unavailable', staleMs: 501 },
    ]);
    expect(cache.stats().staleAnswers).toBe(2);
    // Never fresh: with L2 back, the expired copy is not read.
    state.down = false;
    expect(await cache.get('k')).toBeUndefined();
    state.down = true;
    await elapse(5_000);
    expect(await cache.get('k')).toBeUndefined();
  });

  it('without staleIfError, a read L2 cannot answer is a miss and an error event', async () => {
    const { cache, state, events, elapse } = faked({ breaker: false });
    await cache.ready();
    await cache.set('k', 'v', 1);
    await elapse(1_500);
    state.down = true;
    expect(await cache.get('k')).toBeUndefined();
    expect(named(events, 'stale')).toEqual([]);
    expect(named(events, 'error')).toHaveLength(1);
  });

  it('never answers a value deleted or overwritten while the bus could hear it', async () => {
    const { cache, state, elapse } = faked({ staleIfError: 5, breaker: false });
    await cache.ready();
    await cache.set('k', 'old', 1);
    await cache.delete('k');
    await cache.set('j', 'old', 1);
    await cache.set('j', 'new', 1);
    await elapse(1_500);
    state.down = true;
    expect(await cache.get('k')).toBeUndefined();
    expect(await cache.get('j')).toBe('new');
  });

  it('after the bus may have missed messages, L1 copies are unverified: never fresh, only a fallback', async () => {
    const { cache, l1, state, bus, events } = faked({ staleIfError: 5, breaker: false });
    await cache.ready();
    await cache.set('k', 'v', 60);
    bus.disconnect();
    // While the bus is down, L1 is not read at all; with L2 down too, the copy is the fallback.
    state.down = true;
    expect(await cache.get('k')).toBe('v');
    state.down = false;
    bus.reconnect();
    await vi.advanceTimersByTimeAsync(0);
    await new Promise((resolve) => setImmediate(resolve));
    const copy = l1.store.get('k');
    expect(copy?.meta?.unverified).toBe(true);
    const calls = state.calls;
    expect(await cache.get('k')).toBe('v');
    expect(state.calls).toBeGreaterThan(calls);
    expect(cache.stats().hits[0]).toBe(0);
    expect(named(events, 'stale')).toHaveLength(1);
  });

  it('the breaker opens after repeated failures, fails calls at once, probes in the background, closes when L2 answers', async () => {
    const { cache, state, events, elapse } = faked({
      staleIfError: 5,
      breaker: { failures: 3, cooldownMs: 1_000 },
    });
    await cache.ready();
    await cache.set('k', 'v', 1);
    await elapse(1_500);
    state.down = true;
    for (let i = 0; i < 3; i++) expect(await cache.get('k')).toBe('v');
    expect(named(events, 'breaker')).toEqual([{ tier: 1, state: 'open' }]);
    const calls = state.calls;
    for (let i = 0; i < 100; i++) expect(await cache.get('k')).toBe('v');
    expect(state.calls).toBe(calls);
    await expect(cache.set('x', 1)).rejects.toThrow(/circuit is open/);
    expect(cache.stats().breakers).toEqual(['closed', 'open']);
    // A probe no caller waits on, every cooldownMs: it fails while L2 is down.
    await elapse(1_000);
    expect(state.calls).toBe(calls + 1);
    expect(cache.stats().breakers).toEqual(['closed', 'open']);
    state.down = false;
    await elapse(1_000);
    expect(named(events, 'breaker')).toEqual([
      { tier: 1, state: 'open' },
      { tier: 1, state: 'half-open' },
      { tier: 1, state: 'open' },
      { tier: 1, state: 'half-open' },
      { tier: 1, state: 'closed' },
    ]);
    expect(await cache.get('k')).toBeUndefined();
    await cache.set('x', 1);
  });
});
