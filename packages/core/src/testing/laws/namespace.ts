import fc from 'fast-check';
import { expect } from 'vitest';
import type { CacheProtocol } from '../../protocol.js';
import { keyArb, patternArb } from '../arbitraries.js';
import type { LawGroup } from '../harness.js';

async function fill(cache: CacheProtocol, keys: readonly string[], tag: string): Promise<void> {
  await cache.setMany(new Map(keys.map((k) => [k, tag])));
}

async function expectIntact(cache: CacheProtocol, keys: readonly string[], tag: string): Promise<void> {
  const found = await cache.getMany(keys);
  expect(found.size).toBe(keys.length);
  for (const v of found.values()) expect(v).toBe(tag);
}

/** Law 11: clear and deletePattern never reach outside the cache's namespace. */
export function namespaceLaws(): LawGroup {
  return {
    name: 'namespaces',
    laws: [
      {
        name: 'clear and deletePattern never touch a key of another namespace, even one that glob-matches',
        run: async (ctx) => {
          // Siblings whose names are glob-active or prefixes of each other are where naive escaping leaks.
          const siblings = await Promise.all(['*', '?x', '[a-z]', '-other'].map((s) => ctx.createSibling(s)));
          await ctx.check(
            [fc.uniqueArray(keyArb, { minLength: 1, maxLength: 5 }), patternArb],
            async (keys, pattern) => {
              const cache = await ctx.fresh();
              for (const sibling of siblings) await sibling.clear();
              await fill(cache, keys, 'own');
              for (const [i, sibling] of siblings.entries()) await fill(sibling, keys, `sibling${i}`);
              if (ctx.capabilities.patternDelete) {
                await cache.deletePattern(pattern);
                await cache.deletePattern('*');
                await cache.deletePattern(`*${pattern}`);
              }
              await cache.clear();
              expect((await cache.getMany(keys)).size).toBe(0);
              for (const [i, sibling] of siblings.entries()) await expectIntact(sibling, keys, `sibling${i}`);
              await siblings[0]!.clear();
              for (const [i, sibling] of siblings.entries())
                if (i > 0) await expectIntact(sibling, keys, `sibling${i}`);
            },
          );
        },
      },
    ],
  };
}
