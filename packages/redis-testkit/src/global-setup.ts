import type { TestProject } from 'vitest/node';
import { RedisUnavailableError } from './binaries.js';
import type { RedisFixtureInfo } from './fixture-info.js';
import { type ProvidedRedis, provideRedis } from './provide-redis.js';
import { type RedisClusterHandle, startRedisCluster } from './redis-cluster.js';
import { type RedisSentinelHandle, startRedisSentinel } from './redis-sentinel.js';

interface StartedFixtures {
  readonly info: RedisFixtureInfo;
  stop(): Promise<void>;
}

interface SharedFixtures {
  readonly ready: Promise<StartedFixtures>;
  users: number;
}

/**
 * A root `globalSetup` is inherited by every project that `extends: true`, and each project loads it in a module
 * runner of its own: only `globalThis` is common to all, so the fixtures are shared there, once per Vitest process.
 */
const SHARED: unique symbol = Symbol.for('@strata-cache/redis-testkit/global-setup');
const registry = globalThis as typeof globalThis & { [SHARED]?: SharedFixtures };

/**
 * Vitest `globalSetup`: provides a standalone Redis ({@link provideRedis}), a 3-master Cluster and a Sentinel
 * fixture, started concurrently, to tests as `inject('redis')`, and returns the teardown that stops them. However
 * many projects run it, the fixtures start once, and stop with the last teardown.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let shared = registry[SHARED];
  if (shared === undefined) {
    shared = { ready: startFixtures(), users: 0 };
    registry[SHARED] = shared;
  }
  const mine = shared;
  mine.users++;
  let fixtures: StartedFixtures;
  try {
    fixtures = await mine.ready;
  } catch (error) {
    // startFixtures already stopped whatever did start; forget the failure so that a later run may try again.
    if (registry[SHARED] === mine) delete registry[SHARED];
    throw error;
  }
  project.provide('redis', fixtures.info);

  let tornDown = false;
  return async () => {
    if (tornDown) return;
    tornDown = true;
    mine.users--;
    if (mine.users > 0) return;
    if (registry[SHARED] === mine) delete registry[SHARED];
    await fixtures.stop();
  };
}

async function startFixtures(): Promise<StartedFixtures> {
  const startedAt = performance.now();
  const [standalone, cluster, sentinel] = await Promise.allSettled([
    provideRedis(),
    // No replicas, so nothing to fail over quickly: a roomy timeout only spares a busy machine false failures.
    startRedisCluster({ masters: 3, replicasPerMaster: 0, nodeTimeoutMs: 5_000 }),
    startRedisSentinel(),
  ]);
  const stops = [standalone, cluster, sentinel].flatMap((result) =>
    result.status === 'fulfilled' ? [() => result.value.stop()] : [],
  );
  if (standalone.status === 'rejected' || cluster.status === 'rejected' || sentinel.status === 'rejected') {
    await stopAll(stops);
    throw startupError([standalone, cluster, sentinel]);
  }
  process.stderr.write(`${summary(standalone.value, cluster.value, sentinel.value, startedAt)}\n`);
  return {
    info: {
      url: standalone.value.url,
      source: standalone.value.source,
      cluster: { nodes: cluster.value.nodes },
      sentinel: { name: sentinel.value.name, sentinels: sentinel.value.sentinels },
    },
    stop: () => stopAll(stops),
  };
}

async function stopAll(stops: ReadonlyArray<() => Promise<void>>): Promise<void> {
  const results = await Promise.allSettled(stops.map((stop) => stop()));
  const errors = results.flatMap((result) => (result.status === 'rejected' ? [result.reason] : []));
  if (errors.length > 0)
    throw new AggregateError(errors, 'redis-testkit: some Redis fixtures did not stop cleanly');
}

/** One error for all failed fixtures; a missing binary, the usual cause, gets its how-to once, not three times. */
function startupError(results: ReadonlyArray<PromiseSettledResult<unknown>>): Error {
  const errors = results.flatMap((result) => (result.status === 'rejected' ? [toError(result.reason)] : []));
  const first = errors[0] ?? new Error('unknown failure');
  if (errors.length === 1) return first;
  if (errors.every((error) => error instanceof RedisUnavailableError)) {
    return new RedisUnavailableError(unique(errors.map((error) => error.reason)).join(' '), { cause: first });
  }
  const messages = unique(errors.map((error) => error.message));
  return new Error(`redis-testkit: Redis fixtures failed to start:\n\n${messages.join('\n\n')}`, {
    cause: first,
  });
}

function summary(
  standalone: ProvidedRedis,
  cluster: RedisClusterHandle,
  sentinel: RedisSentinelHandle,
  startedAt: number,
): string {
  const seconds = ((performance.now() - startedAt) / 1_000).toFixed(1);
  const clusterPorts = cluster.nodes.map((node) => node.port).join(',');
  return (
    `[redis-testkit] ready in ${seconds} s: standalone ${standalone.url} (${standalone.source}); ` +
    `cluster 3 masters on 127.0.0.1:${clusterPorts}; sentinel "${sentinel.name}" on ` +
    `127.0.0.1:${sentinel.sentinel.port} (master ${sentinel.master.port}, replica ${sentinel.replica.port})`
  );
}

function toError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(String(reason));
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}
