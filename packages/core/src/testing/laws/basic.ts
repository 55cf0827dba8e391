import fc from 'fast-check';
import { expect } from 'vitest';
import { jsonValueArb, keyArb, smallKeyArb, valueArb } from '../arbitraries.js';
import type { LawGroup } from '../harness.js';
import { expectSameValue } from '../same-value.js';

/** Laws 1, 3, 4, 5 and 12: round trip, miss, null, delete, no aliasing. */
export function basicLaws(): LawGroup {
  return {
    name: 'basic',
    laws: [
      {
        name: 'set then get returns a value deep-equal to the one set, with the same types',
        run: (ctx) =>
          ctx.check([keyArb, valueArb], async (key, value) => {
            const cache = await ctx.fresh();
            await cache.set(key, value);
            expectSameValue(await cache.get(key), value);
          }),
      },
      {
        name: 'plain JSON values come back as the same JSON',
        run: (ctx) =>
          ctx.check([keyArb, jsonValueArb], async (key, value) => {
            const cache = await ctx.fresh();
            await cache.set(key, value);
            expect(JSON.stringify(await cache.get(key))).toBe(JSON.stringify(value));
          }),
      },
      {
        name: 'set overwrites the previous value',
        run: (ctx) =>
          ctx.check([keyArb, valueArb, valueArb], async (key, first, second) => {
            const cache = await ctx.fresh();
            await cache.set(key, first);
            await cache.set(key, second);
            expectSameValue(await cache.get(key), second);
          }),
      },
      {
        name: 'an absent key is a miss: get undefined, exists false, ttl undefined, omitted from getMany',
        run: (ctx) =>
          ctx.check([keyArb, keyArb, valueArb], async (key, other, value) => {
            fc.pre(key !== other);
            const cache = await ctx.fresh();
            await cache.set(other, value);
            expect(await cache.get(key)).toBeUndefined();
            expect(await cache.exists(key)).toBe(false);
            expect(await cache.ttl(key)).toBeUndefined();
            expect([...(await cache.getMany([key, other])).keys()]).toEqual([other]);
          }),
      },
      {
        name: 'null is a value: get returns null and exists is true',
        run: (ctx) =>
          ctx.check([keyArb], async (key) => {
            const cache = await ctx.fresh();
            await cache.set(key, null);
            expect(await cache.get(key)).toBeNull();
            expect(await cache.exists(key)).toBe(true);
            const many = await cache.getMany([key]);
            expect(many.has(key)).toBe(true);
            expect(many.get(key)).toBeNull();
          }),
      },
      {
        name: 'after delete the key is absent, and deleting an absent key is not an error',
        run: (ctx) =>
          ctx.check([keyArb, smallKeyArb, valueArb], async (key, other, value) => {
            fc.pre(key !== other);
            const cache = await ctx.fresh();
            await cache.set(key, value);
            await cache.set(other, value);
            await cache.delete(key);
            expect(await cache.get(key)).toBeUndefined();
            expect(await cache.exists(key)).toBe(false);
            await cache.delete(key);
            expectSameValue(await cache.get(other), value);
          }),
      },
      {
        name: 'mutating a value after set, or what get returned, does not change what the cache holds',
        run: (ctx) =>
          ctx.check(
            [keyArb, fc.dictionary(fc.string({ maxLength: 4 }), jsonValueArb, { minKeys: 1, maxKeys: 4 })],
            async (key, record) => {
              const cache = await ctx.fresh();
              const original = structuredClone(record);
              const value = {
                record,
                list: [1, 2, 3],
                when: new Date(0),
                tags: new Set(['a']),
                bytes: new Uint8Array([1]),
              };
              await cache.set(key, value);
              value.list.push(4);
              value.when.setTime(1);
              value.tags.add('b');
              value.bytes[0] = 9;
              for (const k of Object.keys(record)) delete record[k];
              const expected = {
                record: original,
                list: [1, 2, 3],
                when: new Date(0),
                tags: new Set(['a']),
                bytes: new Uint8Array([1]),
              };
              const read = (await cache.get<typeof value>(key))!;
              expectSameValue(read, expected);
              read.list.push(5);
              read.when.setTime(2);
              read.tags.add('c');
              read.bytes[0] = 8;
              (read.record as Record<string, unknown>).added = true;
              expectSameValue(await cache.get(key), expected);
              const many = await cache.getMany<typeof value>([key]);
              many.get(key)!.list.length = 0;
              expectSameValue((await cache.getMany([key])).get(key), expected);
            },
          ),
      },
    ],
  };
}
