import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { type CacheProtocol, SerializationError, StrataCodec } from '@strata-cache/core';
import { describeCacheProtocol, readEntry, uniqueNamespace } from '@strata-cache/core/testing';
import { MemoryCacheAdapter } from '@strata-cache/memory';
import { RedisCacheAdapter, RedisPubSubBus } from '@strata-cache/redis';
import { startTcpProxy } from '@strata-cache/redis-testkit';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { TieredCache } from '../src/index.js';

const redis = inject('redis');
const resources = new WeakMap<CacheProtocol, Array<{ close(): Promise<void> }>>();
const opened: Array<{ close(): Promise<void> }> = [];
afterAll(async () => {
  for (const r of opened.reverse()) await r.close();
});

type Topology = { url: string } | { cluster: { nodes: Array<{ host: string; port: number }> } };

function tiered(namespace: string, where: Topology, maxTtl = 60): TieredCache {
  const l2 = new RedisCacheAdapter({ ...where, namespace });
  // Built on the adapter: the bus publishes through its connection, and its writes carry their invalidations.
  const bus = new RedisPubSubBus({ adapter: l2 });
  const cache = new TieredCache({ tiers: [new MemoryCacheAdapter({ namespace }), l2], bus, maxTtl });
  resources.set(cache, [cache, bus, l2]);
  opened.push(cache, bus, l2);
  return cache;
}

const destroy = async (cache: CacheProtocol) => {
  for (const r of resources.get(cache) ?? []) await r.close();
};

describeCacheProtocol('TieredCache (memory over Redis, RedisPubSubBus)', {
  create: ({ namespace }) => tiered(namespace, { url: redis.url }),
  destroy,
});

describeCacheProtocol('TieredCache (memory over Redis Cluster, RedisPubSubBus)', {
  create: ({ namespace }) => tiered(namespace, { cluster: { nodes: redis.cluster.nodes } }),
  destroy,
});

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function until(check: () => boolean | Promise<boolean>, withinMs = 5_000): Promise<void> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > withinMs) throw new Error('condition not met in time');
    await sleep(10);
  }
}

