import {
  type CacheProtocol,
  CacheValidationError,
  MalformedBusMessageError,
  SerializationError,
} from '@strata-cache/core';
import { readEntry, uniqueNamespace } from '@strata-cache/core/testing';
import { MemoryCacheAdapter } from '@strata-cache/memory';
import { busChannel, RedisCacheAdapter, RedisPubSubBus } from '@strata-cache/redis';
import { TieredCache } from '@strata-cache/tiered';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { eventually, printFigures, sleep } from './support/figures.js';
import { type ProcessWatch, watchProcess } from './support/process-watch.js';
import { TARGETS, type Target } from './support/targets.js';

/**
 * The bad-input catalogue: one table of calls and constructions with arguments no cache should accept (or odd
 * ones it must accept exactly), each run on the memory adapter, the Redis adapter and a TieredCache over both.
 * A refused call must reject with an error that names the argument (`CacheValidationError.argument`, or the
 * `SerializationError.path` inside the value) and leave every tier exactly as it was. Then data we did not write:
 * foreign bytes under our namespace, and raw messages on our bus channel.
 */

const redis = inject('redis');

/** What a row expects: a refusal naming the argument, or acceptance with a faithful round trip. */
type Expectation =
  | { readonly refused: 'validation'; readonly argument: string }
  | { readonly refused: 'serialization'; readonly path: string }
  | { readonly accepted: true };

interface CallCase {
  readonly what: string;
  readonly call: (cache: CacheProtocol) => Promise<unknown>;
  readonly expect: Expectation;
  /** For accepted cases: what `get(key)` must give afterwards (and `key` is deleted again). */
  readonly key?: string;
  readonly value?: unknown;
}

interface OptionCase {
  readonly what: string;
  readonly construct: () => { close(): Promise<void> } | object;
  /** The option name the error message must contain. */
  readonly names: string;
}

const BAD_KEYS: ReadonlyArray<[string, unknown]> = [
  ['undefined', undefined],
  ['null', null],
  ['a number', 42],
  ['a boolean', true],
  ['an object', {}],
  ['an array', ['k']],
  ['a symbol', Symbol('k')],
  ['a boxed String', new String('k')],
  ['the empty string', ''],
  ['a lone high surrogate', '\ud800'],
  ['a lone low surrogate inside', 'a\udc00b'],
];

const ODD_KEYS: ReadonlyArray<[string, string]> = [
  ['a 1 MiB key', 'k'.repeat(1 << 20)],
  ['*', '*'],
  ['?', '?'],
  ['[a-z]', '[a-z]'],
  ['a backslash-escaped star', 'a\\*'],
  ['whitespace only', ' \t\n'],
  ['NUL', '\u0000'],
  ['astral and combining characters', 'e\u0301😀'],
  ['what looks like another namespace', 'other-namespace:seed'],
];

const BAD_TTLS: ReadonlyArray<[string, unknown]> = [
  ['0', 0],
  ['-0', -0],
  ['negative', -1],
  ['a tiny negative', -Number.MIN_VALUE],
  ['NaN', Number.NaN],
  ['+Infinity', Number.POSITIVE_INFINITY],
  ['-Infinity', Number.NEGATIVE_INFINITY],
  ['a numeric string', '10'],
  ['a boolean', true],
  // An object is the options form ({ ttl, grace, tags }): one with a bad ttl is a bad TTL.
  ['an options object with ttl 0', { ttl: 0 }],
  ['an options object with a string ttl', { ttl: '10' }],
  ['an array', []],
  ['a bigint', 10n],
  ['2^53 s (more than 2^53-1 ms)', 2 ** 53],
  ['Number.MAX_VALUE', Number.MAX_VALUE],
];

/** `values` with a hole at `hole`, as `[1, , 3]` would write it. */
function sparse(values: unknown[], hole: number): unknown[] {
  const array = [...values];
  delete array[hole];
  return array;
}

