import { randomBytes } from 'node:crypto';
import { findRedisServerBinary, type RedisServerHandle, startRedisServer } from '@strata-cache/redis-testkit';
import { InstanceProcess } from './instance-process.js';
import { act, type Checks, cyan, dim, heading, ms, progress, say, step, table, yellow } from './terminal.js';

/** Where the Redis part gets its Redis: `REDIS_URL` (used as is), else a `redis-server` it starts and stops. */
type RedisSource = { readonly url: string; readonly server?: RedisServerHandle };

const DEFAULT_ROUNDS = 200;

/** The p-th percentile (0–100) of sorted `values`, nearest rank. */
function percentile(sorted: readonly number[], p: number): number {
  const rank = Math.max(0, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.min(rank, sorted.length - 1)] ?? Number.NaN;
}

/** Whether the Redis part can run here: `REDIS_URL` is set, or `redis-server` is on PATH. */
export function redisAvailable(): boolean {
  return (process.env.REDIS_URL ?? '') !== '' || findRedisServerBinary() !== undefined;
}

async function resolveRedis(): Promise<RedisSource> {
  const fromEnv = process.env.REDIS_URL ?? '';
  if (fromEnv !== '') {
    say(
      `  Redis: ${cyan(fromEnv.replace(/\/\/[^@/]*@/, '//***@'))} from REDIS_URL (a namespace of its own, cleared at the end)`,
    );
    return { url: fromEnv };
  }
  const server = await step('starting redis-server (its own, on a free loopback port)', () =>
    startRedisServer(),
  );
  say(`  Redis: ${cyan(server.url)}, pid ${server.pid} ${dim('(stopped at the end)')}`);
  return { url: server.url, server };
}

/**
 * Part 2: two Node processes, each with a TieredCache (memory L1 over a RedisCacheAdapter L2, RedisPubSubBus),
 * sharing one Redis: hits per tier across processes, then the live lag from a write in one process to the
 * invalidation of the other's L1.
 */
export async function runRedisDemo(checks: Checks, rounds = DEFAULT_ROUNDS): Promise<void> {
  heading('Part 2 · two Node processes over Redis');
  const redis = await resolveRedis();
  const namespace = `strata-demo-${randomBytes(4).toString('hex')}`;
  const env = { STRATA_DEMO_REDIS_URL: redis.url, STRATA_DEMO_NAMESPACE: namespace };
  const started: InstanceProcess[] = [];
  try {
    const [writer, reader] = await step('starting two Node processes (writer, reader), subscribing', () =>
      Promise.all(
        ['writer', 'reader'].map(async (name) => {
          const instance = await InstanceProcess.start(name, env);
          started.push(instance);
          return instance;
        }),
      ),
    );
    if (writer === undefined || reader === undefined) throw new Error('instances did not start');
    say(`  writer pid ${writer.pid}, reader pid ${reader.pid}, namespace ${cyan(namespace)}`);
    say(
      `  ${dim('each: a TieredCache of a MemoryCacheAdapter over a RedisCacheAdapter, on a RedisPubSubBus')}`,
    );

    say();
    say(`  ${yellow('1.')} Hits per tier, across processes`);
    await writer.call({ op: 'set', key: 'product:1', value: { sku: 'P-1', price: 100 } });
    act('writer', 'set product:1 = {"sku":"P-1","price":100}');
    for (let i = 0; i < 2; i++) {
      const read = await reader.call({ op: 'get', key: 'product:1' });
      act('reader', `get product:1 → ${JSON.stringify(read.value)} from ${read.from}`);
    }

    say();
    say(`  ${yellow('2.')} An invalidation crosses processes`);
    await reader.call({ op: 'arm', key: 'product:1' });
    const write = await writer.call({ op: 'set', key: 'product:1', value: { sku: 'P-1', price: 120 } });
    act('writer', 'set product:1 = {"sku":"P-1","price":120}');
    const first = await reader.call({ op: 'awaitInvalidation' });
    act('reader', `← invalidation, ${ms(first.at - write.start)} after the writer called set()`);
    act('reader', `get product:1 → ${JSON.stringify(first.read.value)} from ${first.read.from}`);
    checks.expect(
      (first.read.value as { price?: number } | undefined)?.price === 120,
      'the reader serves the new price right after the invalidation',
    );

    say();
    say(`  ${yellow('3.')} Live invalidation lag`);
    say(
      `  ${dim(`${rounds} writes by the writer; for each, the time from calling set() to the reader dropping its L1 copy.`)}`,
    );
    const lags: number[] = [];
    const writes: number[] = [];
    let fresh = 0;
    const report = progress('measuring', rounds);
    for (let round = 1; round <= rounds; round++) {
      await reader.call({ op: 'arm', key: 'product:1' });
      const set = await writer.call({ op: 'set', key: 'product:1', value: { sku: 'P-1', price: round } });
      const seen = await reader.call({ op: 'awaitInvalidation' });
      lags.push(seen.at - set.start);
      writes.push(set.end - set.start);
      if ((seen.read.value as { price?: number } | undefined)?.price === round) fresh++;
      report(round);
    }
    lags.sort((x, y) => x - y);
    writes.sort((x, y) => x - y);
    table(
      ['', 'p50', 'p95', 'p99', 'max'],
      [
        ['set() call → reader’s L1 dropped', ...[50, 95, 99, 100].map((p) => ms(percentile(lags, p)))],
        ['set() call → set() resolved', ...[50, 95, 99, 100].map((p) => ms(percentile(writes, p)))],
      ],
    );
    checks.expect(fresh === rounds, `fresh reads after each invalidation: ${fresh}/${rounds}`);

    say();
    say('  Counters per process (cache.stats()):');
    const rows = await Promise.all(
      [writer, reader].map(async (instance) => {
        const s = await instance.call({ op: 'stats' });
        return [
          instance.name,
          String(s.hits[0]),
          String(s.hits[1]),
          String(s.misses),
          String(s.invalidationsSent),
          String(s.invalidationsReceived),
        ];
      }),
    );
    table(['process', 'L1 hits', 'L2 hits', 'misses', 'sent', 'received'], rows);

    await step('closing both processes (the writer clears the demo namespace)', async () => {
      await reader.stop(false);
      await writer.stop(true);
    });
  } finally {
    await Promise.all(started.map((instance) => instance.kill()));
    if (redis.server !== undefined) await step('stopping redis-server', () => redis.server!.stop());
  }
}
