import { execFile } from 'node:child_process';
import { requireRedisBinary } from './binaries.js';
import { type RedisServerHandle, startRedisServer } from './redis-server.js';
import { parseInfo, redisCommand, redisInfo } from './resp.js';
import { waitUntil } from './wait.js';

/** Options of {@link startRedisCluster}. */
export interface RedisClusterOptions {
  /** Masters, each owning an equal share of the 16384 slots. At least 3 (redis-cli refuses fewer). Default 3. */
  readonly masters?: number | undefined;
  /** Replicas of each master; at least 1 is needed for a master's death to be survivable. Default 0. */
  readonly replicasPerMaster?: number | undefined;
  /**
   * `cluster-node-timeout`: how long a silent node takes to be judged failed. Small keeps a failover to about 2-3
   * seconds; a loaded machine may need more to avoid false failovers. Default 1000 ms.
   */
  readonly nodeTimeoutMs?: number | undefined;
  /** How long start waits for `cluster_state:ok` on every node. Default 30 000 ms. */
  readonly readyTimeoutMs?: number | undefined;
}

/** Where a node listens: what ioredis `new Cluster(nodes)` takes as startup nodes. */
export interface RedisNodeAddress {
  readonly host: string;
  readonly port: number;
}

/** A Redis Cluster of `redis-server` processes that this process started and owns. */
export interface RedisClusterHandle {
  /** Every node's address, for `new Cluster(nodes)`. */
  readonly nodes: RedisNodeAddress[];
  /** Every node's process, masters and replicas, in start order (not role order: see {@link masters}). */
  readonly servers: RedisServerHandle[];
  /** The nodes currently serving slots as masters, per CLUSTER NODES of the first node that answers. */
  masters(): Promise<RedisServerHandle[]>;
  /**
   * Waits until every running node reports `cluster_state:ok` with all 16384 slots served, knows every node, agrees
   * with the others on which nodes are the masters, and (for replicas) has its replication link up.
   */
  waitForOk(timeoutMs?: number): Promise<void>;
  /** Stops every node and removes their dirs. */
  stop(): Promise<void>;
}

const SLOTS = '16384';
const CLI_TIMEOUT_MS = 60_000;

/**
 * Starts `masters × (1 + replicasPerMaster)` cluster-enabled `redis-server` processes, joins them with
 * `redis-cli --cluster create`, and resolves once the cluster is ok on every node.
 */