function circular(): unknown {
  const node: Record<string, unknown> = { name: 'loop' };
  node.self = node;
  return node;
}

const BAD_VALUES: ReadonlyArray<[string, () => unknown, string]> = [
  ['a function', () => () => 1, '$'],
  ['a symbol', () => Symbol('v'), '$'],
  ['undefined (top level)', () => undefined, '$'],
  ['a circular object', circular, '$.self'],
  ['NaN', () => Number.NaN, '$'],
  ['-0', () => -0, '$'],
  ['Infinity nested', () => ({ a: { b: [1, Number.POSITIVE_INFINITY] } }), '$.a.b[1]'],
  ['a sparse array', () => sparse([1, 2, 3], 1), '$[1]'],
  [
    'a getter that throws',
    () => ({
      get x(): never {
        throw new Error('boom');
      },
    }),
    '$.x',
  ],
  [
    'a toJSON that throws',
    () => ({
      toJSON(): never {
        throw new Error('boom');
      },
    }),
    '$.toJSON',
  ],
  [
    'a class instance',
    () =>
      new (class Point {
        x = 1;
      })(),
    '$',
  ],
  ['a Map with a function value', () => new Map([['k', () => 1]]), '$<map>[0].value'],
  ['a symbol-keyed property', () => ({ [Symbol('s')]: 1 }), '$[Symbol(s)]'],
];

const ODD_VALUES: ReadonlyArray<[string, unknown]> = [
  ['an own __proto__ key', JSON.parse('{"__proto__":{"polluted":true},"a":1}')],
  ['a constructor key', { constructor: { prototype: { polluted: true } } }],
  ['a $t key that looks like a codec tag', { $t: 'Date', v: 'not a date' }],
  ['a null-prototype object', Object.assign(Object.create(null) as object, { a: 1 })],
  ['nested undefined (omitted, as JSON does)', { a: 1, b: undefined }],
];

const BAD_PATTERNS: ReadonlyArray<[string, unknown]> = [
  ['a number', 1],
  ['null', null],
  ['undefined', undefined],
  ['an object', {}],
  ['a RegExp', /seed/],
  ['an array', ['*']],
  ['a lone surrogate', 'se\ud800*'],
];

const HUGE_PATTERNS: ReadonlyArray<[string, string]> = [
  ['a 1 MiB literal', 'x'.repeat(1 << 20)],
  ['100,000 stars after a prefix', `x${'*'.repeat(100_000)}`],
  ['a backtracking bomb (5,000 × "a*", then "b")', `${'a*'.repeat(5_000)}b`],
  ['100,000 nested classes', '['.repeat(100_000)],
];

