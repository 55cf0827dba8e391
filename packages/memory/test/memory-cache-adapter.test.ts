import { CacheValidationError, SerializationError } from '@strata-cache/core';
import { describeCacheProtocol, describeCacheStore, ManualClock } from '@strata-cache/core/testing';
import { describe, expect, it, vi } from 'vitest';
import { MemoryCacheAdapter, MemoryStore } from '../src/index.js';

describeCacheStore('MemoryStore', {
  clock: 'manual',
  create: ({ now }) => new MemoryStore({ maxEntries: 10_000, maxBytes: undefined, now }),
});

describeCacheProtocol('MemoryCacheAdapter', {
  clock: 'manual',
  create: ({ namespace, now }) => new MemoryCacheAdapter({ namespace, now }),
});

describeCacheProtocol('MemoryCacheAdapter with a byte limit', {
  clock: 'manual',
  create: ({ namespace, now }) =>
    new MemoryCacheAdapter({ namespace, now, maxBytes: 1_000_000, maxEntries: 100 }),
});

describeCacheProtocol('MemoryCacheAdapter with frozen (zero-copy) values', {
  clock: 'manual',
  create: ({ namespace, now }) => new MemoryCacheAdapter({ namespace, now, frozen: true }),
});

describe('MemoryStore, the backend of the adapter', () => {
  it('stores an entry its codec produced, as set would store the value', async () => {
    const cache = new MemoryCacheAdapter({ maxBytes: 100 });
    cache.store.set('k', { text: cache.codec.encode({ a: new Date(5) }), ttlMs: 60_000 });
    expect(await cache.get('k')).toEqual({ a: new Date(5) });
    expect(await cache.ttl('k')).toBe(60);
    cache.store.set('k', { text: '"forever"', ttlMs: undefined });
    expect(await cache.ttl('k')).toBeUndefined();
    expect(cache.store.get('k')?.text).toBe('"forever"');
  });

  it('refuses an entry larger than maxBytes, keeping the old value', async () => {
    const cache = new MemoryCacheAdapter({ maxBytes: 100 });
    cache.store.set('k', { text: '1', ttlMs: undefined });
    expect(() => cache.store.set('k', { text: `"${'x'.repeat(200)}"`, ttlMs: undefined })).toThrow(
      CacheValidationError,
    );
    expect(await cache.get('k')).toBe(1);
  });
});

