import { CacheUnavailableError } from '@strata-cache/core';
import { readEntry, uniqueNamespace } from '@strata-cache/core/testing';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { RedisCacheAdapter } from '../src/index.js';
import { COMMAND_KEYS, COMMANDS_IN_FLIGHT } from '../src/internal/batch-writer.js';
import { keySlot } from '../src/internal/key-slot.js';

const redis = inject('redis');

/** `n` items `item:<i>` → `{ i, name }`. */
function itemsOf(n: number): Map<string, { i: number; name: string }> {
  return new Map(Array.from({ length: n }, (_, i) => [`item:${i}`, { i, name: `value ${i}` }]));
}

/** The keys under `namespace` on every master, counted with SCAN (a key SCAN returns twice is counted once). */
async function countKeys(nodes: readonly Redis[], namespace: string): Promise<number> {
  const seen = new Set<string>();
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', `${namespace}:*`, 'COUNT', 5_000);
      for (const key of keys) seen.add(key);
      cursor = next;
    } while (cursor !== '0');
  }
  return seen.size;
}

/** Every item reads back through `cache`, in getMany calls of 10,000 keys. */
async function expectAllRead(cache: RedisCacheAdapter, items: ReadonlyMap<string, unknown>): Promise<void> {
  const keys = [...items.keys()];
  for (let i = 0; i < keys.length; i += 10_000) {
    const part = keys.slice(i, i + 10_000);
    const found = await cache.getMany(part);
    expect(found.size).toBe(part.length);
    expect(part.map((key) => found.get(key))).toEqual(part.map((key) => items.get(key)));
  }
}

/** Records the script calls made on `nodes`: their keys, and how many were in flight at most on one node. */
function recordScripts(nodes: readonly Redis[]): { keys: string[][]; maxInFlight: () => number } {
  const keys: string[][] = [];
  let max = 0;
  for (const node of nodes) {
    let inFlight = 0;
    const original = node.evalsha.bind(node) as (...args: unknown[]) => Promise<unknown>;
    node.evalsha = ((...args: unknown[]) => {
      const flat = args.map(String);
      const n = Number(flat[2]);
      keys.push(Array.from({ length: n }, (_, i) => flat[3 + 4 * i]!));
      max = Math.max(max, ++inFlight);
      return original(...args).finally(() => inFlight--);
    }) as Redis['evalsha'];
  }
  return { keys, maxInFlight: () => max };
}

describe('setMany of large batches on a Cluster, default options', () => {
  let client: Cluster;
  let cache: RedisCacheAdapter;
  let namespace: string;
  beforeAll(async () => {
    namespace = uniqueNamespace();
    client = new Cluster(redis.cluster.nodes);
    cache = new RedisCacheAdapter({ client, namespace });
    await cache.set('warm', 1);
  });
  afterAll(async () => {
    await cache.clear();
    await cache.close();
    await client.quit();
  });

  for (const n of [50_000, 100_000]) {
    it(`stores ${n.toLocaleString('en')} items, each read back, in commands of at most ${COMMAND_KEYS} keys`, async () => {
      await cache.clear();
      const items = itemsOf(n);
      const masters = client.nodes('master');
      const scripts = recordScripts(masters);
      const started = performance.now();
      await cache.setMany(items);
      const ms = performance.now() - started;
      console.log(
        `setMany of ${n} items on a 3-master Cluster: ${ms.toFixed(0)} ms, ${scripts.keys.length} commands`,
      );
      expect(await countKeys(masters, namespace)).toBe(n);
      await expectAllRead(cache, items);
      expect(await cache.ttl('item:7')).toBeUndefined();
      // Commands of bounded size, a few in flight per master, and each slot's keys in one command only.
      expect(Math.max(...scripts.keys.map((k) => k.length))).toBeLessThanOrEqual(COMMAND_KEYS);
      expect(scripts.keys.length).toBeLessThan(n / 100);
      expect(scripts.maxInFlight()).toBeLessThanOrEqual(COMMANDS_IN_FLIGHT);
      const commandOfSlot = new Map<number, number>();
      for (const [c, keys] of scripts.keys.entries()) {
        for (const key of keys) expect(commandOfSlot.get(keySlot(key)) ?? c).toBe(c);
        for (const key of keys) commandOfSlot.set(keySlot(key), c);
      }
    }, 60_000);
  }

  it('stores 50,000 items with a TTL: Redis expires each, and the stored value carries the same expiry', async () => {
    await cache.clear();
    const items = itemsOf(50_000);
    await cache.setMany(items, 60);
    expect(await countKeys(client.nodes('master'), namespace)).toBe(50_000);
    await expectAllRead(cache, items);
    for (const key of ['item:0', 'item:24999', 'item:49999']) {
      // Seconds have passed since the first items were written.
      expect(await cache.ttl(key)).toBeGreaterThanOrEqual(55);
      expect(await cache.ttl(key)).toBeLessThanOrEqual(60);
      const pttl = await client.pttl(`${namespace}:${key}`);
      expect(pttl).toBeGreaterThan(50_000);
      const entry = await readEntry(cache, key);
      expect(entry?.value).toEqual(items.get(key));
      // From the value's own envelope: never later than Redis's expiry of the key.
      expect(entry!.ttlMs!).toBeLessThanOrEqual(pttl + 5);
      expect(entry!.ttlMs!).toBeGreaterThan(50_000);
    }
  }, 60_000);

  it('a short TTL applies to every item of a batch of several commands per master', async () => {
    await cache.clear();
    const items = itemsOf(6_000);
    await cache.setMany(items, 1.5);
    expect((await cache.getMany([...items.keys()])).size).toBe(6_000);
    await new Promise((r) => setTimeout(r, 1_600));
    expect((await cache.getMany([...items.keys()])).size).toBe(0);
    expect(await countKeys(client.nodes('master'), namespace)).toBe(0);
  });

  it('sends again, to the master that serves them, the items a stale slot table sent elsewhere', async () => {
    await cache.clear();
    const items = itemsOf(3_000);
    const masters = client.nodes('master').map((n) => `${n.options.host}:${n.options.port}`);
    // Point every other slot of these keys at the wrong master: its script refuses them ("non local key").
    const pointed = new Set<number>();
    for (const key of items.keys()) {
      const slot = keySlot(`${namespace}:${key}`);
      if (slot % 2 === 1 || pointed.has(slot)) continue;
      pointed.add(slot);
      const owner = client.slots[slot]![0]!;
      client.slots[slot] = [masters.find((m) => m !== owner)!];
    }
    expect(pointed.size).toBeGreaterThan(100);
    await cache.setMany(items, 60);
    await expectAllRead(cache, items);
    expect(await countKeys(client.nodes('master'), namespace)).toBe(3_000);
  });

  it('without scripts (EVAL refused), writes one MULTI per slot, and still every item', async () => {
    await cache.clear();
    const scriptless = new Cluster(redis.cluster.nodes);
    await scriptless.set('warm', '1');
    for (const node of scriptless.nodes('master')) {
      node.evalsha = (() =>
        Promise.reject(
          new Error("NOPERM this user has no permissions to run the 'evalsha' command"),
        )) as never;
    }
    const plain = new RedisCacheAdapter({ client: scriptless, namespace });
    const items = itemsOf(5_000);
    await plain.setMany(items, 60);
    await expectAllRead(cache, items);
    expect(await cache.ttl('item:3')).toBe(60);
    await plain.close();
    await scriptless.quit();
  });
});

