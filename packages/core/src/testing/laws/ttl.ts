import fc from 'fast-check';
import { expect } from 'vitest';
import { ttlToMs } from '../../ttl.js';
import { keyArb, valueArb } from '../arbitraries.js';
import type { LawContext, LawGroup } from '../harness.js';
import { expectSameValue } from '../same-value.js';

/** Under a real clock, TTLs are this short, and a key is checked this long after it should have gone. */
const REAL_TTL_SECONDS = 0.3;
const REAL_MARGIN_MS = 150;

const ttlSecondsArb = fc.oneof(
  fc.integer({ min: 1, max: 100_000 }),
  fc.double({ min: 0.0001, max: 10_000, noNaN: true }),
  fc.constantFrom(0.001, 0.0015, 1.1, 59.9991, 0.1 + 0.2),
);

async function expectGone(ctx: LawContext, key: string): Promise<void> {
  const { cache } = ctx;
  expect(await cache.get(key)).toBeUndefined();
  expect(await cache.exists(key)).toBe(false);
  expect(await cache.ttl(key)).toBeUndefined();
  expect((await cache.getMany([key])).size).toBe(0);
}

/** Law 6: TTLs. */
export function ttlLaws(): LawGroup {
  return {
    name: 'ttl',
    laws: [
      {
        name: 'a key lives for its TTL and is absent afterwards',
        run: (ctx) =>
          ctx.check(
            [keyArb, valueArb, ttlSecondsArb],
            async (key, value, ttl) => {
              const cache = await ctx.fresh();
              if (ctx.clock === 'manual') {
                const ms = ttlToMs(ttl)!;
                await cache.set(key, value, ttl);
                await ctx.elapse(ms);
                expectSameValue(await cache.get(key), value);
                await ctx.elapse(1);
              } else {
                await cache.set(key, value, REAL_TTL_SECONDS);
                expectSameValue(await cache.get(key), value);
                await ctx.elapse(REAL_TTL_SECONDS * 1000 + REAL_MARGIN_MS);
              }
              await expectGone(ctx, key);
            },
            { timed: true },
          ),
      },
      {
        name: 'ttl() is the remaining time in whole seconds, rounded up, at least 1',
        run: (ctx) =>
          ctx.check(
            [keyArb, ttlSecondsArb, fc.double({ min: 0, max: 1, noNaN: true })],
            async (key, ttl, fraction) => {
              const cache = await ctx.fresh();
              await cache.set(key, 1, 60);
              expect(await cache.ttl(key)).toBe(60);
              await cache.set(key, 1, 2.5);
              expect(await cache.ttl(key)).toBe(3);
              if (ctx.clock === 'real') return;
              const ms = ttlToMs(ttl)!;
              await cache.set(key, 1, ttl);
              expect(await cache.ttl(key)).toBe(Math.max(1, Math.ceil(ms / 1000)));
              const waited = Math.floor(ms * fraction);
              await ctx.elapse(waited);
              expect(await cache.ttl(key)).toBe(Math.max(1, Math.ceil((ms - waited) / 1000)));
            },
          ),
      },
      {
        name: 'fractional TTLs are kept to the millisecond, rounding up',
        run: async (ctx) => {
          const cache = await ctx.fresh();
          if (ctx.clock === 'real') {
            // Real time cannot be stopped at a millisecond: check only that a fraction is not truncated away.
            await cache.set('frac', 1, 1.5);
            expect(await cache.ttl('frac')).toBe(2);
            return;
          }
          for (const [ttl, ms] of [
            [0.0015, 2],
            [0.0001, 1],
            [1.1, 1100],
            [0.3, 300],
          ] as const) {
            await cache.set('frac', 1, ttl);
            await ctx.elapse(ms);
            expect(await cache.exists('frac')).toBe(true);
            await ctx.elapse(1);
            expect(await cache.exists('frac')).toBe(false);
          }
        },
      },
      {
        name: 'a key set without a TTL has none, and set without a TTL removes an earlier expiry',
        run: (ctx) =>
          ctx.check([keyArb, valueArb, fc.constantFrom(undefined, null)], async (key, value, none) => {
            const cache = await ctx.fresh();
            await cache.set(key, value, none);
            expect(await cache.ttl(key)).toBeUndefined();
            await cache.set(key, value, 1);
            expect(await cache.ttl(key)).toBe(1);
            await cache.set(key, value, none);
            expect(await cache.ttl(key)).toBeUndefined();
            await cache.setMany({ [key]: value }, 5);
            await cache.setMany(new Map([[key, value]]), none);
            expect(await cache.ttl(key)).toBeUndefined();
            if (ctx.clock === 'manual') {
              await ctx.elapse(10_000);
              expectSameValue(await cache.get(key), value);
            }
          }),
      },
      {
        name: 'setMany gives every item the TTL, and they expire with it',
        run: (ctx) =>
          ctx.check(
            [fc.uniqueArray(keyArb, { minLength: 1, maxLength: 5 }), valueArb],
            async (keys, value) => {
              const cache = await ctx.fresh();
              const ttl = ctx.clock === 'manual' ? 30 : REAL_TTL_SECONDS;
              await cache.setMany(new Map(keys.map((k) => [k, value])), ttl);
              for (const key of keys) expect(await cache.ttl(key)).toBe(Math.ceil(ttl));
              await ctx.elapse(ttl * 1000 + (ctx.clock === 'manual' ? 1 : REAL_MARGIN_MS));
              for (const key of keys) await expectGone(ctx, key);
            },
            { timed: true },
          ),
      },
    ],
  };
}