/** The one table: every bad (or odd) call. */
const CALLS: CallCase[] = [
  ...BAD_KEYS.flatMap(([what, key]): CallCase[] => [
    {
      what: `set with ${what} as key`,
      call: (c) => c.set(key as string, 1),
      expect: { refused: 'validation', argument: 'key' },
    },
    {
      what: `get with ${what} as key`,
      call: (c) => c.get(key as string),
      expect: { refused: 'validation', argument: 'key' },
    },
    {
      what: `delete with ${what} as key`,
      call: (c) => c.delete(key as string),
      expect: { refused: 'validation', argument: 'key' },
    },
    {
      what: `exists with ${what} as key`,
      call: (c) => c.exists(key as string),
      expect: { refused: 'validation', argument: 'key' },
    },
    {
      what: `ttl with ${what} as key`,
      call: (c) => c.ttl(key as string),
      expect: { refused: 'validation', argument: 'key' },
    },
    {
      what: `getMany with ${what} among the keys`,
      call: (c) => c.getMany(['seed', key as string]),
      expect: { refused: 'validation', argument: 'keys[1]' },
    },
    {
      what: `setMany with ${what} among the item keys (the good item is not written either)`,
      call: (c) =>
        c.setMany(
          new Map([
            ['k', 1],
            [key as string, 2],
          ]),
        ),
      expect: { refused: 'validation', argument: 'items key' },
    },
  ]),
  {
    what: 'getMany with a string instead of an array',
    call: (c) => c.getMany('seed' as unknown as string[]),
    expect: { refused: 'validation', argument: 'keys' },
  },
  {
    what: 'setMany with an array of pairs',
    call: (c) => c.setMany([['k', 1]] as never),
    expect: { refused: 'validation', argument: 'items' },
  },
  {
    what: 'setMany with null',
    call: (c) => c.setMany(null as never),
    expect: { refused: 'validation', argument: 'items' },
  },
  {
    what: 'setMany with a class instance',
    call: (c) =>
      c.setMany(
        new (class Items {
          k = 1;
        })() as never,
      ),
    expect: { refused: 'validation', argument: 'items' },
  },
  ...ODD_KEYS.map(
    ([what, key]): CallCase => ({
      what: `set with ${what} as key: a key like any other, literal`,
      call: (c) => c.set(key, 'odd'),
      expect: { accepted: true },
      key,
      value: 'odd',
    }),
  ),
  ...BAD_TTLS.flatMap(([what, ttl]): CallCase[] => [
    {
      what: `set with ${what} as ttl`,
      call: (c) => c.set('k', 1, ttl as number),
      expect: { refused: 'validation', argument: 'ttl' },
    },
    {
      what: `setMany with ${what} as ttl`,
      call: (c) => c.setMany({ k: 1, j: 2 }, ttl as number),
      expect: { refused: 'validation', argument: 'ttl' },
    },
  ]),
  {
    what: 'set with an empty tag',
    call: (c) => c.set('k', 1, { tags: [''] }),
    expect: { refused: 'validation', argument: 'tags[0]' },
  },
  {
    what: 'set with tags that are not a list',
    call: (c) => c.set('k', 1, { tags: 'user:1' as never }),
    expect: { refused: 'validation', argument: 'tags' },
  },
  {
    what: 'setMany with a tag too long for a bus message',
    call: (c) => c.setMany({ k: 1 }, { tags: ['t'.repeat(2_000)] }),
    expect: { refused: 'validation', argument: 'tags[0]' },
  },
  {
    what: 'set with an unknown write option',
    call: (c) => c.set('k', 1, { ttl: 5, tag: ['x'] } as never),
    expect: { refused: 'validation', argument: 'options' },
  },
  {
    what: 'set with grace but no ttl',
    call: (c) => c.set('k', 1, { grace: 5 }),
    expect: { refused: 'validation', argument: 'grace' },
  },
  {
    what: 'invalidateTags with a lone surrogate',
    call: (c) => c.invalidateTags(['\ud800']),
    expect: { refused: 'validation', argument: 'tags[0]' },
  },
  {
    what: 'invalidateTags with a string',
    call: (c) => c.invalidateTags('user:1' as never),
    expect: { refused: 'validation', argument: 'tags' },
  },
  {
    what: 'deleteMany with a bad key among good ones',
    call: (c) => c.deleteMany(['a', '', 'b']),
    expect: { refused: 'validation', argument: 'keys[1]' },
  },
  ...BAD_VALUES.flatMap(([what, make, path]): CallCase[] => [
    {
      what: `set with ${what} as value`,
      call: (c) => c.set('k', make()),
      expect: { refused: 'serialization', path },
    },
    {
      what: `setMany with ${what} as one value (the good item is not written either)`,
      call: (c) =>
        c.setMany(
          new Map([
            ['j', 1],
            ['k', make()],
          ]),
        ),
      expect: { refused: 'serialization', path },
    },
  ]),
  ...ODD_VALUES.map(
    ([what, value]): CallCase => ({
      what: `set with ${what}: stored as own data, exactly`,
      call: (c) => c.set('k', value),
      expect: { accepted: true },
      key: 'k',
      value,
    }),
  ),
  ...BAD_PATTERNS.map(
    ([what, pattern]): CallCase => ({
      what: `deletePattern with ${what}`,
      call: (c) => c.deletePattern(pattern as string),
      expect: { refused: 'validation', argument: 'pattern' },
    }),
  ),
];

