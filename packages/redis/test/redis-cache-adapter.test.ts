import { CacheUnavailableError, CacheValidationError, SerializationError } from '@strata-cache/core';
import {
  describeCacheProtocol,
  describeCacheStore,
  readEntry,
  uniqueNamespace,
} from '@strata-cache/core/testing';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { RedisCacheAdapter } from '../src/index.js';
import { isRedirection } from '../src/internal/cluster-routing.js';
import { READ_SCRIPT } from '../src/internal/entry-reader.js';
import { keySlot } from '../src/internal/key-slot.js';

const redis = inject('redis');

const adapters = new WeakMap<object, RedisCacheAdapter>();
for (const [topology, where] of [
  ['standalone', { url: redis.url }],
  ['Cluster, 3 masters', { cluster: { nodes: redis.cluster.nodes } }],
] as const) {
  describeCacheStore(`RedisStore (${topology})`, {
    create: ({ namespace }) => {
      const adapter = new RedisCacheAdapter({ ...where, namespace });
      adapters.set(adapter.store, adapter);
      return adapter.store;
    },
    destroy: (store) => adapters.get(store)?.close(),
  });
}

describeCacheProtocol('RedisCacheAdapter (standalone)', {
  create: ({ namespace }) => new RedisCacheAdapter({ url: redis.url, namespace }),
});

describeCacheProtocol("RedisCacheAdapter (valueFormat: 'plain')", {
  create: ({ namespace }) => new RedisCacheAdapter({ url: redis.url, namespace, valueFormat: 'plain' }),
});

describeCacheProtocol('RedisCacheAdapter (namespace with glob metacharacters)', {
  create: ({ namespace }) => new RedisCacheAdapter({ url: redis.url, namespace: `${namespace}*?[x]\\` }),
});

describeCacheProtocol('RedisCacheAdapter (Cluster, 3 masters)', {
  create: ({ namespace }) => new RedisCacheAdapter({ cluster: { nodes: redis.cluster.nodes }, namespace }),
});

describeCacheProtocol('RedisCacheAdapter (Sentinel)', {
  create: ({ namespace }) =>
    new RedisCacheAdapter({
      redisOptions: { sentinels: redis.sentinel.sentinels, name: redis.sentinel.name },
      namespace,
    }),
});