describe('setMany of large batches on a standalone server', () => {
  let raw: Redis;
  beforeAll(() => {
    raw = new Redis(redis.url);
  });
  afterAll(async () => {
    await raw.quit();
  });

  for (const n of [50_000, 100_000]) {
    it(`stores ${n.toLocaleString('en')} items with default options, each read back, also with a TTL`, async () => {
      const namespace = uniqueNamespace();
      const cache = new RedisCacheAdapter({ url: redis.url, namespace });
      const items = itemsOf(n);
      for (const ttl of [undefined, 60]) {
        const started = performance.now();
        await cache.setMany(items, ttl);
        console.log(
          `setMany of ${n} items standalone, TTL ${ttl}: ${(performance.now() - started).toFixed(0)} ms`,
        );
        expect(await cache.ttl(`item:${n - 1}`)).toBe(ttl);
        expect(await countKeys([raw], namespace)).toBe(n);
        await expectAllRead(cache, items);
      }
      await cache.clear();
      await cache.close();
    }, 60_000);
  }

  it('bounds each command by commandTimeoutMs, not the whole call', async () => {
    const namespace = uniqueNamespace();
    const cache = new RedisCacheAdapter({ url: redis.url, namespace, commandTimeoutMs: 150 });
    const items = itemsOf(100_000);
    const started = performance.now();
    await cache.setMany(items);
    // Far longer than one command's time limit on this machine, and still not cut off.
    expect(performance.now() - started).toBeGreaterThan(150);
    expect(await countKeys([raw], namespace)).toBe(100_000);
    await cache.clear();
    await cache.close();
  }, 60_000);

  it('sends no further command once one failed, and rejects with CacheUnavailableError carrying the cause', async () => {
    const client = new Redis(redis.url);
    const namespace = uniqueNamespace();
    const cache = new RedisCacheAdapter({ client, namespace });
    await cache.set('warm', 1);
    let calls = 0;
    const failure = new Error('READONLY You cannot write against a read only replica.');
    const original = client.evalsha.bind(client) as (...args: unknown[]) => Promise<unknown>;
    client.evalsha = ((...args: unknown[]) => {
      calls++;
      return calls === 2 ? Promise.reject(failure) : original(...args);
    }) as Redis['evalsha'];
    const error = await cache.setMany(itemsOf(30 * COMMAND_KEYS)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CacheUnavailableError);
    expect((error as CacheUnavailableError).cause).toBe(failure);
    // The commands already in flight when it failed, and none after.
    expect(calls).toBeLessThanOrEqual(COMMANDS_IN_FLIGHT);
    await new Promise((r) => setTimeout(r, 50));
    expect(calls).toBeLessThanOrEqual(COMMANDS_IN_FLIGHT);
    expect(await countKeys([client], namespace)).toBeLessThan(30 * COMMAND_KEYS);
    await cache.clear();
    await cache.close();
    await client.quit();
  });

  it('without scripts (EVAL refused), writes one MULTI per command, and still every item', async () => {
    const client = new Redis(redis.url);
    client.evalsha = (() =>
      Promise.reject(new Error("NOPERM this user has no permissions to run the 'evalsha' command"))) as never;
    const namespace = uniqueNamespace();
    const cache = new RedisCacheAdapter({ client, namespace });
    const items = itemsOf(2_500);
    await cache.setMany(items, 60);
    await expectAllRead(cache, items);
    expect(await cache.ttl('item:2499')).toBe(60);
    await cache.clear();
    await cache.close();
    await client.quit();
  });
});
