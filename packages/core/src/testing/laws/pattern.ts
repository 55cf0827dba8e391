import fc from 'fast-check';
import { expect } from 'vitest';
import { matchGlob } from '../../glob.js';
import { keyArb, patternArb, smallKeyArb } from '../arbitraries.js';
import type { LawGroup } from '../harness.js';

const keySetArb = fc.uniqueArray(fc.oneof(smallKeyArb, keyArb), { maxLength: 12 });

/** Law 10: deletePattern with exactly Redis's glob semantics. */
export function patternLaws(): LawGroup {
  return {
    name: 'pattern',
    laws: [
      {
        name: 'deletePattern deletes exactly the keys matching the Redis glob and returns how many',
        requires: 'patternDelete',
        run: (ctx) =>
          ctx.check([keySetArb, patternArb], async (keys, pattern) => {
            const cache = await ctx.fresh();
            for (const k of keys) await cache.set(k, k);
            const matching = keys.filter((k) => matchGlob(pattern, k));
            expect(await cache.deletePattern(pattern)).toBe(matching.length);
            for (const k of keys) expect(await cache.exists(k)).toBe(!matching.includes(k));
          }),
      },
      {
        name: 'Redis globs match bytes: ? matches one UTF-8 byte, so ?? matches é and ? does not',
        requires: 'patternDelete',
        run: async (ctx) => {
          const cache = await ctx.fresh();
          await cache.setMany({ é: 1, e: 2, ab: 3, '€': 4, 'x[y': 5, 'a*b': 6, abcd: 7 });
          expect(await cache.deletePattern('?')).toBe(1);
          expect(await cache.exists('e')).toBe(false);
          expect(await cache.deletePattern('??')).toBe(2);
          expect(await cache.exists('é')).toBe(false);
          expect(await cache.exists('ab')).toBe(false);
          expect(await cache.deletePattern('a\\*b')).toBe(1);
          expect(await cache.deletePattern('x\\[y')).toBe(1);
          expect(await cache.deletePattern('???')).toBe(1);
          expect(await cache.exists('€')).toBe(false);
          expect(await cache.exists('abcd')).toBe(true);
        },
      },
      {
        name: 'deletePattern counts only keys it deleted: a second run deletes none',
        requires: 'patternDelete',
        run: (ctx) =>
          ctx.check([keySetArb, patternArb], async (keys, pattern) => {
            const cache = await ctx.fresh();
            await cache.setMany(new Map(keys.map((k) => [k, 1])));
            await cache.deletePattern(pattern);
            expect(await cache.deletePattern(pattern)).toBe(0);
          }),
      },
      {
        name: 'clear deletes every key',
        run: (ctx) =>
          ctx.check([keySetArb], async (keys) => {
            const cache = await ctx.fresh();
            await cache.setMany(new Map(keys.map((k) => [k, 1])), 100);
            await cache.clear();
            for (const k of keys) expect(await cache.exists(k)).toBe(false);
            expect((await cache.getMany(keys)).size).toBe(0);
          }),
      },
    ],
  };
}
