import { uniqueNamespace } from '@strata-cache/core/testing';
import { RedisCacheAdapter } from '@strata-cache/redis';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { drive, redisInstance, sleep, topologies } from './support/redis-instances.js';

/**
 * getOrSet's rules over real Redis, standalone and Cluster: several TieredCache instances (memory over Redis, the
 * Redis bus) in this process, each with its own connections, as separate services would have.
 */

const opened: Array<{ close(): Promise<void> }> = [];
afterAll(async () => {
  for (const r of opened.splice(0).reverse()) await r.close();
});

async function until(check: () => Promise<boolean>, withinMs = 5_000): Promise<void> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > withinMs) throw new Error('condition not met in time');
    await sleep(10);
  }
}

type Op =
  | { m: 'getOrSet'; key: string; fail: boolean }
  | { m: 'write'; key: string }
  | { m: 'deletePattern' };
const KEYS = ['a', 'b'] as const;
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      m: fc.constant('getOrSet' as const),
      key: fc.constantFrom(...KEYS),
      fail: fc.boolean(),
    }),
  },
  { weight: 3, arbitrary: fc.record({ m: fc.constant('write' as const), key: fc.constantFrom(...KEYS) }) },
  fc.record({ m: fc.constant('deletePattern' as const) }),
);

for (const [name, where] of topologies()) {
  describe(`getOrSet over Redis ${name}`, () => {
    it('N instances × M callers on a missing key: one loader run, every caller answered soon after it', async () => {
      const namespace = uniqueNamespace('gos');
      const instances = await Promise.all([0, 1, 2].map(() => redisInstance(namespace, where)));
      opened.push(...instances);
      let runs = 0;
      const loader = async () => {
        runs++;
        await sleep(50);
        return { loaded: true };
      };
      const started = performance.now();
      const answers = await Promise.all(
        instances.flatMap(({ cache }) =>
          Array.from({ length: 100 }, async () => {
            const value = await cache.getOrSet('cold', loader, { ttl: 60 });
            return { value, ms: performance.now() - started };
          }),
        ),
      );
      expect(runs).toBe(1);
      for (const { value } of answers) expect(value).toEqual({ loaded: true });
      const slowest = Math.max(...answers.map((a) => a.ms));
      // The loader's 50 ms, a read, the lease, the write and the waiters' wake-up: well under a lease TTL (5 s).
      expect(slowest).toBeLessThan(50 + 250);
      for (const { cache } of instances) expect(await cache.get('cold')).toEqual({ loaded: true });
    });

    it('the stale-set race: a load racing a set, delete, deletePattern or clear from another instance is not cached', async () => {
      const namespace = uniqueNamespace('gos-stale');
      const [a, b] = await Promise.all([0, 1].map(() => redisInstance(namespace, where)));
      opened.push(a!, b!);
      const changes: Array<[string, (key: string) => Promise<unknown>]> = [
        ['set', (key) => b!.cache.set(key, 'new', 60)],
        ['delete', (key) => b!.cache.delete(key)],
        ['deletePattern', (key) => b!.cache.deletePattern(`${key}*`)],
        ['clear', () => b!.cache.clear()],
      ];
      for (const [name, change] of changes) {
        const key = `race-${name}`;
        let release!: () => void;
        let loading!: () => void;
        const started = new Promise<void>((resolve) => {
          loading = resolve;
        });
        // A's loader reads the old row, then the row changes and B invalidates the key, then A's loader returns.
        const load = a!.cache.getOrSet(
          key,
          () =>
            new Promise<string>((resolve) => {
              loading();
              release = () => resolve('old');
            }),
          { ttl: 60 },
        );
        await started;
        await change(key);
        release();
        expect(await load, name).toBe('old');
        await sleep(50);
        const expected = name === 'set' ? 'new' : undefined;
        expect(await b!.cache.get(key), name).toBe(expected);
        expect(await a!.cache.get(key), name).toBe(expected);
      }
    });

    it('no stale set and single flight under scheduled interleavings of loads, writes and patterns (2–3 instances)', async () => {
      const namespace = uniqueNamespace('gos-race');
      const pool = await Promise.all([0, 1, 2].map(() => redisInstance(namespace, where)));
      opened.push(...pool);
      const raw = new RedisCacheAdapter({ ...where, namespace });
      opened.push(raw);
      let run = 0;
      /** How many writes landed while a load of their key was in progress: the race the property is about. */
      let raced = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.scheduler(),
          fc.integer({ min: 2, max: 3 }),
          fc.array(fc.tuple(fc.nat(2), opArb), { minLength: 1, maxLength: 8 }),
          async (s, count, ops) => {
            const prefix = `r${++run}:`;
            const db = new Map<string, number>();
            let next = 0;
            const loads = new Map<string, number>();
            const loading = new Map<string, number>();
            /** Per key: what may make a new load necessary (a write, a pattern, a failed load). */
            const reasons = new Map<string, number>();
            const reason = (key: string) => reasons.set(key, (reasons.get(key) ?? 0) + 1);
            const calls = ops.map(async ([who, op], i) => {
              await s.schedule(Promise.resolve(), `start ${i}`);
              const { cache } = pool[who % count]!;
              const key = prefix + (op.m === 'deletePattern' ? '' : op.key);
              if (op.m === 'write') {
                // A round trip first, so that writes and loads reach their scheduled points in the same stretch.
                await raw.exists(key);
                await s.schedule(Promise.resolve(), `write ${i}`);
                if ((loading.get(key) ?? 0) > 0) raced++;
                db.set(key, ++next);
                reason(key);
                return cache.delete(key);
              }
              if (op.m === 'deletePattern') {
                for (const k of KEYS) reason(prefix + k);
                return cache.deletePattern(`${prefix}*`);
              }
              const before = db.get(key);
              const answer = await cache
                .getOrSet(
                  key,
                  () => {
                    loads.set(key, (loads.get(key) ?? 0) + 1);
                    loading.set(key, (loading.get(key) ?? 0) + 1);
                    const row = db.get(key) ?? null;
                    return s.schedule(Promise.resolve(), `load ${i}`).then(() => {
                      loading.set(key, loading.get(key)! - 1);
                      if (op.fail) {
                        reason(key);
                        throw new Error('the database is down');
                      }
                      return row;
                    });
                  },
                  { ttl: 60, lease: { ttlMs: 2_000, waitMs: 2_000 } },
                )
                .catch(() => 'failed' as const);
              // An answer is a row current at some point during the call: never one replaced before it began.
              if (answer !== 'failed' && answer !== null && before !== undefined)
                expect(answer).toBeGreaterThanOrEqual(before);
            });
            await drive(s, Promise.allSettled(calls));
            for (const result of await Promise.allSettled(calls))
              if (result.status === 'rejected') throw result.reason;
            // Single flight across instances: a load only after a change or a failure made one necessary.
            for (const [key, n] of loads)
              expect(n, `loads of ${key}`).toBeLessThanOrEqual(1 + (reasons.get(key) ?? 0));
            // Once quiet (and the bus has delivered), L2 and every instance hold nothing older than the database.
            for (const k of KEYS) {
              const key = prefix + k;
              const truth = db.get(key);
              const held = await raw.get<number | null>(key);
              if (held !== undefined && held !== null) expect(held, `L2 holds an older ${key}`).toBe(truth);
              await until(async () => {
                for (const { cache } of pool.slice(0, count)) {
                  const read = await cache.get<number | null>(key);
                  if (read !== undefined && read !== null && read !== truth) return false;
                }
                return true;
              });
            }
          },
        ),
        { numRuns: Math.max(10, Math.floor(Number(process.env.STRATA_FC_RUNS ?? 50) / 2)) },
      );
      expect(raced, 'writes that raced a load of their key').toBeGreaterThan(0);
    }, 120_000);
  });
}