describe('TieredCache over real Redis when the bus cannot hear (SPEC: Missed messages)', () => {
  it('a half-open bus: no L1 value is served as fresh until it is subscribed again, however long it stays dead', async () => {
    const namespace = uniqueNamespace();
    const proxy = await startTcpProxy(Number(new URL(redis.url).port));
    opened.push(proxy);
    const a = tiered(namespace, { url: redis.url });
    const bL1 = new MemoryCacheAdapter({ namespace });
    const bL2 = new RedisCacheAdapter({ url: redis.url, namespace });
    // Only B's bus goes through the proxy: its L2 stays reachable while it hears nothing.
    const bBus = new RedisPubSubBus({ url: proxy.url, namespace, heartbeatMs: 100, heartbeatTimeoutMs: 400 });
    const b = new TieredCache({ tiers: [bL1, bL2], bus: bBus });
    opened.push(b, bBus, bL2);
    const events: string[] = [];
    b.on('suspend', ({ reason }) => events.push(`suspend ${reason}`));
    b.on('reset', ({ reason }) => events.push(`reset ${reason}`));
    b.on('error', () => {});
    await Promise.all([a.ready(), b.ready()]);
    await a.set('k', 0);
    await until(async () => (await b.get('k')) === 0 && (await bL1.get('k')) === 0);

    proxy.blackhole();
    await until(() => events.some((e) => e.endsWith('heartbeat')), 2_000);
    // Dead for well past the first detection: every read sees what L2 holds, and L1 is never refilled.
    const deadUntil = Date.now() + 1_500;
    for (let i = 1; Date.now() < deadUntil; i++) {
      await b.get('k');
      await a.set('k', i);
      expect(await b.get('k')).toBe(i);
      expect(await bL1.get('k')).toBeUndefined();
      await sleep(20);
    }
    expect(events).toEqual(['suspend heartbeat']);

    proxy.heal();
    await until(() => events.includes('reset heartbeat'), 5_000);
    await a.set('k', 'after');
    await until(async () => (await b.get('k')) === 'after' && (await bL1.get('k')) === 'after');
    await a.set('k', 'heard');
    await until(async () => (await b.get('k')) === 'heard');
  });

  it('an invalidation too large for one message reaches every instance: a huge key, and a setMany of 30,000 keys', async () => {
    const namespace = uniqueNamespace();
    const a = tiered(namespace, { url: redis.url });
    const bL1 = new MemoryCacheAdapter({ namespace, maxEntries: 50_000 });
    const bL2 = new RedisCacheAdapter({ url: redis.url, namespace });
    const bBus = new RedisPubSubBus({ url: redis.url, namespace });
    const b = new TieredCache({ tiers: [bL1, bL2], bus: bBus });
    opened.push(b, bBus, bL2);
    const errors: Error[] = [];
    a.on('error', ({ error }) => errors.push(error));
    b.on('error', ({ error }) => errors.push(error));
    await Promise.all([a.ready(), b.ready()]);

    // A valid key whose JSON form (every character escaped) is over a megabyte.
    const huge = '\u0001'.repeat(300_000);
    for (const key of [huge, `${huge}x`]) {
      await a.set(key, 1);
      await until(async () => (await b.get(key)) === 1 && (await bL1.get(key)) === 1);
      await a.set(key, 2);
      await until(async () => (await b.get(key)) === 2);
    }

    const keys = Array.from({ length: 30_000 }, (_, i) => `many:${i}:${'x'.repeat(40)}`);
    await a.setMany(new Map(keys.map((key) => [key, 1])));
    // A's invalidations may still be arriving, refusing B's first fills: read until L1 holds them.
    await until(
      async () => (await b.getMany(keys)).size === keys.length && (await bL1.get(keys[29_999]!)) === 1,
    );
    await a.setMany(new Map(keys.map((key) => [key, 2])));
    await until(
      async () => (await bL1.get(keys[29_999]!)) === undefined && (await bL1.get(keys[0]!)) === undefined,
    );
    const read = await b.getMany(keys);
    expect([...read.values()].every((v) => v === 2)).toBe(true);
    expect(errors).toEqual([]);
  }, 30_000);
});

