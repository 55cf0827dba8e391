/**
 * A second Node process for the cross-process test: a TieredCache (memory over Redis, RedisPubSubBus) driven by
 * commands on stdin (one JSON per line), answering on stdout. Run with tsx and the source export condition.
 */
import { createInterface } from 'node:readline';
import { MemoryCacheAdapter } from '@strata-cache/memory';
import { RedisCacheAdapter, RedisPubSubBus } from '@strata-cache/redis';
import { TieredCache } from '../../src/index.js';

const [url, namespace] = process.argv.slice(2) as [string, string];
const cache = new TieredCache({
  tiers: [new MemoryCacheAdapter({ namespace }), new RedisCacheAdapter({ url, namespace })],
  bus: new RedisPubSubBus({ url, namespace }),
});
cache.on('invalidation-received', (message) => {
  process.stdout.write(
    `${JSON.stringify({ event: 'invalidation', at: performance.timeOrigin + performance.now(), message })}\n`,
  );
});
await cache.ready();
process.stdout.write(`${JSON.stringify({ event: 'ready' })}\n`);

for await (const line of createInterface({ input: process.stdin })) {
  const { id, op, key, value } = JSON.parse(line) as { id: number; op: string; key: string; value?: unknown };
  const result = op === 'get' ? await cache.get(key) : op === 'set' ? await cache.set(key, value) : undefined;
  process.stdout.write(`${JSON.stringify({ id, result: result ?? null, hits: cache.stats().hits })}\n`);
  if (op === 'exit') break;
}
process.exit(0);