/** Odd but valid patterns: they delete nothing here (no key matches), quickly, and the seed survives. */
const HUGE_PATTERN_CASES = HUGE_PATTERNS;

async function settle(promise: Promise<unknown>): Promise<{ error?: unknown }> {
  try {
    await promise;
    return {};
  } catch (error) {
    return { error };
  }
}

const watch: { current?: ProcessWatch } = {};
beforeAll(() => {
  watch.current = watchProcess();
});
afterAll(() => {
  const w = watch.current!;
  w.stop();
  expect(w.unhandledRejections).toEqual([]);
  expect(w.uncaughtExceptions).toEqual([]);
});

describe.each(TARGETS)('bad input on $name', ({ open }) => {
  let target: Target;
  beforeAll(() => {
    target = open(redis.url);
  });
  afterAll(async () => {
    await target.close();
  });

  async function seeded(): Promise<string[]> {
    await target.cache.clear();
    await target.cache.set('seed', 'seed-value');
    return target.snapshot();
  }

  it.each(CALLS)('$what', async ({ call, expect: expected, key, value }) => {
    const before = await seeded();
    const { error } = await settle(call(target.cache));
    if ('accepted' in expected) {
      expect(error).toBeUndefined();
      expect(await target.cache.get(key!)).toEqual(value);
      expect(await target.cache.get('seed')).toBe('seed-value');
      await target.cache.delete(key!);
      expect(await target.cache.exists(key!)).toBe(false);
    } else if (expected.refused === 'validation') {
      expect(error).toBeInstanceOf(CacheValidationError);
      expect((error as CacheValidationError).argument).toBe(expected.argument);
      expect((error as Error).message).toContain(expected.argument);
    } else {
      expect(error).toBeInstanceOf(SerializationError);
      expect((error as SerializationError).path).toBe(expected.path);
      // Every bad value in the table is the value of key 'k', which the error names.
      expect((error as SerializationError).key).toBe('k');
      expect((error as Error).message).toContain(`the value of key "k" at ${expected.path}: `);
    }
    expect(await target.snapshot()).toEqual(before);
  });

  it.each(HUGE_PATTERN_CASES)(
    'deletePattern with %s: accepted, deletes nothing, in bounded time',
    async (_, pattern) => {
      const before = await seeded();
      await target.cache.set('a'.repeat(300), 'bait for backtracking');
      const started = performance.now();
      const deleted = await target.cache.deletePattern(pattern);
      const elapsed = performance.now() - started;
      expect(deleted).toBe(0);
      expect(elapsed).toBeLessThan(2_000);
      await target.cache.delete('a'.repeat(300));
      expect(await target.snapshot()).toEqual(before);
    },
  );
});