describe('RedisCacheAdapter specifics', () => {
  let raw: Redis;
  beforeAll(() => {
    raw = new Redis(redis.url);
  });
  afterAll(async () => {
    await raw.quit();
  });

  it('stores a value inside an envelope carrying its expiry in Redis time, or as plain JSON text', async () => {
    const namespace = uniqueNamespace();
    const cache = new RedisCacheAdapter({ url: redis.url, namespace });
    const before = redisNow(await raw.time());
    await cache.set('user:1', { name: 'Ada', tags: ['x'], n: 1.5, ok: true, none: null }, 60);
    const stored = (await raw.get(`${namespace}:user:1`))!;
    const [, exp] = /^\{"\$s":1,"exp":(\d+),"v":/.exec(stored) ?? [];
    expect(stored.slice(stored.indexOf(',"v":') + 5)).toBe(
      '{"name":"Ada","tags":["x"],"n":1.5,"ok":true,"none":null}}',
    );
    // Never later than Redis's own expiry of the key, and not much earlier.
    const expiresInRedis = redisNow(await raw.time()) + (await raw.pttl(`${namespace}:user:1`));
    expect(Number(exp)).toBeLessThanOrEqual(expiresInRedis + 1);
    expect(Number(exp)).toBeGreaterThan(before + 60_000 - 50);
    await cache.set('s', 'plain');
    expect(await raw.get(`${namespace}:s`)).toBe('{"$s":1,"exp":null,"v":"plain"}');

    const plain = new RedisCacheAdapter({ url: redis.url, namespace, valueFormat: 'plain' });
    await plain.set('user:2', { name: 'Ada' }, 60);
    expect(await raw.get(`${namespace}:user:2`)).toBe('{"name":"Ada"}');
    expect(await raw.pttl(`${namespace}:user:2`)).toBeGreaterThan(59_000);
    // Each reads what the other wrote.
    expect(await plain.get('user:1')).toEqual({ name: 'Ada', tags: ['x'], n: 1.5, ok: true, none: null });
    expect(await cache.get('user:2')).toEqual({ name: 'Ada' });
    await cache.clear();
    await Promise.all([cache.close(), plain.close()]);
  });

  it('without a clock (TIME refused) stores plain text, and still keeps a value shaped like an envelope intact', async () => {
    const client = new Redis(redis.url);
    client.time = (() => Promise.reject(new Error('NOPERM no permissions to run the time command'))) as never;
    const namespace = uniqueNamespace();
    const cache = new RedisCacheAdapter({ client, namespace });
    const lookalike = { $s: 1, exp: 1, v: 'inner' };
    await cache.set('plain', { a: 1 }, 60);
    await cache.set('lookalike', lookalike, 60);
    expect(await raw.get(`${namespace}:plain`)).toBe('{"a":1}');
    expect(await cache.get('lookalike')).toEqual(lookalike);
    // Without a clock, TTLs come from PTTL; a reader with one takes the envelope's expiry, 0: nothing above copies it.
    expect((await readEntry(cache, 'lookalike'))?.ttlMs).toBeGreaterThan(59_000);
    expect((await readEntry(cache, 'plain'))?.ttlMs).toBeGreaterThan(59_000);
    const clocked = new RedisCacheAdapter({ url: redis.url, namespace });
    expect(await readEntry(clocked, 'lookalike')).toEqual({
      value: lookalike,
      ttlMs: 0,
      text: expect.any(String),
    });
    await cache.clear();
    await Promise.all([cache.close(), clocked.close()]);
    await client.quit();
  });

  it('reads the TTL of an enveloped value from its expiry, and of a plain one with PTTL, never beyond Redis', async () => {
    const namespace = uniqueNamespace();
    const cache = new RedisCacheAdapter({ url: redis.url, namespace });
    await cache.set('enveloped', { i: 1 }, 30);
    await raw.set(`${namespace}:plain`, '{"i":2}', 'PX', 20_000);
    await raw.set(`${namespace}:forever`, '{"i":3}');
    const scripts = countCalls([cache.client as Redis], 'evalsha');
    const [pttlEnveloped, pttlPlain] = await Promise.all([
      raw.pttl(`${namespace}:enveloped`),
      raw.pttl(`${namespace}:plain`),
    ]);
    const [enveloped, plain, forever] = await Promise.all(
      ['enveloped', 'plain', 'forever'].map((k) => readEntry(cache, k)),
    );
    expect(enveloped).toEqual({ value: { i: 1 }, ttlMs: expect.any(Number), text: '{"i":1}' });
    expect(enveloped!.ttlMs).toBeLessThanOrEqual(pttlEnveloped);
    expect(enveloped!.ttlMs).toBeGreaterThan(pttlEnveloped - 100);
    expect(plain).toEqual({ value: { i: 2 }, ttlMs: expect.any(Number), text: '{"i":2}' });
    expect(plain!.ttlMs).toBeLessThanOrEqual(pttlPlain);
    expect(forever).toEqual({ value: { i: 3 }, ttlMs: undefined, text: '{"i":3}' });
    // Only the plain texts were read again, with their PTTL: one script.
    expect(scripts()).toBe(1);
    await cache.clear();
    await cache.close();
  });

  it('refuses a text that begins like an envelope but is not one, for that key alone', async () => {
    const namespace = uniqueNamespace();
    const cache = new RedisCacheAdapter({ url: redis.url, namespace });
    await cache.set('good', 1, 60);
    for (const [key, text] of [
      ['cut', '{"$s":1,"exp":12'],
      ['word', '{"$s":1,"exp":"soon","v":1}'],
      ['unclosed', '{"$s":1,"exp":null,"v":1'],
      ['bad-value', '{"$s":1,"exp":null,"v":nope}'],
    ]) {
      await raw.set(`${namespace}:${key}`, text!);
    }
    const results = await Promise.allSettled(
      ['good', 'cut', 'word', 'unclosed', 'bad-value'].map((k) => readEntry(cache, k)),
    );
    expect(results[0]).toMatchObject({ status: 'fulfilled', value: { value: 1 } });
    for (const result of results.slice(1)) {
      expect(result.status).toBe('rejected');
      expect((result as PromiseRejectedResult).reason).toBeInstanceOf(SerializationError);
    }
    await expect(cache.get('word')).rejects.toBeInstanceOf(SerializationError);
    await expect(cache.getMany(['good', 'word'])).rejects.toBeInstanceOf(SerializationError);
    await cache.clear();
    await cache.close();
  });

  it('never touches keys outside its namespace, written by anyone', async () => {
    const namespace = uniqueNamespace();
    const cache = new RedisCacheAdapter({ url: redis.url, namespace });
    await raw.set(`${namespace}x:k`, 'foreign');
    await raw.set(`${namespace}`, 'foreign');
    await cache.set('k', 1);
    await cache.clear();
    expect(await cache.deletePattern('*')).toBe(0);
    expect(await raw.get(`${namespace}x:k`)).toBe('foreign');
    expect(await raw.get(namespace)).toBe('foreign');
    await raw.del(`${namespace}x:k`, namespace);
    await cache.close();
  });

  it('reads foreign bytes under its namespace as a SerializationError, never a crash', async () => {
    const namespace = uniqueNamespace();
    const cache = new RedisCacheAdapter({ url: redis.url, namespace });
    await raw.set(`${namespace}:bad`, 'not json {');
    await raw.set(`${namespace}:tag`, '{"$t":"Nope","v":1}');
    await expect(cache.get('bad')).rejects.toBeInstanceOf(SerializationError);
    await expect(cache.get('tag')).rejects.toBeInstanceOf(SerializationError);
    await expect(cache.getMany(['bad'])).rejects.toBeInstanceOf(SerializationError);
    // The error names the key and says it could not decode what is stored.
    await expect(cache.get('bad')).rejects.toMatchObject({ key: 'bad', operation: 'decode', path: '$' });
    await expect(cache.getMany(['bad'])).rejects.toMatchObject({ key: 'bad', operation: 'decode' });
    await expect(readEntry(cache, 'tag')).rejects.toMatchObject({ key: 'tag', operation: 'decode' });
    expect(await cache.exists('bad')).toBe(true);
    await cache.clear();
    await cache.close();
  });

  it('uses a client it is given and never closes it; closes one it created', async () => {
    const client = new Redis(redis.url);
    const given = new RedisCacheAdapter({ client, namespace: uniqueNamespace() });
    await given.set('k', 1);
    await given.close();
    expect(await client.ping()).toBe('PONG');
    await client.quit();

    const owned = new RedisCacheAdapter({ url: redis.url, namespace: uniqueNamespace() });
    await owned.set('k', 1);
    await owned.clear();
    await owned.close();
    expect(owned.client.status).toBe('end');
    await expect(owned.get('k')).rejects.toMatchObject({ code: 'CACHE_CLOSED' });
  });

  it('validates before any round trip', async () => {
    const cache = new RedisCacheAdapter({ url: redis.url, namespace: uniqueNamespace() });
    await expect(cache.set('', 1)).rejects.toBeInstanceOf(CacheValidationError);
    await expect(cache.set('k', 1, 0)).rejects.toBeInstanceOf(CacheValidationError);
    await expect(cache.set('k', () => 1)).rejects.toBeInstanceOf(SerializationError);
    await expect(cache.setMany({ a: 1, b: { c: [() => 1] } })).rejects.toMatchObject({
      key: 'b',
      path: '$.c[0]',
    });
    await cache.close();
  });

  it('refuses bad options at construction', () => {
    expect(() => new RedisCacheAdapter({} as never)).toThrow(TypeError);
    expect(() => new RedisCacheAdapter({ url: redis.url, commandTimeoutMs: 0 })).toThrow(RangeError);
    expect(() => new RedisCacheAdapter({ url: redis.url, namespace: 'a:b' })).toThrow(RangeError);
    expect(() => new RedisCacheAdapter({ url: redis.url, timeout: 5 } as never)).toThrow(
      /Unknown RedisCacheAdapter option/,
    );
    expect(() => new RedisCacheAdapter({ url: redis.url, client: raw })).toThrow(TypeError);
  });
});

/** Redis's `TIME` reply in epoch ms. */
function redisNow([seconds, micros]: number[]): number {
  return Number(seconds) * 1000 + Number(micros) / 1000;
}

/** Counts calls of `method` on each of `clients` (for round-trip budgets). */
function countCalls(
  clients: readonly Redis[],
  method: 'pipeline' | 'evalsha' | 'mget' | 'publish' | 'set' | 'unlink',
): () => number {
  let calls = 0;
  for (const client of clients) {
    const original = (client[method] as (...args: unknown[]) => unknown).bind(client);
    (client as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => {
      calls++;
      return original(...args);
    };
  }
  return () => calls;
}

describe('RedisCacheAdapter writes', () => {
  it('its store writes codec text exactly as set stores the value', async () => {
    const cache = new RedisCacheAdapter({ url: redis.url, namespace: uniqueNamespace() });
    await cache.store.set('k', { text: cache.codec.encode(new Map([[1, 'a']])), ttlMs: 60_000 });
    await cache.set('v', new Map([[1, 'a']]), 60);
    expect(await cache.get('k')).toEqual(new Map([[1, 'a']]));
    expect(await cache.ttl('k')).toBe(60);
    const raw = cache.client as Redis;
    const [k, v] = [await raw.get(`${cache.namespace}:k`), await raw.get(`${cache.namespace}:v`)];
    expect(k!.slice(k!.indexOf(',"v":'))).toBe(v!.slice(v!.indexOf(',"v":')));
    await cache.clear();
    await cache.close();
  });

  it('sends the writes of one tick as one command (a script for several), each stored as its own SET would', async () => {
    const client = new Redis(redis.url);
    const cache = new RedisCacheAdapter({ client, namespace: uniqueNamespace() });
    const scripts = countCalls([client], 'evalsha');
    const keys = Array.from({ length: 64 }, (_, i) => `k${i}`);
    await cache.set('k3', 'old', 100);
    await Promise.all(keys.map((key, i) => cache.set(key, { i }, i % 2 === 0 ? 30 : undefined)));
    expect(scripts()).toBe(1);
    const found = await cache.getMany(keys);
    expect([...found.values()]).toEqual(keys.map((_, i) => ({ i })));
    expect(await client.pttl(`${cache.namespace}:k2`)).toBeGreaterThan(29_000);
    expect(await client.pttl(`${cache.namespace}:k3`)).toBe(-1);
    await cache.clear();
    await cache.close();
    await client.quit();
  });

  it('writes one SET each when the server refuses the script', async () => {
    const client = new Redis(redis.url);
    client.evalsha = (() =>
      Promise.reject(
        new Error("NOPERM this user has no permissions to run the 'evalsha' command"),
      )) as unknown as Redis['evalsha'];
    const cache = new RedisCacheAdapter({ client, namespace: uniqueNamespace() });
    const keys = Array.from({ length: 10 }, (_, i) => `k${i}`);
    for (let round = 0; round < 2; round++) {
      await Promise.all(keys.map((key, i) => cache.set(key, i + round, 30)));
      expect([...(await cache.getMany(keys)).values()]).toEqual(keys.map((_, i) => i + round));
    }
    await cache.clear();
    await cache.close();
    await client.quit();
  });

  it('sends the commands of 64 concurrent calls in a couple of socket writes, each call answered', async () => {
    const client = new Redis(redis.url);
    const cache = new RedisCacheAdapter({ client, namespace: uniqueNamespace() });
    await cache.set('warm', 1);
    const socket = client.stream as unknown as {
      _write: (...a: unknown[]) => void;
      _writev: (...a: unknown[]) => void;
    };
    let writes = 0;
    for (const method of ['_write', '_writev'] as const) {
      const original = socket[method].bind(socket);
      socket[method] = (...args: unknown[]) => {
        writes++;
        original(...args);
      };
    }
    await Promise.all(Array.from({ length: 64 }, (_, i) => cache.set(`k${i}`, i)));
    expect(writes).toBeLessThanOrEqual(3);
    const found = await cache.getMany(Array.from({ length: 64 }, (_, i) => `k${i}`));
    expect([...found.values()]).toEqual(Array.from({ length: 64 }, (_, i) => i));
    await cache.clear();
    await cache.close();
    await client.quit();
  });
});

describe('RedisCacheAdapter reads issued within one tick', () => {
  it('go to a standalone server as one MGET, each answered with its own value and TTL', async () => {
    const client = new Redis(redis.url);
    const cache = new RedisCacheAdapter({ client, namespace: uniqueNamespace() });
    const keys = Array.from({ length: 64 }, (_, i) => `key-${i}`);
    await cache.setMany(new Map(keys.map((k, i) => [k, { i }])), 60);
    await client.hset(`${cache.namespace}:hash`, 'f', 'v');
    const [mgets, scripts] = [countCalls([client], 'mget'), countCalls([client], 'evalsha')];
    const entries = await Promise.all([...keys, 'hash', 'missing', 'key-1'].map((k) => readEntry(cache, k)));
    const values = await Promise.all(keys.map((k) => cache.get(k)));
    expect([mgets(), scripts()]).toEqual([2, 0]);
    for (let i = 0; i < keys.length; i++) {
      expect(entries[i]?.value).toEqual({ i });
      expect(entries[i]?.ttlMs).toBeGreaterThan(50_000);
      expect(values[i]).toEqual({ i });
    }
    expect(entries.slice(keys.length)).toEqual([
      undefined,
      undefined,
      { value: { i: 1 }, ttlMs: expect.any(Number), text: '{"i":1}' },
    ]);
    (entries[1]!.value as { i: number }).i = 99;
    expect(entries.at(-1)?.value).toEqual({ i: 1 });
    await cache.clear();
    await cache.close();
    await client.quit();
  });
});

describe('RedisCacheAdapter on a Cluster', () => {
  it('reads concurrent getEntry calls with one round trip per master', async () => {
    const client = new Cluster(redis.cluster.nodes);
    const cache = new RedisCacheAdapter({ client, namespace: uniqueNamespace() });
    const keys = Array.from({ length: 64 }, (_, i) => `key-${i}`);
    await cache.setMany(new Map(keys.map((k, i) => [k, i])), 60);
    const masters = client.nodes('master');
    const [pipelines, mgets, scripts] = [
      countCalls(masters, 'pipeline'),
      countCalls(masters, 'mget'),
      countCalls(masters, 'evalsha'),
    ];
    const entries = await Promise.all(keys.map((k) => readEntry(cache, k)));
    expect(entries.map((e) => e?.value)).toEqual(keys.map((_, i) => i));
    expect(entries.every((e) => e!.ttlMs! > 50_000 && e!.ttlMs! <= 60_000)).toBe(true);
    // Per master, one MGET (keys of one slot) or one pipeline of per-slot MGETs.
    expect(pipelines() + mgets()).toBeLessThanOrEqual(masters.length);
    expect(pipelines() + mgets()).toBeGreaterThan(0);
    expect(scripts()).toBe(0);
    await cache.clear();
    await cache.close();
    await client.quit();
  });

  it('the read script refuses a key its node does not serve, as a redirection', async () => {
    const client = new Cluster(redis.cluster.nodes);
    await client.set('probe', '1');
    const owner = client.slots[Number(await client.cluster('KEYSLOT', 'probe'))]![0];
    const stranger = client.nodes('master').find((n) => `${n.options.host}:${n.options.port}` !== owner)!;
    const refusal = await stranger.eval(READ_SCRIPT, 0, 'probe').catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(Error);
    expect(isRedirection(refusal)).toBe(true);
    await client.del('probe');
    await client.quit();
  });

  it('writes concurrent sets and deletes with one command per master, each stored as its own command would', async () => {
    const client = new Cluster(redis.cluster.nodes);
    const cache = new RedisCacheAdapter({ client, namespace: uniqueNamespace() });
    const keys = Array.from({ length: 64 }, (_, i) => `key-${i}`);
    await cache.setMany(new Map(keys.map((k) => [k, 'old'])), 60);
    const masters = client.nodes('master');
    const [scripts, sets, unlinks] = [
      countCalls(masters, 'evalsha'),
      countCalls(masters, 'set'),
      countCalls(masters, 'unlink'),
    ];
    await Promise.all(
      keys.map((key, i) =>
        i % 4 === 3 ? cache.delete(key) : cache.set(key, { i }, i % 2 === 0 ? 30 : undefined),
      ),
    );
    expect(scripts() + sets() + unlinks()).toBeLessThanOrEqual(masters.length);
    const found = await cache.getMany(keys);
    expect([...found.keys()]).toEqual(keys.filter((_, i) => i % 4 !== 3));
    for (const [key, value] of found) expect(value).toEqual({ i: Number(key.slice(4)) });
    expect(await cache.ttl('key-2')).toBe(30);
    expect(await cache.ttl('key-1')).toBeUndefined();
    await cache.clear();
    await cache.close();
    await client.quit();
  });

  it('sends again, to the master that serves it, a write a stale slot table sent elsewhere', async () => {
    const client = new Cluster(redis.cluster.nodes);
    const cache = new RedisCacheAdapter({ client, namespace: uniqueNamespace() });
    const keys = Array.from({ length: 40 }, (_, i) => `moved-${i}`);
    await cache.set('warm', 1);
    const masters = client.nodes('master').map((n) => `${n.options.host}:${n.options.port}`);
    // Point every slot of these keys at the wrong master: each script then runs there and refuses them.
    for (const key of keys) {
      const slot = keySlot(`${cache.namespace}:${key}`);
      const owner = client.slots[slot]![0]!;
      client.slots[slot] = [masters.find((m) => m !== owner)!];
    }
    await Promise.all(keys.map((key, i) => cache.set(key, i, 60)));
    expect([...(await cache.getMany(keys)).values()]).toEqual(keys.map((_, i) => i));
    await cache.clear();
    await cache.close();
    await client.quit();
  });

  it('getMany costs at most one pipeline per master, with results in request order', async () => {
    const client = new Cluster(redis.cluster.nodes);
    const cache = new RedisCacheAdapter({ client, namespace: uniqueNamespace() });
    const keys = Array.from({ length: 200 }, (_, i) => `key-${i}`);
    await cache.setMany(new Map(keys.map((k, i) => [k, i])));
    const pipelines = countCalls(client.nodes('master'), 'pipeline');
    const requested = [...keys].reverse().concat(['missing', 'key-3']);
    const found = await cache.getMany<number>(requested);
    expect(pipelines()).toBeLessThanOrEqual(client.nodes('master').length);
    expect(pipelines()).toBeGreaterThan(0);
    expect([...found.keys()]).toEqual([...keys].reverse());
    expect(found.get('key-7')).toBe(7);
    await cache.clear();
    await cache.close();
    await client.quit();
  });

  it('deletePattern and clear reach every master', async () => {
    const cache = new RedisCacheAdapter({
      cluster: { nodes: redis.cluster.nodes },
      namespace: uniqueNamespace(),
    });
    const keys = Array.from({ length: 300 }, (_, i) => `user:${i}`);
    await cache.setMany(new Map(keys.map((k) => [k, 1])));
    await cache.set('other', 1);
    expect(await cache.deletePattern('user:*')).toBe(300);
    expect(await cache.exists('other')).toBe(true);
    await cache.clear();
    expect(await cache.exists('other')).toBe(false);
    await cache.close();
  });

  it('rejects with CacheUnavailableError, not a hang, when no node is reachable', async () => {
    const cache = new RedisCacheAdapter({
      cluster: { nodes: [{ host: '127.0.0.1', port: 1 }] },
      commandTimeoutMs: 300,
    });
    const started = performance.now();
    await expect(cache.get('k')).rejects.toBeInstanceOf(CacheUnavailableError);
    expect(performance.now() - started).toBeLessThan(600);
    await cache.close();
  });
});
