import fc from 'fast-check';
import { expect } from 'vitest';
import { invalidKeyStringArb, invalidTtlArb, keyArb, nonStringArb, valueArb } from '../arbitraries.js';
import { expectValidationError } from '../expect-error.js';
import type { LawGroup } from '../harness.js';

const badKeyArb = fc.oneof(invalidKeyStringArb, nonStringArb);

/** Laws 7 and 8: bad input is refused whole; keys are opaque. */
export function keyLaws(): LawGroup {
  return {
    name: 'keys and validation',
    laws: [
      {
        name: 'keys are opaque: any well-formed key is stored literally and never confused with another',
        run: (ctx) =>
          ctx.check([fc.uniqueArray(keyArb, { minLength: 2, maxLength: 6 })], async (keys) => {
            const cache = await ctx.fresh();
            for (const [i, k] of keys.entries()) await cache.set(k, i);
            for (const [i, k] of keys.entries()) expect(await cache.get(k)).toBe(i);
            await cache.delete(keys[0]!);
            for (const [i, k] of keys.entries()) expect(await cache.get(k)).toBe(i === 0 ? undefined : i);
          }),
      },
      {
        name: 'an invalid key is refused with CacheValidationError naming it, by every method, and nothing is written',
        run: (ctx) =>
          ctx.check([badKeyArb, keyArb], async (bad, good) => {
            const cache = await ctx.fresh();
            const key = bad as string;
            await expectValidationError(cache.get(key), 'key');
            await expectValidationError(cache.set(key, 1), 'key');
            await expectValidationError(cache.delete(key), 'key');
            await expectValidationError(cache.exists(key), 'key');
            await expectValidationError(cache.ttl(key), 'key');
            await expectValidationError(cache.getMany([good, key]), 'keys');
            if (typeof bad === 'string') {
              await expectValidationError(cache.setMany({ [good]: 1, [bad]: 2 }), 'items');
            }
            await expectValidationError(
              cache.setMany(
                new Map<unknown, unknown>([
                  [good, 1],
                  [bad, 2],
                ]) as Map<string, unknown>,
              ),
              'items',
            );
            expect(await cache.exists(good)).toBe(false);
          }),
      },
      {
        name: 'getMany refuses anything but an array of keys',
        run: (ctx) =>
          ctx.check([fc.oneof(nonStringArb, fc.string())], async (bad) => {
            fc.pre(!Array.isArray(bad));
            const cache = await ctx.fresh();
            await expectValidationError(cache.getMany(bad as string[]), 'keys');
          }),
      },
      {
        name: 'setMany refuses anything but a Map or a plain object, and writes nothing',
        run: async (ctx) => {
          const cache = await ctx.fresh();
          for (const bad of [null, undefined, 'ab', 3, [['a', 1]], new Date(), new Set(['a'])]) {
            await expectValidationError(cache.setMany(bad as unknown as Record<string, unknown>), 'items');
          }
          expect(await cache.exists('a')).toBe(false);
        },
      },
      {
        name: 'an invalid TTL is refused with CacheValidationError naming ttl, and nothing is written',
        run: (ctx) =>
          ctx.check([keyArb, valueArb, invalidTtlArb], async (key, value, ttl) => {
            const cache = await ctx.fresh();
            await cache.set(key, 'before');
            await expectValidationError(cache.set(key, value, ttl as number), 'ttl');
            await expectValidationError(
              cache.setMany({ [key]: value, [`${key}+`]: 1 }, ttl as number),
              'ttl',
            );
            expect(await cache.get(key)).toBe('before');
            expect(await cache.ttl(key)).toBeUndefined();
            expect(await cache.exists(`${key}+`)).toBe(false);
          }),
      },
      {
        name: 'a pattern that is not a well-formed string is refused with CacheValidationError naming pattern',
        run: (ctx) =>
          ctx.check(
            [
              fc.oneof(
                nonStringArb,
                invalidKeyStringArb.filter((s) => s !== ''),
              ),
            ],
            async (bad) => {
              const cache = await ctx.fresh();
              await cache.set('k', 1);
              await expectValidationError(cache.deletePattern(bad as string), 'pattern');
              expect(await cache.exists('k')).toBe(true);
            },
          ),
      },
    ],
  };
}
