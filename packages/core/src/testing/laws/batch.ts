import fc from 'fast-check';
import { expect } from 'vitest';
import { keyArb, longTtlArb, smallKeyArb, valueArb } from '../arbitraries.js';
import type { LawGroup } from '../harness.js';
import { expectSameValue } from '../same-value.js';

/** Law 9: batches. */
export function batchLaws(): LawGroup {
  return {
    name: 'batch',
    laws: [
      {
        name: 'getMany returns exactly the present keys, in request order, each once',
        run: (ctx) =>
          ctx.check(
            [
              fc.dictionary(smallKeyArb, valueArb, { maxKeys: 5 }),
              fc.array(fc.oneof(smallKeyArb, keyArb), { maxLength: 10 }),
            ],
            async (stored, requested) => {
              const cache = await ctx.fresh();
              for (const [k, v] of Object.entries(stored)) await cache.set(k, v);
              const result = await cache.getMany(requested);
              const expectedKeys = [...new Set(requested)].filter((k) => Object.hasOwn(stored, k));
              expect([...result.keys()]).toEqual(expectedKeys);
              for (const k of expectedKeys) expectSameValue(result.get(k), stored[k]);
            },
          ),
      },
      {
        name: 'getMany answers in request order, not in the order keys were stored',
        run: async (ctx) => {
          const cache = await ctx.fresh();
          await cache.setMany(
            new Map([
              ['a', 1],
              ['b', 2],
              ['c', 3],
            ]),
          );
          expect([...(await cache.getMany(['c', 'a', 'b'])).keys()]).toEqual(['c', 'a', 'b']);
          expect([...(await cache.getMany(['b', 'x', 'a', 'b'])).keys()]).toEqual(['b', 'a']);
        },
      },
      {
        name: 'getMany of no keys is an empty map',
        run: async (ctx) => {
          const cache = await ctx.fresh();
          await cache.set('k', 1);
          const result = await cache.getMany([]);
          expect(result).toBeInstanceOf(Map);
          expect(result.size).toBe(0);
        },
      },
      {
        name: 'setMany(items, ttl) is set(key, value, ttl) for every item, from a Map or a plain object',
        run: (ctx) =>
          ctx.check(
            [
              fc.uniqueArray(fc.tuple(keyArb, valueArb), { selector: ([k]) => k, maxLength: 6 }),
              longTtlArb,
              fc.boolean(),
            ],
            async (entries, ttl, asObject) => {
              const cache = await ctx.fresh();
              const items = asObject ? Object.fromEntries(entries) : new Map(entries);
              await cache.setMany(items, ttl);
              for (const [k, v] of entries) {
                expectSameValue(await cache.get(k), v);
                const left = await cache.ttl(k);
                if (ttl === undefined) expect(left).toBeUndefined();
                else expect(left).toBeGreaterThanOrEqual(ttl - 1);
              }
              const many = await cache.getMany(entries.map(([k]) => k));
              expectSameValue([...many.entries()], entries);
            },
          ),
      },
      {
        name: 'setMany of no items writes nothing and is not an error',
        run: async (ctx) => {
          const cache = await ctx.fresh();
          await cache.setMany({});
          await cache.setMany(new Map(), 10);
          expect(await cache.exists('k')).toBe(false);
        },
      },
    ],
  };
}