describe('bad options: the constructor throws at once, naming the option, and opens nothing', () => {
  const tiers = () => [new MemoryCacheAdapter(), new MemoryCacheAdapter()];
  const url = () => redis.url;
  const OPTIONS: OptionCase[] = [
    {
      what: 'MemoryCacheAdapter maxEntries -1',
      construct: () => new MemoryCacheAdapter({ maxEntries: -1 }),
      names: 'maxEntries',
    },
    {
      what: 'MemoryCacheAdapter maxEntries 0',
      construct: () => new MemoryCacheAdapter({ maxEntries: 0 }),
      names: 'maxEntries',
    },
    {
      what: 'MemoryCacheAdapter maxEntries 1.5',
      construct: () => new MemoryCacheAdapter({ maxEntries: 1.5 }),
      names: 'maxEntries',
    },
    {
      what: 'MemoryCacheAdapter maxEntries NaN',
      construct: () => new MemoryCacheAdapter({ maxEntries: Number.NaN }),
      names: 'maxEntries',
    },
    {
      what: 'MemoryCacheAdapter maxEntries "10"',
      construct: () => new MemoryCacheAdapter({ maxEntries: '10' as never }),
      names: 'maxEntries',
    },
    {
      what: 'MemoryCacheAdapter maxBytes -5',
      construct: () => new MemoryCacheAdapter({ maxBytes: -5 }),
      names: 'maxBytes',
    },
    {
      what: 'MemoryCacheAdapter maxBytes Infinity',
      construct: () => new MemoryCacheAdapter({ maxBytes: Number.POSITIVE_INFINITY }),
      names: 'maxBytes',
    },
    {
      what: 'MemoryCacheAdapter namespace ""',
      construct: () => new MemoryCacheAdapter({ namespace: '' }),
      names: 'namespace',
    },
    {
      what: 'MemoryCacheAdapter namespace with ":"',
      construct: () => new MemoryCacheAdapter({ namespace: 'a:b' }),
      names: 'namespace',
    },
    {
      what: 'MemoryCacheAdapter namespace 5',
      construct: () => new MemoryCacheAdapter({ namespace: 5 as never }),
      names: 'namespace',
    },
    {
      what: 'MemoryCacheAdapter codec {}',
      construct: () => new MemoryCacheAdapter({ codec: {} as never }),
      names: 'codec',
    },
    {
      what: 'MemoryCacheAdapter now "x"',
      construct: () => new MemoryCacheAdapter({ now: 'x' as never }),
      names: 'now',
    },
    {
      what: 'MemoryCacheAdapter unknown option maxEntrys',
      construct: () => new MemoryCacheAdapter({ maxEntrys: 5 } as never),
      names: 'maxEntrys',
    },
    {
      what: 'RedisCacheAdapter commandTimeoutMs -1',
      construct: () => new RedisCacheAdapter({ url: url(), commandTimeoutMs: -1 }),
      names: 'commandTimeoutMs',
    },
    {
      what: 'RedisCacheAdapter commandTimeoutMs NaN',
      construct: () => new RedisCacheAdapter({ url: url(), commandTimeoutMs: Number.NaN }),
      names: 'commandTimeoutMs',
    },
    {
      what: 'RedisCacheAdapter scanCount 0',
      construct: () => new RedisCacheAdapter({ url: url(), scanCount: 0 }),
      names: 'scanCount',
    },
    {
      what: 'RedisCacheAdapter namespace with ":"',
      construct: () => new RedisCacheAdapter({ url: url(), namespace: 'a:b' }),
      names: 'namespace',
    },
    {
      what: 'RedisCacheAdapter url 5',
      construct: () => new RedisCacheAdapter({ url: 5 as never }),
      names: 'url',
    },
    {
      what: 'RedisCacheAdapter client {}',
      construct: () => new RedisCacheAdapter({ client: {} as never }),
      names: 'client',
    },
    {
      what: 'RedisCacheAdapter url and cluster together',
      construct: () => new RedisCacheAdapter({ url: url(), cluster: { nodes: [] } }),
      names: 'cluster',
    },
    {
      what: 'RedisCacheAdapter unknown option timeout',
      construct: () => new RedisCacheAdapter({ url: url(), timeout: 5 } as never),
      names: 'timeout',
    },
    {
      what: 'RedisPubSubBus heartbeatMs 0',
      construct: () => new RedisPubSubBus({ url: url(), heartbeatMs: 0 }),
      names: 'heartbeatMs',
    },
    {
      what: 'RedisPubSubBus heartbeatTimeoutMs below heartbeatMs',
      construct: () => new RedisPubSubBus({ url: url(), heartbeatMs: 500, heartbeatTimeoutMs: 400 }),
      names: 'heartbeatTimeoutMs',
    },
    {
      what: 'RedisPubSubBus publishTimeoutMs -1',
      construct: () => new RedisPubSubBus({ url: url(), publishTimeoutMs: -1 }),
      names: 'publishTimeoutMs',
    },
    {
      what: 'RedisPubSubBus namespace with ":"',
      construct: () => new RedisPubSubBus({ url: url(), namespace: 'a:b' }),
      names: 'namespace',
    },
    {
      what: 'RedisPubSubBus id ""',
      construct: () => new RedisPubSubBus({ url: url(), id: '' }),
      names: 'id',
    },
    {
      what: 'RedisPubSubBus unknown option heartbeat',
      construct: () => new RedisPubSubBus({ url: url(), heartbeat: 5 } as never),
      names: 'heartbeat',
    },
    {
      what: 'TieredCache without tiers',
      construct: () => new TieredCache({ tiers: [] }),
      names: 'tiers',
    },
    {
      what: 'TieredCache a tier that is no cache',
      construct: () => new TieredCache({ tiers: [{} as never, new MemoryCacheAdapter()] }),
      names: 'tiers[0]',
    },
    {
      what: 'TieredCache maxTtl 0',
      construct: () => new TieredCache({ tiers: tiers(), maxTtl: 0 }),
      names: 'maxTtl',
    },
    {
      what: 'TieredCache maxTtl -1',
      construct: () => new TieredCache({ tiers: tiers(), maxTtl: -1 }),
      names: 'maxTtl',
    },
    {
      what: 'TieredCache maxTtl Infinity',
      construct: () => new TieredCache({ tiers: tiers(), maxTtl: Number.POSITIVE_INFINITY }),
      names: 'maxTtl',
    },
    {
      what: 'TieredCache tiers[0].maxTtl NaN',
      construct: () =>
        new TieredCache({
          tiers: [{ cache: new MemoryCacheAdapter(), maxTtl: Number.NaN }, new MemoryCacheAdapter()],
        }),
      names: 'tiers[0].maxTtl',
    },
    {
      what: 'TieredCache timeoutMs 0',
      construct: () => new TieredCache({ tiers: tiers(), timeoutMs: 0 }),
      names: 'timeoutMs',
    },
    {
      what: 'TieredCache timeoutMs 1.5',
      construct: () => new TieredCache({ tiers: tiers(), timeoutMs: 1.5 }),
      names: 'timeoutMs',
    },
    {
      what: 'TieredCache onLowerTierError "ignore"',
      construct: () => new TieredCache({ tiers: tiers(), onLowerTierError: 'ignore' as never }),
      names: 'onLowerTierError',
    },
    {
      what: 'TieredCache unknown option maxTTL',
      construct: () => new TieredCache({ tiers: tiers(), maxTTL: 5 } as never),
      names: 'maxTTL',
    },
  ];

  it.each(OPTIONS)('$what', async ({ construct, names }) => {
    const sockets = () => process.getActiveResourcesInfo().filter((r) => r.startsWith('TCP')).length;
    const before = sockets();
    let made: unknown;
    let error: unknown;
    try {
      made = construct();
    } catch (e) {
      error = e;
    }
    if (made !== undefined) await (made as { close?: () => Promise<void> }).close?.();
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).name).toMatch(/^(TypeError|RangeError)$/);
    expect((error as Error).message).toContain(names);
    await sleep(20);
    // Sockets of earlier tests may still be closing: what matters is that none was opened.
    expect(sockets()).toBeLessThanOrEqual(before);
  });
});