describe('TieredCache instances over real Redis', () => {
  it('see each other’s writes, deletes and clears; invalidation lag is measured', async () => {
    const namespace = uniqueNamespace();
    const a = tiered(namespace, { url: redis.url });
    const b = tiered(namespace, { url: redis.url });
    await Promise.all([a.ready(), b.ready()]);
    await a.set('k', 0);
    // The first read may race a's own invalidation (then its fill is refused); within a few reads L1 serves it.
    for (let i = 0; i < 3; i++) expect(await b.get('k')).toBe(0);
    expect(b.stats().hits[0]).toBeGreaterThan(0);

    const lags: number[] = [];
    for (let i = 1; i <= 300; i++) {
      const received = new Promise<void>((resolve) => b.once('invalidation-received', () => resolve()));
      const started = performance.now();
      await a.set('k', i);
      await received;
      const value = await b.get('k');
      lags.push(performance.now() - started);
      expect(value).toBe(i);
    }
    lags.sort((x, y) => x - y);
    console.log(
      `invalidation lag A.set -> B reads it (n=300): p50 ${percentile(lags, 0.5).toFixed(3)} ms, p99 ${percentile(lags, 0.99).toFixed(3)} ms`,
    );

    await b.delete('k');
    await new Promise((r) => setTimeout(r, 20));
    expect(await a.get('k')).toBeUndefined();
    await a.setMany({ 'u:1': 1, 'u:2': 2 });
    expect(await b.getMany(['u:1', 'u:2'])).toEqual(
      new Map([
        ['u:1', 1],
        ['u:2', 2],
      ]),
    );
    await a.clear();
    await new Promise((r) => setTimeout(r, 20));
    expect(await b.get('u:1')).toBeUndefined();
  });

  it('a write and its invalidation share one command, and no one hears of the write before Redis applied it', async () => {
    const namespace = uniqueNamespace();
    const l2 = new RedisCacheAdapter({ url: redis.url, namespace });
    const bus = new RedisPubSubBus({ adapter: l2 });
    const a = new TieredCache({ tiers: [new MemoryCacheAdapter({ namespace }), l2], bus });
    opened.push(a, bus, l2);
    await a.ready();
    // A listener that, on every invalidation, reads the key on a connection of its own: it must see the write.
    const subscriber = new Redis(redis.url);
    const reader = new Redis(redis.url);
    opened.push(
      { close: () => subscriber.quit().then(() => {}) },
      { close: () => reader.quit().then(() => {}) },
    );
    /** The value stored under `key`, read from its envelope. */
    const stored = async (key: string): Promise<unknown> => {
      const text = await reader.get(`${namespace}:${key}`);
      return text === null ? undefined : (JSON.parse(text) as { v: unknown }).v;
    };
    const seen: Array<Promise<unknown>> = [];
    subscriber.on('message', (_channel: string, text: string) => {
      if (text.includes('"k"')) seen.push(stored('k'));
    });
    await subscriber.subscribe(bus.channel);
    const commands: string[] = [];
    const original = l2.client.sendCommand.bind(l2.client);
    l2.client.sendCommand = ((command: Parameters<typeof original>[0]) => {
      commands.push(command.name);
      return original(command);
    }) as typeof original;
    for (let i = 1; i <= 100; i++) {
      commands.length = 0;
      await a.set('k', i);
      // One script wrote the value and published its invalidation (EVAL only if the server did not hold it yet).
      expect(commands.filter((name) => name !== 'eval')).toEqual(['evalsha']);
      while (seen.length < i) await new Promise((r) => setTimeout(r, 1));
      expect(Number(await seen[i - 1])).toBeGreaterThanOrEqual(i);
    }
    // Concurrent writes go out gathered (one script, one message): the message still follows every write it names.
    l2.client.sendCommand = original;
    const checks: Array<Promise<boolean>> = [];
    subscriber.on('message', (_channel: string, text: string) => {
      const { keys } = JSON.parse(text) as { keys?: string[] };
      for (const key of keys ?? []) {
        if (key.startsWith('c:')) checks.push(stored(key).then((v) => v === 'new'));
      }
    });
    const keys = Array.from({ length: 64 }, (_, j) => `c:${j}`);
    for (let round = 0; round < 20; round++) {
      await Promise.all(keys.map((key) => l2.set(key, 'old')));
      checks.length = 0;
      await Promise.all(keys.map((key) => a.set(key, 'new')));
      while (checks.length < keys.length) await new Promise((r) => setTimeout(r, 1));
      expect(await Promise.all(checks)).toEqual(keys.map(() => true));
    }
  });

  it('never fills L1 for longer than the L2 entry lives, whether the value carries its expiry or not', async () => {
    const namespace = uniqueNamespace();
    const l1 = new MemoryCacheAdapter({ namespace });
    const l2 = new RedisCacheAdapter({ url: redis.url, namespace });
    const plainL2 = new RedisCacheAdapter({ url: redis.url, namespace, valueFormat: 'plain' });
    const cache = new TieredCache({ tiers: [l1, l2], maxTtl: 3_600 });
    const raw = new Redis(redis.url);
    opened.push(cache, l2, plainL2, { close: () => raw.quit().then(() => {}) });
    const ttls = [0.05, 0.4, 1.7, 30, 600];
    for (const [i, ttl] of ttls.entries()) {
      await l2.set(`enveloped${i}`, { i }, ttl);
      await plainL2.set(`plain${i}`, { i }, ttl);
    }
    await raw.set(`${namespace}:forever`, '1');
    for (const key of [...ttls.flatMap((_, i) => [`enveloped${i}`, `plain${i}`]), 'forever']) {
      await cache.get(key);
      // The L1 entry must be gone no later than Redis lets the key go: both as absolute times on this host's clock
      // (Redis runs here), each bounded on the safe side by when it was read.
      const entry = readEntry(l1, key);
      const l1Read = Date.now();
      const redisRead = Date.now();
      const pttl = await raw.pttl(`${namespace}:${key}`);
      const { ttlMs } = (await entry) ?? {};
      // Gone from L1 already (the 50 ms one may be): nothing to compare.
      if (ttlMs === undefined) continue;
      if (pttl === -1) {
        // No expiry in L2: maxTtl caps the fill.
        expect(ttlMs, key).toBeLessThanOrEqual(3_600_000);
        expect(ttlMs, key).toBeGreaterThan(3_600_000 - 50);
        continue;
      }
      const l1GoneBy = l1Read + ttlMs;
      const redisGoneAfter = redisRead + pttl;
      // Redis counts in whole milliseconds.
      expect(l1GoneBy, key).toBeLessThanOrEqual(redisGoneAfter + 1);
      // And not needlessly earlier: within the clock's bounds (a few ms) of what Redis keeps.
      expect(l1GoneBy, key).toBeGreaterThan(redisGoneAfter - 50);
    }
  });

  it('set encodes the value once for L2 and L1, and refuses a value it cannot encode before touching anything', async () => {
    const namespace = uniqueNamespace();
    let encodes = 0;
    const codec = new StrataCodec();
    const counting = Object.assign(Object.create(codec) as StrataCodec, {
      encode: (value: unknown) => {
        encodes++;
        return codec.encode(value);
      },
    });
    const l1 = new MemoryCacheAdapter({ namespace, codec: counting });
    const l2 = new RedisCacheAdapter({ url: redis.url, namespace, codec: counting });
    const cache = new TieredCache({ tiers: [l1, l2] });
    opened.push(cache, l2);
    await cache.set('k', { at: new Date(1) }, 30);
    expect(encodes).toBe(1);
    expect(await l1.get('k')).toEqual({ at: new Date(1) });
    expect(await l2.get('k')).toEqual({ at: new Date(1) });
    const errors: unknown[] = [];
    cache.on('error', (e) => errors.push(e));
    await expect(cache.set('k', () => {})).rejects.toBeInstanceOf(SerializationError);
    await expect(cache.set('k', { a: [() => {}] })).rejects.toMatchObject({ key: 'k', path: '$.a[0]' });
    expect(errors).toEqual([]);
    expect(await cache.get('k')).toEqual({ at: new Date(1) });
  });

  it('two separate Node processes see each other’s writes', async () => {
    const namespace = uniqueNamespace();
    const local = tiered(namespace, { url: redis.url });
    await local.ready();
    const script = fileURLToPath(new URL('./support/peer-process.ts', import.meta.url));
    const child = spawn(
      process.execPath,
      ['--conditions=@strata-cache/source', '--import', 'tsx', script, redis.url, namespace],
      {
        stdio: ['pipe', 'pipe', 'inherit'],
      },
    );
    const lines = createInterface({ input: child.stdout! });
    const pending = new Map<number, (reply: { result: unknown }) => void>();
    let ready!: () => void;
    const isReady = new Promise<void>((r) => {
      ready = r;
    });
    lines.on('line', (line) => {
      const msg = JSON.parse(line) as { event?: string; id?: number; result?: unknown };
      if (msg.event === 'ready') ready();
      if (msg.id !== undefined) pending.get(msg.id)?.(msg as { result: unknown });
    });
    let nextId = 0;
    const ask = (op: string, key: string, value?: unknown) =>
      new Promise<{ result: unknown }>((resolve) => {
        const id = ++nextId;
        pending.set(id, resolve);
        child.stdin!.write(`${JSON.stringify({ id, op, key, value })}\n`);
      });
    try {
      await isReady;
      await local.set('shared', 'from parent');
      expect((await ask('get', 'shared')).result).toBe('from parent');
      expect((await ask('get', 'shared')).result).toBe('from parent');
      await ask('set', 'shared', 'from child');
      await new Promise((r) => setTimeout(r, 50));
      expect(await local.get('shared')).toBe('from child');
      await local.set('shared', 'parent again');
      await new Promise((r) => setTimeout(r, 50));
      expect((await ask('get', 'shared')).result).toBe('parent again');
    } finally {
      child.stdin!.end(`${JSON.stringify({ id: 0, op: 'exit', key: '' })}\n`);
      await new Promise((r) => child.once('exit', r));
    }
  }, 30_000);
});
