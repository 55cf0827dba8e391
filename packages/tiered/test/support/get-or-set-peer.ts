/**
 * A Node process for the cross-process getOrSet tests: a TieredCache (memory over Redis, the Redis bus on its
 * adapter). On `go` (a line on stdin) it makes `callers` concurrent getOrSet calls of `key`; its loader counts its
 * runs in Redis (INCR `<namespace>:loader-runs`), says `loading` on stdout, and takes `loadMs` (or never settles,
 * with `hang`). It answers with one JSON line, then exits. Run with tsx and the source export condition.
 */
import { createInterface } from 'node:readline';
import { MemoryCacheAdapter } from '@strata-cache/memory';
import { RedisCacheAdapter, RedisPubSubBus } from '@strata-cache/redis';
import { Redis } from 'ioredis';
import { TieredCache } from '../../src/index.js';

const [url, namespace, key, callers, loadMs, leaseTtlMs, mode] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  string,
  string,
  string,
];
const l2 = new RedisCacheAdapter({ url, namespace });
const bus = new RedisPubSubBus({ adapter: l2 });
const cache = new TieredCache({ tiers: [new MemoryCacheAdapter({ namespace }), l2], bus });
cache.on('error', () => {});
const counter = new Redis(url);
const say = (message: object) =>
  process.stdout.write(`${JSON.stringify({ ...message, at: performance.timeOrigin + performance.now() })}\n`);

await cache.ready();
say({ event: 'ready' });
const lines = createInterface({ input: process.stdin });
for await (const line of lines) if (line === 'go') break;

const loader = async () => {
  await counter.incr(`${namespace}:loader-runs`);
  say({ event: 'loading' });
  if (mode === 'hang') await new Promise(() => {});
  await new Promise((resolve) => setTimeout(resolve, Number(loadMs)));
  return { from: process.pid };
};
const started = performance.now();
const latencies: number[] = [];
const values = await Promise.all(
  Array.from({ length: Number(callers) }, async () => {
    const value = await cache.getOrSet(key, loader, { ttl: 60, lease: { ttlMs: Number(leaseTtlMs) } });
    latencies.push(performance.now() - started);
    return value;
  }),
);
say({
  event: 'done',
  values: [...new Set(values.map((v) => JSON.stringify(v)))],
  latencies: latencies.sort((a, b) => a - b),
  stats: cache.stats(),
});
await cache.close();
await bus.close();
await l2.close();
counter.disconnect();
process.exit(0);