describe('data we did not write', () => {
  const namespace = uniqueNamespace('foreign');
  let raw: Redis;
  let adapter: RedisCacheAdapter;
  let l1: MemoryCacheAdapter;
  let tiered: TieredCache;
  const tieredErrors: Array<{ operation: string; error: Error }> = [];
  beforeAll(() => {
    raw = new Redis(redis.url);
    adapter = new RedisCacheAdapter({ url: redis.url, namespace });
    l1 = new MemoryCacheAdapter({ namespace });
    tiered = new TieredCache({ tiers: [l1, adapter] });
    tiered.on('error', (event) => tieredErrors.push(event));
  });
  afterAll(async () => {
    await tiered.close();
    await l1.close();
    await adapter.close();
    raw.disconnect();
  });

  /** Bytes another program might leave under our namespace, and what Strata makes of them. */
  const FOREIGN: ReadonlyArray<[string, string | Buffer]> = [
    ['text that is not JSON', 'hello world'],
    ['the empty string', ''],
    ['invalid UTF-8', Buffer.from([0xff, 0xfe, 0x7b])],
    ['truncated JSON', '{"a":[1,2'],
    ['a tag of an unknown type', '{"$t":"Regexp","v":"a+"}'],
    ['a malformed BigInt tag', '{"$t":"BigInt","v":"1.5"}'],
    ['a tag with an extra key', '{"$t":"Date","v":"2020-01-01T00:00:00.000Z","x":1}'],
    ['a Map tag whose entries are not pairs', '{"$t":"Map","v":[1,2,3]}'],
    ['a Uint8Array tag that is not base64', '{"$t":"Uint8Array","v":"***"}'],
  ];

  it.each(FOREIGN)(
    '%s: get and getMany reject with SerializationError on the adapter and on TieredCache; L1 keeps nothing; delete cleans it up',
    async (_, bytes) => {
      await raw.set(`${namespace}:foreign`, bytes);
      await adapter.set('fine', 'fine');
      for (const cache of [adapter, tiered] as CacheProtocol[]) {
        await expect(cache.get('foreign')).rejects.toBeInstanceOf(SerializationError);
        await expect(cache.getMany(['fine', 'foreign'])).rejects.toBeInstanceOf(SerializationError);
        await expect(cache.get('foreign')).rejects.toMatchObject({ key: 'foreign', operation: 'decode' });
        expect(await cache.get('fine')).toBe('fine');
        expect(await cache.exists('foreign')).toBe(true);
      }
      expect(await l1.exists('foreign')).toBe(false);
      await tiered.delete('foreign');
      expect(await raw.exists(`${namespace}:foreign`)).toBe(0);
      expect(await tiered.get('foreign')).toBeUndefined();
    },
  );

  it('plain JSON another service wrote is read as that JSON value', async () => {
    await raw.set(`${namespace}:json`, '{"name":"Ada","tags":["x"],"n":1.5}');
    expect(await adapter.get('json')).toEqual({ name: 'Ada', tags: ['x'], n: 1.5 });
    expect(await tiered.get('json')).toEqual({ name: 'Ada', tags: ['x'], n: 1.5 });
  });

  it('a key of another Redis type (a hash) under our namespace: every read answers a miss (MGET reads it as nil), set replaces it', async () => {
    await raw.hset(`${namespace}:hash`, 'field', 'value');
    expect(await adapter.get('hash')).toBeUndefined();
    expect(await readEntry(adapter, 'hash')).toBeUndefined();
    expect(await adapter.getMany(['hash'])).toEqual(new Map());
    const errorsBefore = tieredErrors.length;
    expect(await tiered.get('hash')).toBeUndefined();
    expect(tieredErrors.length).toBe(errorsBefore);
    // No entry is there to read: it does not exist as far as the cache can tell, and set replaces it.
    expect(await tiered.exists('hash')).toBe(false);
    expect(await l1.exists('hash')).toBe(false);
    await tiered.set('hash', 'mine now');
    expect(await raw.type(`${namespace}:hash`)).toBe('string');
    expect(await adapter.get('hash')).toBe('mine now');
    printFigures('bad input: a hash under our namespace', [
      'adapter.get, getEntry, getMany and TieredCache.get answer a miss; exists() is true; set() replaces it',
    ]);
  });
});

