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

/** See `disconnectTimeout` in {@link CLIENT_DEFAULTS}. */
const DISCONNECT_TIMEOUT_MS = 20;

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
 * - `disconnectTimeout` 20 ms: how long a disconnected socket may take to close before it is destroyed. ioredis's
 *   2 s also runs for sockets that had already closed (every failed attempt to reach a node that is down), and
 *   each such timer would keep the process alive after `close()`.
 */
export const CLIENT_DEFAULTS: RedisOptions = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  connectTimeout: 5_000,
  disconnectTimeout: DISCONNECT_TIMEOUT_MS,
  retryStrategy: (times: number) => Math.min(50 * times, 1_000),
};

/**
 * Refuses an ioredis `keyPrefix`, wherever it is set: on the given `client`, in the `url`'s query, in
 * `redisOptions`, in a Cluster's options or in its `redisOptions`. ioredis prepends it only to the arguments it
 * knows to be keys: not to the pattern of SCAN MATCH, nor to keys a Lua script takes as arguments, nor (when it is
 * set on a Cluster alone) to commands sent on a node's own connection. Keys would be written under the prefix by
 * some commands and beside it by others, and `deletePattern` and `clear` would find none of them. Checked before
 * any client is created, so that nothing is left connecting.
 * @throws {TypeError} naming `owner`, the prefix and where it was set, and `namespace` as what to use instead.
 */
export function assertNoKeyPrefix(options: RedisConnectionOptions, owner: string): void {
  const { client, url, redisOptions, cluster } = options;
  const clientOptions = (client as { options?: PrefixedOptions } | undefined)?.options;
  const queryAt = typeof url === 'string' ? url.indexOf('?') : -1;
  const places: Array<[string, unknown]> = [
    ['the client', clientOptions?.keyPrefix],
    ["the client's redisOptions", clientOptions?.redisOptions?.keyPrefix],
    ['the url', queryAt === -1 ? undefined : new URLSearchParams(url!.slice(queryAt + 1)).get('keyPrefix')],
    ['redisOptions', redisOptions?.keyPrefix],
    ['cluster.options', cluster?.options?.keyPrefix],
    ['cluster.options.redisOptions', cluster?.options?.redisOptions?.keyPrefix],
  ];
  for (const [where, prefix] of places) {
    if (prefix === undefined || prefix === null || String(prefix) === '') continue;
    throw new TypeError(
      `${owner} does not take an ioredis keyPrefix (${JSON.stringify(String(prefix))} in ${where}): ioredis adds it ` +
        'only to the keys of plain commands, not to SCAN MATCH patterns nor to keys passed to Lua scripts, so ' +
        'deletePattern and clear would delete nothing and scripts would write outside it. Use the namespace ' +
        'option instead: keys are stored as "<namespace>:<key>".',
    );
  }
}

/** Where a client's options may hold a `keyPrefix` (a Cluster's own, or its nodes'). */
interface PrefixedOptions {
  readonly keyPrefix?: unknown;
  readonly redisOptions?: { readonly keyPrefix?: unknown };
}

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
 * Closes a client Strata created. A connected one gets QUIT (which waits for pending replies), then, if the
 * connection has not ended within a second (a hung server), disconnect(). One that is not connected (Redis down, a
 * connect or reconnect under way) is disconnected at once: QUIT could only wait for a reply that cannot come. Errors
 * during shutdown are swallowed: they are expected.
 */
export async function closeClient(client: Redis | Cluster): Promise<void> {
  client.removeAllListeners('error');
  client.on('error', () => {});
  if (client.status === 'end') return;
  if (client.status !== 'ready' && client.status !== 'connect') {
    client.disconnect();
    await disconnectTimersDone(client);
    return;
  }
  const ended = new Promise<void>((resolve) => client.once('end', () => resolve()));
  client.quit().catch(() => client.disconnect());
  let fallback: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([ended, new Promise((resolve) => (fallback = setTimeout(resolve, 1_000).unref()))]);
  clearTimeout(fallback);
  // Not after a clean QUIT: on an ended client, disconnect() starts ioredis' (ref'd) timer waiting for a socket
  // close that already happened, which would keep the process alive. (TypeScript narrowed `status` before the
  // await, as if it could not have changed since.)
  if ((client.status as string) !== 'end') client.disconnect();
}

/**
 * Waits until what ioredis started to disconnect `client` is done. Each disconnect of a socket waits
 * `disconnectTimeout` ms for it to close (also on one that had already closed, as a reconnecting client's has: no
 * 'end' then ever comes). A Cluster's reconnect attempts leave such timers behind, and a slot table reload under way
 * has a connection of its own, which it disconnects only when its CLUSTER SLOTS fails. Past them, nothing of the
 * client is left to keep the process alive.
 */
async function disconnectTimersDone(client: Redis | Cluster): Promise<void> {
  const options = client.isCluster ? (client as Cluster).options.redisOptions : (client as Redis).options;
  const waitMs = Math.min(options?.disconnectTimeout ?? DISCONNECT_TIMEOUT_MS, 1_000) + 1;
  if (client.isCluster) {
    // With no node left, a reload fails at once, or waits for the one under way (bounded: a black-holed node would
    // hold it for its whole timeout).
    let bound: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      new Promise<void>((resolve) => (client as Cluster).refreshSlotsCache(() => resolve())),
      new Promise<void>((resolve) => (bound = setTimeout(resolve, 100))),
    ]);
    clearTimeout(bound);
  }
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, waitMs);
    // A standalone client that ends has nothing left: it ended because its socket closed.
    if (!client.isCluster)
      client.once('end', () => {
        clearTimeout(timer);
        resolve();
      });
  });
}
