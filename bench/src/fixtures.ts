import {
  type RedisClusterHandle,
  type RedisServerHandle,
  startRedisCluster,
  startRedisServer,
} from '@strata-cache/redis-testkit';
import { Cluster, Redis } from 'ioredis';
import type { Where } from './subject.js';

/** The servers a run owns; the Cluster starts only when its phase begins. */
export interface Fixtures {
  readonly server: RedisServerHandle;
  readonly standalone: Where & { topology: 'standalone' };
  cluster(): Promise<Where & { topology: 'cluster' }>;
  /** Process ids of the Redis servers running now, for CPU accounting. */
  pids(): number[];
  /** Direct connections to every master of `where`, for INFO, FLUSHALL and bulk loads. */
  masters(where: Where): Promise<Redis[]>;
  stop(): Promise<void>;
}

/** Starts a fresh `redis-server` (no persistence, loopback, free port) through the test kit. */
export async function startFixtures(): Promise<Fixtures> {
  const server = await startRedisServer();
  let cluster: RedisClusterHandle | undefined;
  const direct = new Map<string, Redis>();
  const connection = (host: string, port: number): Redis => {
    const key = `${host}:${port}`;
    let client = direct.get(key);
    if (client === undefined) {
      client = new Redis({ host, port, lazyConnect: false });
      direct.set(key, client);
    }
    return client;
  };
  return {
    server,
    standalone: { topology: 'standalone', url: server.url },
    async cluster() {
      cluster ??= await startRedisCluster({ masters: 3 });
      return { topology: 'cluster', nodes: cluster.nodes };
    },
    pids() {
      return [server, ...(cluster?.servers ?? [])]
        .filter((handle) => handle.running)
        .map((handle) => handle.pid);
    },
    async masters(where) {
      if (where.topology === 'standalone') return [connection(server.host, server.port)];
      const handles = await cluster!.masters();
      return handles.map((handle) => connection(handle.host, handle.port));
    },
    async stop() {
      for (const client of direct.values()) client.disconnect();
      await Promise.allSettled([server.stop(), cluster?.stop()]);
    },
  };
}

/** A new ioredis client (standalone or Cluster) for `where`, with ioredis' own defaults. */
export function newClient(where: Where): Redis | Cluster {
  return where.topology === 'standalone' ? new Redis(where.url) : new Cluster([...where.nodes]);
}

/** Empties every master of `where` (the run owns these servers: nothing else lives there). */
export async function flushAll(fixtures: Fixtures, where: Where): Promise<void> {
  await Promise.all((await fixtures.masters(where)).map((master) => master.flushall()));
}

/**
 * Writes `texts[i]` under `keys[i]` with a TTL, fast: one auto-pipelined client, so that commands issued in one
 * tick share a socket write per node. Not timed; it only prepares data.
 */
export async function bulkWrite(
  where: Where,
  keys: readonly string[],
  texts: readonly string[],
  ttlSeconds: number,
): Promise<void> {
  const client =
    where.topology === 'standalone'
      ? new Redis(where.url, { enableAutoPipelining: true })
      : new Cluster([...where.nodes], { enableAutoPipelining: true });
  try {
    const CHUNK = 2_000;
    for (let start = 0; start < keys.length; start += CHUNK) {
      const end = Math.min(keys.length, start + CHUNK);
      const writes: Array<Promise<unknown>> = [];
      for (let i = start; i < end; i++) writes.push(client.set(keys[i]!, texts[i]!, 'EX', ttlSeconds));
      await Promise.all(writes);
    }
  } finally {
    client.disconnect();
  }
}

/** How many keys `where` holds in total (DBSIZE summed over masters). */
export async function keyCount(fixtures: Fixtures, where: Where): Promise<number> {
  const sizes = await Promise.all((await fixtures.masters(where)).map((master) => master.dbsize()));
  return sizes.reduce((sum, size) => sum + size, 0);
}