describe('raw messages on our bus channel: dropped with an error event and a reset, never a crash', () => {
  const namespace = uniqueNamespace('raw-bus');
  const channel = busChannel(namespace);
  let raw: Redis;
  const opened: Array<{ close(): Promise<void> }> = [];
  let cache: TieredCache;
  let l1: MemoryCacheAdapter;
  let peer: TieredCache;
  const errors: Error[] = [];
  beforeAll(async () => {
    raw = new Redis(redis.url);
    const make = () => {
      const layer1 = new MemoryCacheAdapter({ namespace });
      const l2 = new RedisCacheAdapter({ url: redis.url, namespace });
      const bus = new RedisPubSubBus({ url: redis.url, namespace });
      const tieredCache = new TieredCache({ tiers: [layer1, l2], bus });
      opened.push(tieredCache, bus, l2, layer1);
      return { tieredCache, layer1 };
    };
    ({ tieredCache: cache, layer1: l1 } = make());
    ({ tieredCache: peer } = make());
    cache.on('error', ({ operation, error }) => {
      if (operation === 'bus') errors.push(error);
    });
    await Promise.all([cache.ready(), peer.ready()]);
  });
  afterAll(async () => {
    for (const resource of opened.reverse()) await resource.close();
    raw.disconnect();
  });

  const MESSAGES: ReadonlyArray<[string, string | Buffer]> = [
    ['not JSON', 'drop everything'],
    ['JSON but not an object', '[1,2,3]'],
    ['null', 'null'],
    ['a wrong (future) version', '{"v":2,"origin":"x","seq":1,"kind":"clear"}'],
    ['a missing version', '{"origin":"x","seq":1,"kind":"clear"}'],
    ['no origin', '{"v":1,"seq":1,"kind":"clear"}'],
    ['a seq of 0', '{"v":1,"origin":"x","seq":0,"kind":"clear"}'],
    ['a fractional seq', '{"v":1,"origin":"x","seq":1.5,"kind":"clear"}'],
    ['an unknown kind', '{"v":1,"origin":"x","seq":1,"kind":"flushall"}'],
    ['keys that are not strings', '{"v":1,"origin":"x","seq":1,"kind":"keys","keys":[1,{"a":1}]}'],
    ['a pattern that is not a string', '{"v":1,"origin":"x","seq":1,"kind":"pattern","pattern":null}'],
    ['a __proto__ payload', '{"__proto__":{"polluted":true},"v":1,"origin":"x","seq":1,"kind":"nope"}'],
    ['oversized (2 MiB)', `{"v":1,"origin":"x","seq":1,"kind":"keys","keys":["${'k'.repeat(2 << 20)}"]}`],
    ['invalid UTF-8', Buffer.from([0x7b, 0xff, 0xfe, 0x7d])],
  ];

  it.each(MESSAGES)('%s', async (_, message) => {
    await cache.set('kept', 'value');
    await eventually('L1 holds kept', async () => (await l1.get('kept')) === 'value', 1_000);
    const before = errors.length;
    await raw.publish(channel, message);
    await eventually('the message is reported as an error', () => errors.length > before, 2_000);
    expect(errors[before]).toBeInstanceOf(MalformedBusMessageError);
    // What could not be read may have been an invalidation: L1 was dropped rather than trusted.
    await eventually('L1 was dropped', async () => (await l1.get('kept')) === undefined, 1_000);
    expect(Object.prototype).not.toHaveProperty('polluted');
    // The bus still works: a real invalidation from the peer still reaches this instance.
    const received = cache.stats().invalidationsReceived;
    await peer.set('kept', 'changed');
    await eventually(
      'the peer’s invalidation arrives',
      async () => cache.stats().invalidationsReceived > received && (await cache.get('kept')) === 'changed',
      2_000,
    );
  });
});
