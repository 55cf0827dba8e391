import { describe, expect, it } from 'vitest';
import { describeCacheProtocol, type LawOutcome, runCacheProtocolLaws } from '../src/testing/index.js';
import { type Bugs, lossyJsonCodec, MapCacheAdapter } from './support/map-cache-adapter.js';

function factory(bugs: Bugs = {}, codec = undefined as typeof lossyJsonCodec | undefined) {
  const store = new Map();
  return {
    clock: 'manual' as const,
    numRuns: 40,
    create: ({ namespace, now }: { namespace: string; now: () => number }) =>
      new MapCacheAdapter({ store, namespace, now, bugs, ...(codec ? { codec } : {}) }),
  };
}

// The reference adapter is correct: it must pass every law, or the suite is wrong.
describeCacheProtocol('MapCacheAdapter (reference)', factory());

const failed = (outcomes: LawOutcome[]): string[] =>
  outcomes.filter((o) => o.error !== undefined).map((o) => o.law);

describe('the law suite catches broken adapters', () => {
  const cases: Array<[string, Bugs, string, typeof lossyJsonCodec | undefined]> = [
    [
      'keys that expire one second late',
      { expiresLate: true },
      'a key lives for its TTL and is absent afterwards',
      undefined,
    ],
    [
      'ttl() rounded to the nearest second',
      { ttlRoundsToNearest: true },
      'ttl() is the remaining time in whole seconds, rounded up, at least 1',
      undefined,
    ],
    [
      'values kept by reference',
      { aliases: true },
      'mutating a value after set, or what get returned, does not change what the cache holds',
      undefined,
    ],
    [
      'null stored as a miss',
      { nullIsMiss: true },
      'null is a value: get returns null and exists is true',
      undefined,
    ],
    [
      '? matching two characters',
      { questionMatchesTwo: true },
      'Redis globs match bytes: ? matches one UTF-8 byte, so ?? matches é and ? does not',
      undefined,
    ],
    [
      'clear reaching outside its namespace',
      { clearLeaks: true },
      'clear and deletePattern never touch a key of another namespace, even one that glob-matches',
      undefined,
    ],
    [
      'getMany out of request order',
      { getManyUnordered: true },
      'getMany answers in request order, not in the order keys were stored',
      undefined,
    ],
    [
      'an invalidateTags that invalidates only its first tag',
      { invalidatesFirstTagOnly: true },
      'after invalidateTags(T), no value written with a tag in T before it is read; the others are',
      undefined,
    ],
    [
      'a Date returned as a string',
      {},
      'Date, BigInt, Map, Set and Uint8Array come back as themselves',
      lossyJsonCodec,
    ],
  ];
  for (const [what, bugs, law, codec] of cases) {
    it(`catches ${what}`, async () => {
      const outcomes = await runCacheProtocolLaws(factory(bugs, codec));
      expect(failed(outcomes)).toContain(law);
    });
  }
});