describe('MemoryCacheAdapter reads', () => {
  it('copy each value from a private decoded template: always fresh, always exactly what decoding gives', async () => {
    const cache = new MemoryCacheAdapter();
    const texts = [
      '{"id":1,"tags":["a",{"deep":[1,2]}],"n":null,"ok":true}',
      '{"__proto__":{"polluted":true},"b":[{"__proto__":1}]}',
      '{"2":"b","1":"a","x":{"10":0,"9":0}}',
      '[[],{},[[[]]],"s",0.5]',
      '"text"',
      '12',
      'null',
    ];
    for (const [i, text] of texts.entries()) cache.store.set(`k${i}`, { text, ttlMs: undefined });
    for (let round = 0; round < 3; round++) {
      for (const [i, text] of texts.entries()) {
        const value: unknown = await cache.get(`k${i}`);
        expect(value).toStrictEqual(cache.codec.decode(text));
        expect(JSON.stringify(value)).toBe(JSON.stringify(JSON.parse(text)));
        // Whatever a caller does to what it read, the next read is unchanged.
        if (typeof value === 'object' && value !== null) {
          for (const key of Object.keys(value)) (value as Record<string, unknown>)[key] = 'changed';
          if (Array.isArray(value)) value.push('more');
        }
      }
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('decode tagged values (Date, Map, Set, bytes) afresh every time', async () => {
    const cache = new MemoryCacheAdapter();
    const value = { at: new Date(5), m: new Map([[1, new Set(['x'])]]), b: new Uint8Array([1, 2]) };
    await cache.set('k', value);
    const [first, second] = [await cache.get<typeof value>('k'), await cache.get<typeof value>('k')];
    expect(first).toEqual(value);
    expect(second).toEqual(value);
    expect(first!.at).not.toBe(second!.at);
    first!.at.setTime(0);
    expect((await cache.get<typeof value>('k'))!.at).toEqual(new Date(5));
  });

  it('read a value nested deeper than copying can go by decoding it again', async () => {
    const cache = new MemoryCacheAdapter();
    const text = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    cache.store.set('deep', { text, ttlMs: undefined });
    for (let round = 0; round < 2; round++) {
      let level: unknown = await cache.get('deep');
      let depth = 0;
      while (Array.isArray(level) && level.length > 0) {
        level = level[0];
        depth++;
      }
      expect(depth).toBe(99_999);
    }
  });
});

describe('MemoryCacheAdapter with frozen values', () => {
  it('returns one deep-frozen value per entry; mutating it throws and changes nothing', async () => {
    const cache = new MemoryCacheAdapter({ frozen: true });
    const input = { name: 'Ada', tags: ['x'], address: { city: 'London' } };
    await cache.set('u', input);
    expect(Object.isFrozen(input)).toBe(false);
    input.tags.push('mutated after set');
    const first = await cache.get<typeof input>('u');
    expect(first).toEqual({ name: 'Ada', tags: ['x'], address: { city: 'London' } });
    expect(await cache.get('u')).toBe(first);
    expect((await cache.getMany(['u'])).get('u')).toBe(first);
    expect(Object.isFrozen(first) && Object.isFrozen(first!.tags) && Object.isFrozen(first!.address)).toBe(
      true,
    );
    expect(() => first!.tags.push('y')).toThrow(TypeError);
    expect(() => {
      first!.address.city = 'Paris';
    }).toThrow(TypeError);
    await cache.set('u', { name: 'Grace' });
    expect(await cache.get('u')).toEqual({ name: 'Grace' });
    expect(first).toEqual({ name: 'Ada', tags: ['x'], address: { city: 'London' } });
  });

  it('copies values that cannot be frozen (Map, Set, Date, bytes) on every read', async () => {
    const cache = new MemoryCacheAdapter({ frozen: true });
    await cache.set('d', { when: new Date(0), list: [1] });
    const a = await cache.get<{ when: Date; list: number[] }>('d');
    const b = await cache.get<{ when: Date; list: number[] }>('d');
    expect(a).not.toBe(b);
    a!.when.setTime(5);
    a!.list.push(2);
    expect(b).toEqual({ when: new Date(0), list: [1] });
    expect(await cache.get('d')).toEqual({ when: new Date(0), list: [1] });
  });

  it('refuses a frozen option that is not a boolean', () => {
    expect(() => new MemoryCacheAdapter({ frozen: 'yes' as unknown as boolean })).toThrow(TypeError);
  });
});

describe('MemoryCacheAdapter specifics', () => {
  it('expires by a monotonic clock by default: a step of the wall clock changes no expiry', async () => {
    // The wall clock as the adapter module, loaded afresh, sees it: the system clock steps back an hour, then
    // forward a day; neither keeps an entry nor expires one early.
    const wall = Date.now.bind(Date);
    let stepMs = 0;
    const stepped = vi.spyOn(Date, 'now').mockImplementation(() => wall() + stepMs);
    try {
      vi.resetModules();
      const { MemoryCacheAdapter: Fresh } = await import('../src/index.js');
      const cache = new Fresh();
      await cache.set('short', 1, 0.1);
      await cache.set('long', 2, 3_600);
      stepMs = -3_600_000;
      await new Promise((resolve) => setTimeout(resolve, 150));
      expect(await cache.get('short')).toBeUndefined();
      stepMs = 86_400_000;
      expect(await cache.get('long')).toBe(2);
      expect(await cache.ttl('long')).toBe(3_600);
    } finally {
      stepped.mockRestore();
      vi.resetModules();
    }
  });

  it('works with no options', async () => {
    const cache = new MemoryCacheAdapter();
    await cache.set('user:1', { name: 'Ada' }, 60);
    expect(await cache.get('user:1')).toEqual({ name: 'Ada' });
    expect(cache.namespace).toBe('strata');
    await cache.close();
  });

  it('never holds more than maxEntries, evicting the least recently used', async () => {
    const cache = new MemoryCacheAdapter({ maxEntries: 1000 });
    for (let i = 0; i < 100_000; i++) {
      await cache.set(`k${i}`, i);
      if (i % 500 === 0) await cache.get('k0');
    }
    expect(cache.size).toBe(1000);
    expect(await cache.get('k0')).toBe(0);
    expect(await cache.get('k99999')).toBe(99999);
    expect(await cache.get('k50000')).toBeUndefined();
  });

  it('never holds more than maxBytes, and refuses a single entry larger than it, keeping the old value', async () => {
    const cache = new MemoryCacheAdapter({ maxBytes: 10_000, maxEntries: 1_000_000 });
    for (let i = 0; i < 20_000; i++) {
      await cache.set(`key-${i}`, 'x'.repeat(i % 50));
      expect(cache.bytes).toBeLessThanOrEqual(10_000);
    }
    await cache.set('big', 'small');
    const error = await cache.set('big', 'é'.repeat(6_000)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CacheValidationError);
    expect((error as CacheValidationError).code).toBe('CACHE_VALUE_TOO_LARGE');
    expect(await cache.get('big')).toBe('small');
  });

  it('sweeps expired entries, so they never accumulate', async () => {
    const clock = new ManualClock();
    const cache = new MemoryCacheAdapter({ maxEntries: 1_000_000, now: clock.now });
    for (let i = 0; i < 200_000; i++) {
      await cache.set(`k${i}`, i, 1);
      clock.advance(1);
    }
    // Every key lives 1 s and one is written per ms: about 1000 are alive, plus at most one sweep interval.
    expect(cache.size).toBeLessThan(5_000);
  });

  it('deleting the last entry stays cheap with a large maxEntries', async () => {
    const cache = new MemoryCacheAdapter({ maxEntries: 2_000_000 });
    const started = performance.now();
    for (let i = 0; i < 2_000; i++) {
      await cache.set('only', i);
      await cache.delete('only');
    }
    // lru-cache alone clears its 2M-slot arrays on each of these deletes (seconds in all).
    expect(performance.now() - started).toBeLessThan(500);
    expect(cache.size).toBe(0);
    expect(await cache.get('only')).toBeUndefined();
  });

  it('refuses bad options at construction', () => {
    expect(() => new MemoryCacheAdapter({ maxEntries: 0 })).toThrow(RangeError);
    expect(() => new MemoryCacheAdapter({ maxEntries: 1.5 })).toThrow(TypeError);
    expect(() => new MemoryCacheAdapter({ maxBytes: -1 })).toThrow(RangeError);
    expect(() => new MemoryCacheAdapter({ namespace: 'a:b' })).toThrow(RangeError);
    expect(() => new MemoryCacheAdapter({ namespace: '' })).toThrow(RangeError);
    expect(() => new MemoryCacheAdapter({ now: 5 as unknown as () => number })).toThrow(TypeError);
    expect(() => new MemoryCacheAdapter({ maxEntrys: 5 } as never)).toThrow(
      /Unknown MemoryCacheAdapter option 'maxEntrys'/,
    );
  });

  it('refuses values the codec cannot keep exactly, naming where', async () => {
    const cache = new MemoryCacheAdapter();
    const error = await cache.set('k', { user: { tags: ['a', () => 1] } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SerializationError);
    expect((error as SerializationError).path).toBe('$.user.tags[1]');
    expect((error as SerializationError).key).toBe('k');
    expect((error as SerializationError).message).toContain('the value of key "k" at $.user.tags[1]');
  });

  it('setMany names the key of a bad item and the path inside it, and writes nothing', async () => {
    const cache = new MemoryCacheAdapter();
    const items = new Map<string, unknown>([
      ['user:1', { name: 'a' }],
      ['user:2', { profile: { tags: ['x', 'y', { at: new Date(0), bad: [1, Number.NaN] }] } }],
      ['user:3', { name: 'c' }],
    ]);
    const error = await cache.setMany(items).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SerializationError);
    expect((error as SerializationError).key).toBe('user:2');
    expect((error as SerializationError).path).toBe('$.profile.tags[2].bad[1]');
    expect((error as SerializationError).message).toMatch(
      /^Cannot serialize the value of key "user:2" at \$\.profile\.tags\[2\]\.bad\[1\]: /,
    );
    expect(cache.size).toBe(0);
  });

  it('supports await using', async () => {
    let cache: MemoryCacheAdapter | undefined;
    {
      await using scoped = new MemoryCacheAdapter();
      cache = scoped;
      await scoped.set('k', 1);
    }
    await expect(cache.get('k')).rejects.toMatchObject({ code: 'CACHE_CLOSED' });
  });
});