export async function startRedisCluster(options: RedisClusterOptions = {}): Promise<RedisClusterHandle> {
  const masters = options.masters ?? 3;
  const replicas = options.replicasPerMaster ?? 0;
  if (!Number.isInteger(masters) || masters < 3) {
    throw new Error(`startRedisCluster: masters must be an integer of at least 3, got ${masters}`);
  }
  if (!Number.isInteger(replicas) || replicas < 0) {
    throw new Error(`startRedisCluster: replicasPerMaster must be a non-negative integer, got ${replicas}`);
  }
  requireRedisBinary('redis-server', 'the Redis Cluster fixture');
  const cli = requireRedisBinary('redis-cli', 'the Redis Cluster fixture');
  const nodeArgs = [
    ...['--cluster-node-timeout', String(options.nodeTimeoutMs ?? 1_000)],
    // A replica cut off from its master for long still takes over: tests kill masters on purpose.
    ...['--cluster-replica-validity-factor', '0'],
  ];
  const started = await Promise.allSettled(
    Array.from({ length: masters * (1 + replicas) }, () =>
      startRedisServer({ cluster: true, extraArgs: nodeArgs }),
    ),
  );
  const servers = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  try {
    const failed = started.find((result) => result.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
    await createCluster(cli, servers, replicas);
    const cluster = new RedisCluster(servers, masters);
    await cluster.waitForOk(options.readyTimeoutMs ?? 30_000);
    return cluster;
  } catch (error) {
    await Promise.allSettled(servers.map((server) => server.stop()));
    throw error;
  }
}

function createCluster(cli: string, servers: readonly RedisServerHandle[], replicas: number): Promise<void> {
  const args = [
    ...['--cluster', 'create', ...servers.map((server) => `${server.host}:${server.port}`)],
    ...['--cluster-replicas', String(replicas), '--cluster-yes'],
  ];
  return new Promise((resolve, reject) => {
    execFile(cli, args, { timeout: CLI_TIMEOUT_MS, killSignal: 'SIGKILL' }, (error, stdout, stderr) => {
      // redis-cli reports some refusals ("[ERR] ...") with exit code 0, so its output is checked too.
      const output = `${stdout}${stderr}`;
      if (error === null && !/\[ERR\]|\*\*\* ERROR/.test(output)) resolve();
      else
        reject(
          new Error(`redis-cli --cluster create failed (${error?.message ?? 'error reported'}):\n${output}`),
        );
    });
  });
}

class RedisCluster implements RedisClusterHandle {
  readonly nodes: RedisNodeAddress[];
  readonly servers: RedisServerHandle[];
  readonly #masterCount: number;

  constructor(servers: RedisServerHandle[], masterCount: number) {
    this.servers = servers;
    this.nodes = servers.map((server) => ({ host: server.host, port: server.port }));
    this.#masterCount = masterCount;
  }

  async masters(): Promise<RedisServerHandle[]> {
    let lastError: unknown;
    for (const server of this.servers.filter((candidate) => candidate.running)) {
      try {
        const view = parseClusterNodes(await clusterText(server, 'NODES'));
        const ports = new Set(view.filter(isServingMaster).map((node) => node.port));
        return this.servers.filter((candidate) => ports.has(candidate.port));
      } catch (error) {
        lastError = error;
      }
    }
    throw new Error('no cluster node answered CLUSTER NODES', { cause: lastError });
  }

  waitForOk(timeoutMs = 30_000): Promise<void> {
    return waitUntil('cluster_state:ok on every node', () => this.#problems(), timeoutMs, 100);
  }

  async stop(): Promise<void> {
    const results = await Promise.allSettled(this.servers.map((server) => server.stop()));
    const errors = results.flatMap((result) => (result.status === 'rejected' ? [result.reason] : []));
    if (errors.length > 0) throw new AggregateError(errors, 'some Redis Cluster nodes did not stop cleanly');
  }

  /** Describes what keeps the cluster from being ok, or returns undefined when it is. */
  async #problems(): Promise<string | undefined> {
    const running = this.servers.filter((server) => server.running);
    if (running.length === 0) return 'no node is running';
    const runningPorts = new Set(running.map((server) => server.port));
    const views = await Promise.all(running.map((server) => this.#inspect(server, runningPorts)));
    const problems = views.flatMap((view) => view.problems);
    const masterSets = new Set(views.map((view) => view.masters));
    if (masterSets.size > 1) problems.push(`nodes disagree on the masters: ${[...masterSets].join(' vs ')}`);
    return problems.length === 0 ? undefined : problems.join('; ');
  }

  async #inspect(
    server: RedisServerHandle,
    runningPorts: ReadonlySet<number>,
  ): Promise<{ problems: string[]; masters: string }> {
    const at = `${server.host}:${server.port}`;
    try {
      const [info, view] = await Promise.all([
        clusterText(server, 'INFO').then(parseInfo),
        clusterText(server, 'NODES').then(parseClusterNodes),
      ]);
      const problems: string[] = [];
      const state = info.get('cluster_state');
      if (state !== 'ok') problems.push(`${at} cluster_state:${state}`);
      if (info.get('cluster_slots_ok') !== SLOTS)
        problems.push(`${at} slots_ok:${info.get('cluster_slots_ok')}`);
      if (info.get('cluster_known_nodes') !== String(this.servers.length)) {
        problems.push(`${at} knows ${info.get('cluster_known_nodes')} of ${this.servers.length} nodes`);
      }
      const servingMasters = view.filter(isServingMaster);
      if (servingMasters.length !== this.#masterCount) {
        problems.push(`${at} sees ${servingMasters.length} of ${this.#masterCount} masters`);
      }
      for (const node of view) {
        if (runningPorts.has(node.port) && node.flags.some((flag) => flag === 'fail' || flag === 'fail?')) {
          problems.push(`${at} still flags running node ${node.port} as ${node.flags.join(',')}`);
        }
      }
      if (view.find((node) => node.flags.includes('myself'))?.flags.includes('slave')) {
        const link = (await redisInfo(server.host, server.port, 'replication')).get('master_link_status');
        if (link !== 'up') problems.push(`${at} replica link ${link}`);
      }
      const masters = servingMasters
        .map((node) => node.port)
        .sort((a, b) => a - b)
        .join(',');
      return { problems, masters };
    } catch (error) {
      return {
        problems: [`${at} unreachable (${error instanceof Error ? error.message : error})`],
        masters: '?',
      };
    }
  }
}

async function clusterText(server: RedisServerHandle, subcommand: 'INFO' | 'NODES'): Promise<string> {
  const reply = await redisCommand(server.host, server.port, ['CLUSTER', subcommand], 1_000);
  if (typeof reply !== 'string') throw new Error(`CLUSTER ${subcommand} from ${server.port} was not text`);
  return reply;
}

interface ClusterNodeLine {
  readonly port: number;
  readonly flags: readonly string[];
  readonly slots: readonly string[];
}

/** Parses CLUSTER NODES: `<id> <ip:port@cport[,hostname]> <flags> <master> <ping> <pong> <epoch> <link> <slot>...` */
function parseClusterNodes(text: string): ClusterNodeLine[] {
  return text
    .split('\n')
    .map((line) => line.trim().split(' '))
    .filter((fields) => fields.length >= 8)
    .map((fields) => {
      const address = (fields[1] ?? '').split('@')[0] ?? '';
      return {
        port: Number(address.slice(address.lastIndexOf(':') + 1)),
        flags: (fields[2] ?? '').split(','),
        slots: fields.slice(8),
      };
    });
}

function isServingMaster(node: ClusterNodeLine): boolean {
  const unhealthy = ['fail', 'fail?', 'handshake', 'noaddr'];
  return (
    node.flags.includes('master') &&
    !node.flags.some((flag) => unhealthy.includes(flag)) &&
    node.slots.length > 0
  );
}
