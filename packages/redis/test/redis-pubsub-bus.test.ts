import type { BusListener, BusMessage, BusResetReason, BusSuspendReason } from '@strata-cache/core';
import { uniqueNamespace } from '@strata-cache/core/testing';
import { startRedisServer } from '@strata-cache/redis-testkit';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { busChannel, RedisCacheAdapter, RedisPubSubBus } from '../src/index.js';
import { WRITE_SCRIPT } from '../src/internal/write-gatherer.js';

const redis = inject('redis');
const closers: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const close of closers.reverse()) await close();
});

function recorder() {
  const got = {
    messages: [] as BusMessage[],
    suspends: [] as BusSuspendReason[],
    resets: [] as BusResetReason[],
    errors: [] as Error[],
  };
  const listener: BusListener = {
    invalidate: (m) => got.messages.push(m),
    suspend: (r) => got.suspends.push(r),
    reset: (r) => got.resets.push(r),
    error: (e) => got.errors.push(e),
  };
  return { got, listener };
}

async function until(check: () => boolean, withinMs = 3_000): Promise<void> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > withinMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

function bus(options: ConstructorParameters<typeof RedisPubSubBus>[0]): RedisPubSubBus {
  const b = new RedisPubSubBus(options);
  closers.push(() => b.close());
  return b;
}

