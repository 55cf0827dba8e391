import fc from 'fast-check';
import { expect } from 'vitest';
import { keyArb, valueArb } from '../arbitraries.js';
import { expectValidationError } from '../expect-error.js';
import type { LawGroup } from '../harness.js';
import { expectSameValue } from '../same-value.js';

/** A few tag names, so that keys share them. */
const tagArb: fc.Arbitrary<string> = fc.constantFrom('user:42', 'product:7', 'page', 'é{x}', 'a b*?');

/** Law 14: tags (`set`/`setMany` options, `invalidateTags`) and `deleteMany`. */
export function tagLaws(): LawGroup {
  return {
    name: 'tags',
    laws: [
      {
        name: 'after invalidateTags(T), no value written with a tag in T before it is read; the others are',
        run: (ctx) =>
          ctx.check(
            [
              fc.uniqueArray(
                fc.tuple(keyArb, valueArb, fc.uniqueArray(tagArb, { maxLength: 3 }), fc.boolean()),
                { selector: ([k]) => k, minLength: 1, maxLength: 6 },
              ),
              fc.uniqueArray(tagArb, { minLength: 1, maxLength: 2 }),
            ],
            async (items, invalidated) => {
              const cache = await ctx.fresh();
              for (const [key, value, tags, many] of items) {
                if (many) await cache.setMany(new Map([[key, value]]), { tags });
                else await cache.set(key, value, { ttl: 60, tags });
              }
              await cache.invalidateTags(invalidated);
              const gone = (tags: readonly string[]): boolean => tags.some((t) => invalidated.includes(t));
              const many = await cache.getMany(items.map(([k]) => k));
              for (const [key, value, tags] of items) {
                if (gone(tags)) {
                  expect(await cache.get(key)).toBeUndefined();
                  expect(await cache.exists(key)).toBe(false);
                  expect(await cache.ttl(key)).toBeUndefined();
                  expect(many.has(key)).toBe(false);
                } else {
                  expectSameValue(await cache.get(key), value);
                  expect(await cache.exists(key)).toBe(true);
                  expectSameValue(many.get(key), value);
                }
              }
            },
          ),
      },
      {
        name: 'a value written with a tag after its invalidation is read; invalidating it again hides it',
        run: async (ctx) => {
          const cache = await ctx.fresh();
          await cache.set('k', 1, { tags: ['t'] });
          await cache.invalidateTags(['t']);
          expect(await cache.get('k')).toBeUndefined();
          await cache.set('k', 2, { tags: ['t', 'u'] });
          expect(await cache.get('k')).toBe(2);
          await cache.invalidateTags(['u']);
          expect(await cache.get('k')).toBeUndefined();
          await cache.set('k', 3);
          await cache.invalidateTags(['t', 'u']);
          expect(await cache.get('k')).toBe(3);
          await cache.invalidateTags([]);
        },
      },
      {
        name: 'set with { ttl, grace }: the value lives for ttl as read by get, exists and ttl, never for its grace',
        run: async (ctx) => {
          const cache = await ctx.fresh();
          await cache.set('g', 'v', { ttl: 1, grace: 60 });
          expect(await cache.get('g')).toBe('v');
          expect(await cache.ttl('g')).toBe(1);
          await ctx.elapse(1_200);
          expect(await cache.get('g')).toBeUndefined();
          expect(await cache.exists('g')).toBe(false);
          expect(await cache.ttl('g')).toBeUndefined();
          expect((await cache.getMany(['g'])).size).toBe(0);
        },
      },
      {
        name: 'bad tags or write options are refused before anything is written',
        run: async (ctx) => {
          const cache = await ctx.fresh();
          const bad: unknown[] = [{ tags: 'a' }, { tags: [''] }, { tags: [1] }, { tags: ['\ud800'] }];
          for (const options of bad) {
            await expectValidationError(cache.set('k', 1, options as never), 'tags');
            await expectValidationError(cache.setMany({ k: 1 }, options as never), 'tags');
          }
          await expectValidationError(cache.set('k', 1, { tags: ['x'.repeat(1025)] }), 'tags');
          await expectValidationError(cache.set('k', 1, { ttl: -1 }), 'ttl');
          await expectValidationError(cache.set('k', 1, { grace: -1, ttl: 1 }), 'grace');
          await expectValidationError(cache.set('k', 1, { grace: 5 }), 'grace');
          await expectValidationError(cache.set('k', 1, { tag: ['a'] } as never), 'options');
          await expectValidationError(cache.invalidateTags('a' as never), 'tags');
          await expectValidationError(cache.invalidateTags([''] as never), 'tags');
          expect(await cache.exists('k')).toBe(false);
        },
      },
      {
        name: 'deleteMany removes the keys given and counts those that held a value, each once',
        run: (ctx) =>
          ctx.check(
            [
              fc.uniqueArray(fc.tuple(keyArb, valueArb), { selector: ([k]) => k, maxLength: 6 }),
              fc.array(keyArb, { maxLength: 8 }),
            ],
            async (stored, requested) => {
              const cache = await ctx.fresh();
              for (const [k, v] of stored) await cache.set(k, v);
              const present = new Set(stored.map(([k]) => k));
              const expected = new Set(requested.filter((k) => present.has(k))).size;
              expect(await cache.deleteMany(requested)).toBe(expected);
              for (const [k, v] of stored) {
                if (requested.includes(k)) expect(await cache.exists(k)).toBe(false);
                else expectSameValue(await cache.get(k), v);
              }
            },
          ),
      },
      {
        name: 'deleteMany of no keys is 0; a bad key list is refused before anything is deleted',
        run: async (ctx) => {
          const cache = await ctx.fresh();
          await cache.set('k', 1);
          expect(await cache.deleteMany([])).toBe(0);
          await expectValidationError(cache.deleteMany(['k', ''] as never), 'keys[1]');
          await expectValidationError(cache.deleteMany('k' as never), 'keys');
          expect(await cache.get('k')).toBe(1);
        },
      },
    ],
  };
}
