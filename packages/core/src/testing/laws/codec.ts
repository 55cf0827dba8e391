import { expect } from 'vitest';
import { circular, keyArb, unserializableArb, valueArb } from '../arbitraries.js';
import { expectSerializationError } from '../expect-error.js';
import type { LawGroup } from '../harness.js';
import { expectSameValue } from '../same-value.js';

/** Law 2: no silent change of type. */
export function codecLaws(): LawGroup {
  return {
    name: 'codec',
    laws: [
      {
        name: 'Date, BigInt, Map, Set and Uint8Array come back as themselves',
        run: (ctx) =>
          ctx.check([keyArb, valueArb], async (key, inner) => {
            const cache = await ctx.fresh();
            const value = {
              date: new Date(1_700_000_000_123),
              invalid: new Date(Number.NaN),
              big: 2n ** 70n,
              map: new Map<unknown, unknown>([
                [1, inner],
                ['1', 'one'],
              ]),
              set: new Set<unknown>([inner, 'x']),
              bytes: new Uint8Array([0, 255, 7]),
              inner,
            };
            await cache.set(key, value);
            const read = (await cache.get<typeof value>(key))!;
            expectSameValue(read, value);
            expect(read.date).toBeInstanceOf(Date);
            expect(typeof read.big).toBe('bigint');
            expect(read.map).toBeInstanceOf(Map);
            expect(read.set).toBeInstanceOf(Set);
            expect(read.bytes).toBeInstanceOf(Uint8Array);
          }),
      },
      {
        name: 'strings and objects that look like encoded tags or envelopes stay what they were',
        run: (ctx) =>
          ctx.check([keyArb], async (key) => {
            const cache = await ctx.fresh();
            const lookalikes = [
              '{"$t":"Date","v":"2020-01-01T00:00:00.000Z"}',
              { $t: 'Date', v: '2020-01-01T00:00:00.000Z' },
              { $t: 'BigInt', v: '1' },
              { $t: 'Object', v: [['a', 1]] },
              { v: 1, $strata: 1 },
              ['$t', 'Date'],
              // The Redis adapter's envelope (docs/codec.md): a value shaped like one is still that value.
              { $s: 1, exp: 1, v: 'inner' },
              { $s: 1, exp: null, v: { $t: 'Date', v: '2020-01-01T00:00:00.000Z' } },
              '{"$s":1,"exp":1,"v":"inner"}',
            ];
            for (const value of lookalikes) {
              await cache.set(key, value);
              expectSameValue(await cache.get(key), value);
            }
          }),
      },
      {
        name: 'a value the codec cannot round-trip is refused with SerializationError and nothing is written',
        run: (ctx) =>
          ctx.check([keyArb, unserializableArb], async (key, bad) => {
            const cache = await ctx.fresh();
            await cache.set(key, 'before');
            await expectSerializationError(cache.set(key, bad));
            await expectSerializationError(cache.set(key, { wrapped: [bad] }));
            await expectSerializationError(cache.set(key, circular()));
            await expectSerializationError(
              cache.setMany(
                new Map([
                  [`${key}+`, 1],
                  [key, bad],
                ]),
              ),
            );
            expect(await cache.get(key)).toBe('before');
            expect(await cache.exists(`${key}+`)).toBe(false);
          }),
      },
    ],
  };
}
