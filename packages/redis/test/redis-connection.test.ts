import type { BusListener, BusMessage } from '@strata-cache/core';
import { uniqueNamespace } from '@strata-cache/core/testing';
import { Cluster, Redis } from 'ioredis';
import { describe, expect, inject, it } from 'vitest';
import { RedisCacheAdapter, RedisPubSubBus, type RedisPubSubBusOptions } from '../src/index.js';

const redis = inject('redis');

describe('an ioredis keyPrefix', () => {
  it('is refused by RedisCacheAdapter however it is passed, with a TypeError saying to use namespace', async () => {
    const nodes = redis.cluster.nodes;
    const prefixedRedis = new Redis(redis.url, { keyPrefix: 'app:', lazyConnect: true });
    const prefixedCluster = new Cluster(nodes, { keyPrefix: 'app:', lazyConnect: true });
    const prefixedClusterNodes = new Cluster(nodes, {
      redisOptions: { keyPrefix: 'app:' },
      lazyConnect: true,
    });
    const ways: Array<[string, ConstructorParameters<typeof RedisCacheAdapter>[0]]> = [
      ['a Redis client', { client: prefixedRedis }],
      ['a Cluster client (its own option)', { client: prefixedCluster }],
      ["a Cluster client (its nodes' redisOptions)", { client: prefixedClusterNodes }],
      ["the url's query", { url: `${redis.url}?keyPrefix=app:` }],
      ['redisOptions', { redisOptions: { host: '127.0.0.1', port: 1, keyPrefix: 'app:' } }],
      ['redisOptions next to a url', { url: redis.url, redisOptions: { keyPrefix: 'app:' } }],
      ['Sentinel redisOptions', { redisOptions: { ...redis.sentinel, keyPrefix: 'app:' } }],
      ['cluster.options', { cluster: { nodes, options: { keyPrefix: 'app:' } } }],
      [
        'cluster.options.redisOptions',
        { cluster: { nodes, options: { redisOptions: { keyPrefix: 'app:' } } } },
      ],
    ];
    const before = process.getActiveResourcesInfo().length;
    for (const [way, options] of ways) {
      expect(() => new RedisCacheAdapter({ ...options, namespace: 'app' }), way).toThrow(TypeError);
      expect(() => new RedisCacheAdapter(options), way).toThrow(
        /keyPrefix \("app:" in .+\).*SCAN MATCH.*Use the namespace option/,
      );
    }
    // Refused before any client was created: nothing is left connecting.
    expect(process.getActiveResourcesInfo().length).toBeLessThanOrEqual(before);
    // ioredis's own default, an empty prefix, is no prefix.
    const unprefixed = new RedisCacheAdapter({ url: redis.url, redisOptions: { keyPrefix: '' } });
    await unprefixed.close();
    prefixedRedis.disconnect();
    prefixedCluster.disconnect();
    prefixedClusterNodes.disconnect();
  });

  it('does not disturb RedisPubSubBus: ioredis never prefixes PUBLISH and SUBSCRIBE channels', async () => {
    const namespace = uniqueNamespace();
    const options: RedisPubSubBusOptions[] = [
      { client: new Redis(redis.url, { keyPrefix: 'a:' }) },
      { url: `${redis.url}?keyPrefix=b:` },
      { redisOptions: { ...hostAndPort(redis.url), keyPrefix: 'c:' } },
      { cluster: { nodes: redis.cluster.nodes, options: { keyPrefix: 'd:' } } },
      { cluster: { nodes: redis.cluster.nodes, options: { redisOptions: { keyPrefix: 'e:' } } } },
      { url: redis.url },
    ];
    // Standalone ones hear each other, and so do the Cluster ones (a Cluster relays PUBLISH to every node).
    for (const group of [
      [options[0]!, options[1]!, options[2]!, options[5]!],
      [options[3]!, options[4]!],
    ]) {
      const buses = group.map((o) => new RedisPubSubBus({ ...o, namespace }));
      const heard = buses.map(() => [] as BusMessage[]);
      await Promise.all(buses.map((bus, i) => bus.subscribe(listener(heard[i]!))));
      for (const [i, bus] of buses.entries()) await bus.publish({ kind: 'keys', keys: [`from-${i}`] });
      await until(() => heard.every((got) => got.length === buses.length - 1));
      for (const [i, got] of heard.entries()) {
        expect(got.map((m) => m.kind === 'keys' && m.keys[0]).sort()).toEqual(
          buses.map((_, j) => `from-${j}`).filter((_, j) => j !== i),
        );
      }
      await Promise.all(buses.map((bus) => bus.close()));
    }
    (options[0]!.client as Redis).disconnect();
  });
});

/** Host and port of a `redis://HOST:PORT` URL, as ioredis options. */
function hostAndPort(url: string): { host: string; port: number } {
  const parsed = new URL(url);
  return { host: parsed.hostname, port: Number(parsed.port) };
}

function listener(got: BusMessage[]): BusListener {
  return { invalidate: (m) => got.push(m), suspend: () => {}, reset: () => {}, error: () => {} };
}

async function until(check: () => boolean, withinMs = 3_000): Promise<void> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > withinMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
