import { matchGlob, prefixKey } from '@strata-cache/core';
import { uniqueNamespace } from '@strata-cache/core/testing';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';

const redis = inject('redis');
const CASES = Number(process.env.STRATA_GLOB_CASES ?? 10_000);
const PATTERNS_PER_KEY_SET = 50;

const alphabet = fc.constantFrom('a', 'b', 'c', '*', '?', '[', ']', '^', '-', '\\', 'é', '\u00ff', '!', 'z');
const keyArb = fc.string({ unit: alphabet, minLength: 1, maxLength: 6 });
const patternArb = fc.string({ unit: alphabet, maxLength: 7 });

let client: Redis;
beforeAll(() => {
  client = new Redis(redis.url);
});
afterAll(async () => {
  await client.quit();
});

async function scanMatch(match: string): Promise<Set<string>> {
  const found = new Set<string>();
  let cursor = '0';
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', match, 'COUNT', 10_000);
    cursor = next;
    for (const k of keys) found.add(k);
  } while (cursor !== '0');
  return found;
}

it(`Redis SCAN MATCH and core's matchGlob select the same keys (${CASES} pattern × key-set cases)`, async () => {
  const keySets = Math.ceil(CASES / PATTERNS_PER_KEY_SET);
  let compared = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.uniqueArray(keyArb, { minLength: 1, maxLength: 30 }),
      fc.array(patternArb, { minLength: PATTERNS_PER_KEY_SET, maxLength: PATTERNS_PER_KEY_SET }),
      async (keys, patterns) => {
        // A namespace of plain characters: the keys' glob characters are all the test is about.
        const namespace = uniqueNamespace('glob');
        const full = keys.map((k) => prefixKey(namespace, k));
        await client.mset(full.flatMap((k) => [k, '1']));
        try {
          for (const pattern of patterns) {
            const selected = await scanMatch(`${namespace}:${pattern}`);
            const expected = new Set(full.filter((_, i) => matchGlob(pattern, keys[i]!)));
            expect([...selected].sort(), `pattern ${JSON.stringify(pattern)}`).toEqual([...expected].sort());
            compared++;
          }
        } finally {
          await client.del(full);
        }
      },
    ),
    { numRuns: keySets },
  );
  expect(compared).toBeGreaterThanOrEqual(CASES);
}, 300_000);