describe('RedisPubSubBus', () => {
  it('delivers invalidations to the other instances of its namespace only, never back to the sender', async () => {
    const namespace = uniqueNamespace();
    const a = bus({ url: redis.url, namespace });
    const b = bus({ url: redis.url, namespace });
    const other = bus({ url: redis.url, namespace: `${namespace}x` });
    const [ra, rb, ro] = [recorder(), recorder(), recorder()];
    await Promise.all([a.subscribe(ra.listener), b.subscribe(rb.listener), other.subscribe(ro.listener)]);
    await a.publish({ kind: 'keys', keys: ['k1', 'é*'] });
    await a.publish({ kind: 'pattern', pattern: 'user:*' });
    await a.publish({ kind: 'clear' });
    await until(() => rb.got.messages.length === 3);
    expect(rb.got.messages.map((m) => [m.kind, m.origin, m.seq])).toEqual([
      ['keys', a.id, expect.any(Number)],
      ['pattern', a.id, expect.any(Number)],
      ['clear', a.id, expect.any(Number)],
    ]);
    expect(rb.got.messages[0]).toMatchObject({ keys: ['k1', 'é*'] });
    expect(ra.got.messages).toEqual([]);
    expect(ro.got.messages).toEqual([]);
    expect(rb.got.resets).toEqual([]);
  });

  it('drops malformed, oversized and foreign messages with an error and a reset (they may have been invalidations), and resets on a sequence gap', async () => {
    const namespace = uniqueNamespace();
    const b = bus({ url: redis.url, namespace });
    const rb = recorder();
    await b.subscribe(rb.listener);
    const raw = new Redis(redis.url);
    closers.push(() => raw.quit());
    const channel = busChannel(namespace);
    await raw.publish(channel, 'not json');
    await raw.publish(channel, '{"v":1,"origin":"x","seq":1,"kind":"nuke"}');
    await raw.publish(
      channel,
      `{"v":1,"origin":"x","seq":1,"kind":"keys","keys":["${'k'.repeat(2_000_000)}"]}`,
    );
    await raw.publish(channel, '{"v":1,"origin":"x","seq":1,"kind":"keys","keys":["a"]}');
    await raw.publish(channel, '{"v":1,"origin":"x","seq":2,"kind":"keys","keys":["b"]}');
    await raw.publish(channel, '{"v":1,"origin":"x","seq":5,"kind":"keys","keys":["c"]}');
    await until(() => rb.got.messages.length === 3);
    expect(rb.got.errors).toHaveLength(3);
    expect(rb.got.errors.every((e) => (e as { code?: string }).code === 'CACHE_MALFORMED_MESSAGE')).toBe(
      true,
    );
    expect(rb.got.messages.map((m) => (m.kind === 'keys' ? m.keys[0] : ''))).toEqual(['a', 'b', 'c']);
    expect(rb.got.resets).toEqual(['malformed', 'malformed', 'malformed', 'gap']);
  });

  it('suspends its listener when the subscriber disconnects, and resets it once subscribed again', async () => {
    const namespace = uniqueNamespace();
    const b = bus({ url: redis.url, namespace, heartbeatMs: 100, heartbeatTimeoutMs: 1_000 });
    const rb = recorder();
    await b.subscribe(rb.listener);
    const raw = new Redis(redis.url);
    closers.push(() => raw.quit());
    await raw.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
    await until(() => rb.got.resets.includes('reconnect'));
    expect(rb.got.suspends).toEqual(['disconnect']);
    const a = bus({ url: redis.url, namespace });
    await a.subscribe(recorder().listener);
    await a.publish({ kind: 'clear' });
    await until(() => rb.got.messages.length === 1);
  });

  it('detects a silently dead subscriber by its missing heartbeat, within the timeout', async () => {
    const server = await startRedisServer();
    closers.push(() => server.stop());
    const b = bus({ url: server.url, namespace: 'hb', heartbeatMs: 100, heartbeatTimeoutMs: 400 });
    const rb = recorder();
    await b.subscribe(rb.listener);
    server.pause();
    const paused = Date.now();
    try {
      await until(() => rb.got.suspends.includes('heartbeat'), 2_000);
      expect(Date.now() - paused).toBeLessThan(1_200);
      // Still dead: the listener stays suspended, nothing tells it the subscription is live.
      await new Promise((r) => setTimeout(r, 600));
      expect(rb.got.resets).toEqual([]);
    } finally {
      server.resume();
    }
    await until(() => rb.got.resets.includes('heartbeat'), 5_000);
    expect(rb.got.suspends).toEqual(['heartbeat']);
  });

  it('holds a publish issued before its connection is up until it is, instead of failing it', async () => {
    const namespace = uniqueNamespace();
    const b = bus({ url: redis.url, namespace });
    const { got, listener } = recorder();
    await b.subscribe(listener);
    const a = bus({ url: redis.url, namespace });
    await a.publish({ kind: 'keys', keys: ['early'] });
    await until(() => got.messages.some((m) => m.kind === 'keys' && m.keys.includes('early')));
  });

  it('sends the keys published within one tick as one message', async () => {
    const namespace = uniqueNamespace();
    const a = bus({ url: redis.url, namespace });
    const b = bus({ url: redis.url, namespace });
    const { got, listener } = recorder();
    await b.subscribe(listener);
    await a.subscribe(recorder().listener);
    const keys = Array.from({ length: 50 }, (_, i) => `k${i}`);
    await Promise.all(keys.map((key) => a.publish({ kind: 'keys', keys: [key] })));
    await a.publish({ kind: 'keys', keys: ['after'] });
    await until(() => got.messages.some((m) => m.kind === 'keys' && m.keys.includes('after')));
    const batches = got.messages.filter((m) => m.kind === 'keys' && m.keys.length > 0);
    expect(batches).toHaveLength(2);
    expect(batches[0]).toMatchObject({ kind: 'keys', keys });
    expect(got.resets).toEqual([]);
  });

  it('built on an adapter, publishes on its connection and announces its writes from the commands that write them', async () => {
    const namespace = uniqueNamespace();
    const same = new RedisCacheAdapter({ url: redis.url, namespace });
    closers.push(() => same.close());
    const a = bus({ adapter: same });
    const b = bus({ url: redis.url, namespace });
    const { got, listener } = recorder();
    await b.subscribe(listener);
    expect(a.channel).toBe(busChannel(namespace));
    expect(same.store.announcesOn(a)).toBe(true);
    expect(same.store.announcesOn(b)).toBe(false);
    await same.set('warm', 1);
    const client = same.client as Redis;
    let publishes = 0;
    const publish = client.publish.bind(client);
    client.publish = ((...args: Parameters<typeof publish>) => {
      publishes++;
      return publish(...args);
    }) as typeof publish;
    let scripts = 0;
    const evalsha = client.evalsha.bind(client);
    client.evalsha = ((...args: Parameters<typeof evalsha>) => {
      scripts++;
      return evalsha(...args);
    }) as typeof evalsha;

    // Writes of one tick, announced: one script, which writes, then publishes one message naming them.
    const text = same.codec.encode(1);
    await Promise.all([
      same.store.set('k1', { text, ttlMs: undefined }, { announce: a }),
      same.store.delete(['k2'], { announce: a }),
      same.store.set('k3', { text, ttlMs: 60_000 }, { announce: a }),
    ]);
    expect([scripts, publishes]).toEqual([1, 0]);
    // Other messages go out on the same connection, numbered after it.
    await a.publish({ kind: 'pattern', pattern: 'p*' });
    expect(publishes).toBe(1);
    await until(() => got.messages.length === 2);
    expect(got.messages[0]).toMatchObject({ kind: 'keys', keys: ['k1', 'k2', 'k3'] });
    expect(got.messages[1]!.seq).toBe(got.messages[0]!.seq + 1);
    expect(got.resets).toEqual([]);
    expect(await same.get('k1')).toBe(1);
    // A write not asked to be announced is not.
    await same.store.set('quiet', { text, ttlMs: undefined });
    await a.publish({ kind: 'clear' });
    await until(() => got.messages.length === 3);
    expect(got.messages[2]).toMatchObject({ kind: 'clear' });
  });

  it('announces each bus’s invalidations under its own name when two buses are built on one adapter', async () => {
    const namespace = uniqueNamespace();
    const shared = new RedisCacheAdapter({ url: redis.url, namespace });
    closers.push(() => shared.close());
    const [a, b] = [bus({ adapter: shared }), bus({ adapter: shared })];
    const [ra, rb] = [recorder(), recorder()];
    await Promise.all([a.subscribe(ra.listener), b.subscribe(rb.listener)]);
    const text = shared.codec.encode(1);
    await Promise.all([
      shared.store.set('from-a', { text, ttlMs: undefined }, { announce: a }),
      shared.store.set('from-b', { text, ttlMs: undefined }, { announce: b }),
    ]);
    await until(() => ra.got.messages.length === 1 && rb.got.messages.length === 1);
    // Each hears the other's message, never its own.
    expect(rb.got.messages[0]).toMatchObject({ origin: a.id, keys: ['from-a'] });
    expect(ra.got.messages[0]).toMatchObject({ origin: b.id, keys: ['from-b'] });
    await b.close();
    expect(shared.store.announcesOn(b)).toBe(false);
  });

  it('built on a Cluster adapter: each master announces its own writes, in a stream of its own', async () => {
    const namespace = uniqueNamespace();
    const nodes = redis.cluster.nodes;
    const cache = new RedisCacheAdapter({ cluster: { nodes }, namespace });
    closers.push(() => cache.close());
    const a = bus({ adapter: cache });
    const b = bus({ cluster: { nodes }, namespace });
    const { got, listener } = recorder();
    await b.subscribe(listener);
    await a.subscribe(recorder().listener);
    // Once connected (and its clock measured), the store sends each write in the tick it was issued in.
    await cache.set('warm', 1);
    const keys = Array.from({ length: 64 }, (_, i) => `k${i}`);
    for (let round = 0; round < 10; round++) {
      const text = cache.codec.encode(round);
      await Promise.all(keys.map((key) => cache.store.set(key, { text, ttlMs: undefined }, { announce: a })));
    }
    await until(() => got.messages.flatMap((m) => (m.kind === 'keys' ? m.keys : [])).length === 640);
    // One stream per master, each numbered 1, 2, 3… in arrival order: no gap, so no reset.
    const streams = new Map<string, number[]>();
    for (const m of got.messages)
      streams.set(m.stream ?? '', [...(streams.get(m.stream ?? '') ?? []), m.seq]);
    expect(streams.size).toBe(3);
    for (const seqs of streams.values()) expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    expect(got.resets).toEqual([]);
    expect(await cache.get('k5')).toBe(9);
    // setMany's commands announce their keys too, each master in its own stream.
    const before = got.messages.length;
    await cache.store.setMany(
      keys.map((key) => [key, { text: cache.codec.encode('m'), ttlMs: undefined }] as const),
      { announce: a },
    );
    await until(
      () => got.messages.slice(before).flatMap((m) => (m.kind === 'keys' ? m.keys : [])).length === 64,
    );
    expect(got.resets).toEqual([]);
  });

  it('announces writes even if one of them fails, and when the script is refused', async () => {
    const namespace = uniqueNamespace();
    const client = new Redis(redis.url);
    const cache = new RedisCacheAdapter({ client, namespace });
    closers.push(async () => {
      await cache.close();
      client.disconnect();
    });
    const a = bus({ adapter: cache });
    const b = bus({ url: redis.url, namespace });
    const { got, listener } = recorder();
    await b.subscribe(listener);
    // A write failing inside the script (a TTL Redis refuses): the others are written, the message still goes, and
    // the script reports each write's outcome.
    const outcomes = await client.eval(
      WRITE_SCRIPT,
      0,
      '3',
      ...[
        `${namespace}:ok`,
        's',
        '1',
        '',
        `${namespace}:bad`,
        's',
        '1',
        '-5',
        `${namespace}:ok2`,
        's',
        '2',
        '60000',
      ],
      busChannel(namespace),
      `{"v":1,"origin":"other","seq":1,"kind":"keys","keys":["ok","bad","ok2"]}`,
    );
    expect(outcomes).toEqual([1, expect.stringMatching(/invalid expire time/), 1]);
    await until(() => got.messages.length === 1);
    expect(got.messages[0]).toMatchObject({ keys: ['ok', 'bad', 'ok2'] });
    expect(await client.mget(`${namespace}:ok`, `${namespace}:bad`, `${namespace}:ok2`)).toEqual([
      '1',
      null,
      '2',
    ]);

    client.evalsha = (() =>
      Promise.reject(new Error("NOPERM this user has no permissions to run the 'evalsha' command"))) as never;
    const text = (n: number) => ({ text: cache.codec.encode(n), ttlMs: undefined });
    await Promise.all([
      cache.store.set('r1', text(1), { announce: a }),
      cache.store.set('r2', text(2), { announce: a }),
    ]);
    await until(() => got.messages.length === 2);
    expect(got.messages[1]).toMatchObject({ keys: ['r1', 'r2'] });
    // A lone write takes its own way: the same fallback.
    await cache.store.set('r3', text(3), { announce: a });
    await until(() => got.messages.length === 3);
    expect(got.messages[2]).toMatchObject({ keys: ['r3'] });
    expect(got.messages[2]!.seq).toBe(got.messages[1]!.seq + 1);
    expect(await cache.getMany(['r1', 'r2', 'r3'])).toEqual(
      new Map([
        ['r1', 1],
        ['r2', 2],
        ['r3', 3],
      ]),
    );
    expect(got.resets).toEqual([]);
  });

  it('splits an invalidation too large for one message: many keys in several messages, a huge key as a pattern', async () => {
    const namespace = uniqueNamespace();
    const a = bus({ url: redis.url, namespace });
    const b = bus({ url: redis.url, namespace });
    const { got, listener } = recorder();
    await Promise.all([b.subscribe(listener), a.subscribe(recorder().listener)]);
    const keys = Array.from({ length: 30_000 }, (_, i) => `key:${i}:${'é'.repeat(20)}`);
    const huge = `${'\n'.repeat(400_000)}tail`;
    await a.publish({ kind: 'keys', keys: [...keys, huge] });
    await until(() => got.messages.some((m) => m.kind === 'pattern'));
    const heard = got.messages.flatMap((m) => (m.kind === 'keys' ? m.keys : []));
    expect(heard).toEqual(keys);
    expect(got.messages.filter((m) => m.kind === 'keys').length).toBeGreaterThan(1);
    const pattern = got.messages.find((m) => m.kind === 'pattern');
    expect(pattern).toMatchObject({ pattern: `${'\n'.repeat(256)}*` });
    expect([got.errors, got.resets]).toEqual([[], []]);

    // Announced by the adapter's store: a huge key written is announced from its script, as a pattern as well.
    const cache = new RedisCacheAdapter({ url: redis.url, namespace });
    closers.push(() => cache.close());
    const paired = bus({ adapter: cache });
    await cache.set('warm', 1);
    await cache.store.set(huge, { text: '1', ttlMs: undefined }, { announce: paired });
    await until(() => got.messages.filter((m) => m.kind === 'pattern').length === 2);
    expect([got.errors, got.resets]).toEqual([[], []]);
  });

  it('two buses given the same id still hear each other', async () => {
    const namespace = uniqueNamespace();
    const a = bus({ url: redis.url, namespace, id: 'web' });
    const b = bus({ url: redis.url, namespace, id: 'web' });
    expect(a.id).not.toBe(b.id);
    expect(a.id.startsWith('web/')).toBe(true);
    const [ra, rb] = [recorder(), recorder()];
    await Promise.all([a.subscribe(ra.listener), b.subscribe(rb.listener)]);
    await a.publish({ kind: 'keys', keys: ['from-a'] });
    await b.publish({ kind: 'keys', keys: ['from-b'] });
    await until(() => ra.got.messages.length === 1 && rb.got.messages.length === 1);
    expect(rb.got.messages[0]).toMatchObject({ origin: a.id, keys: ['from-a'] });
    expect(ra.got.messages[0]).toMatchObject({ origin: b.id, keys: ['from-b'] });
  });

  it('serves one listener: a second is refused with a clear error; one aborted while waiting leaves nothing behind', async () => {
    const namespace = uniqueNamespace();
    const live = bus({ url: redis.url, namespace });
    await live.subscribe(recorder().listener);
    await expect(live.subscribe(recorder().listener)).rejects.toThrow(/already serves a cache/);

    // Nothing listens on this port: the subscription can never become live.
    const dead = bus({ url: 'redis://127.0.0.1:1', namespace, publishTimeoutMs: 100 });
    const { got, listener } = recorder();
    const controller = new AbortController();
    const waiting = dead.subscribe(listener, { signal: controller.signal });
    await until(() => got.errors.length > 0);
    // Transport failures reach the listener as Strata's own errors, the client's in `cause`.
    expect(got.errors[0]).toMatchObject({ name: 'CacheUnavailableError', code: 'CACHE_UNAVAILABLE' });
    expect(got.errors[0]!.cause).toBeInstanceOf(Error);
    controller.abort(new Error('given up'));
    await expect(waiting).rejects.toThrow('given up');
    const again = dead.subscribe(recorder().listener, { signal: AbortSignal.timeout(50) });
    await expect(again).rejects.toMatchObject({ name: 'TimeoutError' });
    await dead.close();
    await expect(dead.subscribe(recorder().listener)).rejects.toMatchObject({ code: 'CACHE_CLOSED' });
  });

  it('supports await using', async () => {
    let closed: RedisPubSubBus | undefined;
    {
      await using b = new RedisPubSubBus({ url: redis.url, namespace: uniqueNamespace() });
      await b.subscribe(recorder().listener);
      closed = b;
    }
    await expect(closed.publish({ kind: 'clear' })).rejects.toMatchObject({ code: 'CACHE_CLOSED' });
  });

  it('refuses bad options', () => {
    const adapter = new RedisCacheAdapter({ url: redis.url, namespace: 'opts' });
    closers.push(() => adapter.close());
    expect(() => new RedisPubSubBus({ adapter, url: redis.url })).toThrow(/either adapter or connection/);
    expect(() => new RedisPubSubBus({ adapter, namespace: 'other' })).toThrow(/differs from the adapter/);
    expect(() => new RedisPubSubBus({ adapter: {} as never })).toThrow(/adapter must be a RedisCacheAdapter/);
    expect(() => new RedisPubSubBus({ url: redis.url, heartbeatMs: 0 })).toThrow(RangeError);
    expect(() => new RedisPubSubBus({ url: redis.url, heartbeatMs: 500, heartbeatTimeoutMs: 400 })).toThrow(
      RangeError,
    );
    expect(() => new RedisPubSubBus({ url: redis.url, namespace: 'a:b' })).toThrow(RangeError);
    expect(() => new RedisPubSubBus({ url: redis.url, heartbeat: 5 } as never)).toThrow(
      /Unknown RedisPubSubBus option/,
    );
  });
});
