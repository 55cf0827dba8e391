import { Cluster, type ClusterNode, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';

/** How to reach Redis: a client you own, or settings for one the adapter creates (and closes). */
export interface RedisConnectionOptions {
  /** A ready ioredis `Redis` or `Cluster`; it is used as is and never closed by Strata. */
  client?: Redis | Cluster;
  /** A `redis://` or `rediss://` URL for a client Strata creates and owns. */
  url?: string;
  /** ioredis options for a client Strata creates (Sentinel: `{ sentinels, name }`); merged over Strata's defaults. */
  redisOptions?: RedisOptions;
  /** Startup nodes (and options) of a Redis Cluster for a client Strata creates and owns. */
  cluster?: {
    /** Startup nodes: any masters of the Cluster. */ nodes: ClusterNode[];
    /** ioredis Cluster options, merged over Strata's defaults. */ options?: ClusterOptions;
  };
}

// ioredis declares `replyMapping?: Mode | undefined` in its options but not in its constructor overloads, which
// exactOptionalPropertyTypes rejects; Strata always uses the default (legacy) reply shapes.
type LegacyReplies<T> = T & { replyMapping?: 'legacy' };

/** The client an adapter uses, and whether it must close it. */
export interface ResolvedConnection {
  readonly client: Redis | Cluster;
  readonly ownsClient: boolean;
}

/**
 * ioredis settings for clients Strata creates, chosen so that no call can hang and none is applied late:
 * - `enableOfflineQueue: false`: nothing is queued inside the client while it is disconnected; Strata itself
 *   waits for readiness within the call's time limit, so a call that timed out is never sent afterwards.
 * - `maxRetriesPerRequest: 0`: a command in flight when the connection drops fails at once instead of being
 *   resent on reconnect, possibly long after its caller gave up.
 * - `retryStrategy`: reconnect forever, quickly (50 ms growing to 1 s), so the adapter recovers by itself.
 * - `connectTimeout` 5 s bounds a connect attempt to a black-holed address.
 */
export const CLIENT_DEFAULTS: RedisOptions = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  connectTimeout: 5_000,
  retryStrategy: (times: number) => Math.min(50 * times, 1_000),
};

/**
 * Picks or creates the client from exactly one of `client`, `url`, `redisOptions`, `cluster`
 * (`url` and `redisOptions` may go together).
 * @throws {TypeError} when none or conflicting ones are given.
 */
export function resolveConnection(options: RedisConnectionOptions): ResolvedConnection {
  const { client, url, redisOptions, cluster } = options;
  const given = [client, url ?? redisOptions, cluster].filter((x) => x !== undefined).length;
  if (given > 1) throw new TypeError('Pass only one of client, url/redisOptions, cluster');
  if (client !== undefined) {
    if (
      typeof client !== 'object' ||
      typeof (client as { sendCommand?: unknown }).sendCommand !== 'function'
    ) {
      throw new TypeError('client must be an ioredis Redis or Cluster instance');
    }
    return { client, ownsClient: false };
  }
  if (cluster !== undefined) {
    if (!Array.isArray(cluster.nodes) || cluster.nodes.length === 0)
      throw new TypeError('cluster.nodes must list startup nodes');
    // No `enableOfflineQueue: false` for a Cluster: with it, ioredis 6 may reject the first commands of a pipeline
    // (routed to a node that is still connecting) and accept the rest, and that pipeline is then never sent: its
    // commands wait on the node's connection for replies, and take those of later commands (values of other
    // keys). Ioredis queues per node regardless (its pool forces it), and Strata only calls a ready Cluster.
    const clusterOptions: ClusterOptions = {
      clusterRetryStrategy: (times: number) => Math.min(100 * times, 2_000),
      ...cluster.options,
      redisOptions: { ...CLIENT_DEFAULTS, ...cluster.options?.redisOptions },
    };
    return {
      client: new Cluster(
        cluster.nodes,
        clusterOptions as ClusterOptions & {
          redisOptions?: LegacyReplies<ClusterOptions['redisOptions'] & object>;
        },
      ),
      ownsClient: true,
    };
  }
  if (url !== undefined && typeof url !== 'string') throw new TypeError('url must be a string');
  if (url === undefined && redisOptions === undefined) {
    throw new TypeError('RedisCacheAdapter needs a client, a url, redisOptions or cluster nodes');
  }
  const merged = { ...CLIENT_DEFAULTS, ...redisOptions } as LegacyReplies<RedisOptions>;
  return { client: url === undefined ? new Redis(merged) : new Redis(url, merged), ownsClient: true };
}

/**
 * Closes a client Strata created: QUIT (which waits for pending replies), then, if the connection has not ended
 * within a second (a dead or hung server), disconnect(). Errors during shutdown are swallowed: they are expected.
 */
export async function closeClient(client: Redis | Cluster): Promise<void> {
  client.removeAllListeners('error');
  client.on('error', () => {});
  if (client.status === 'end') return;
  const ended = new Promise<void>((resolve) => client.once('end', () => resolve()));
  client.quit().catch(() => client.disconnect());
  let fallback: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([ended, new Promise((resolve) => (fallback = setTimeout(resolve, 1_000).unref()))]);
  clearTimeout(fallback);
  // Not after a clean QUIT: on an ended client, disconnect() starts ioredis' 2 s (ref'd) timer waiting for a
  // socket close that already happened, which would keep the process alive. (TypeScript narrowed `status` before
  // the await, as if it could not have changed since.)
  if ((client.status as string) !== 'end') client.disconnect();
}
