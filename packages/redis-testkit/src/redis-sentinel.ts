import { requireRedisBinary } from './binaries.js';
import type { RedisNodeAddress } from './redis-cluster.js';
import { type RedisServerHandle, startRedisServer } from './redis-server.js';
import { type RespReply, redisCommand, redisInfo } from './resp.js';
import { waitUntil } from './wait.js';

/** Options of {@link startRedisSentinel}. */
export interface RedisSentinelOptions {
  /** The master name the Sentinel monitors, what ioredis takes as `name`. Default `strata-primary`. */
  readonly name?: string | undefined;
  /** `down-after-milliseconds`: how long a silent master takes to be judged down. Default 1000 ms. */
  readonly downAfterMs?: number | undefined;
  /** How long start waits for the replica to sync and the Sentinel to see both servers. Default 30 000 ms. */
  readonly readyTimeoutMs?: number | undefined;
}

/** A master, its replica and one Sentinel watching them, all processes that this process started and owns. */
export interface RedisSentinelHandle {
  /** The master name, for `new Redis({ sentinels, name })`. */
  readonly name: string;
  /** The Sentinels' addresses, for `new Redis({ sentinels, name })`. */
  readonly sentinels: RedisNodeAddress[];
  /** The server that is master now: the two servers swap roles on each {@link RedisSentinelHandle.failover}. */
  readonly master: RedisServerHandle;
  /** The server that is replica now. */
  readonly replica: RedisServerHandle;
  readonly sentinel: RedisServerHandle;
  /**
   * Has the Sentinel promote the replica (SENTINEL FAILOVER) and resolves once it reports the new master, the old
   * master replicates from it, and its clients have been disconnected so that they ask the Sentinel again.
   */
  failover(timeoutMs?: number): Promise<void>;
  /** Stops the Sentinel, then both servers, and removes their dirs. */
  stop(): Promise<void>;
}

/**
 * Starts a master, a replica of it and a Sentinel monitoring them (quorum 1), and resolves once the replica is in
 * sync and the Sentinel knows both.
 */
export async function startRedisSentinel(options: RedisSentinelOptions = {}): Promise<RedisSentinelHandle> {
  requireRedisBinary('redis-server', 'the Redis Sentinel fixture');
  const name = options.name ?? 'strata-primary';
  const timeoutMs = options.readyTimeoutMs ?? 30_000;
  const started: RedisServerHandle[] = [];
  try {
    const master = await startRedisServer();
    started.push(master);
    const replica = await startRedisServer({ extraArgs: ['--replicaof', master.host, String(master.port)] });
    started.push(replica);
    // In sync before the Sentinel starts: its first INFO of the master then already lists the replica.
    await waitUntil('the replica to sync', () => replicationProblem(replica, master), timeoutMs);
    const downAfterMs = options.downAfterMs ?? 1_000;
    const sentinel = await startRedisServer({
      sentinel: true,
      config: [
        `sentinel monitor ${name} ${master.host} ${master.port} 1`,
        `sentinel down-after-milliseconds ${name} ${downAfterMs}`,
        `sentinel failover-timeout ${name} ${Math.max(downAfterMs * 5, 5_000)}`,
        `sentinel parallel-syncs ${name} 1`,
      ],
    });
    started.push(sentinel);
    const fixture = new RedisSentinel(name, master, replica, sentinel);
    await waitUntil('the Sentinel to see master and replica', () => fixture.sentinelProblem(), timeoutMs);
    return fixture;
  } catch (error) {
    await Promise.allSettled(started.reverse().map((server) => server.stop()));
    throw error;
  }
}

class RedisSentinel implements RedisSentinelHandle {
  readonly name: string;
  readonly sentinels: RedisNodeAddress[];
  readonly sentinel: RedisServerHandle;
  #master: RedisServerHandle;
  #replica: RedisServerHandle;

  constructor(
    name: string,
    master: RedisServerHandle,
    replica: RedisServerHandle,
    sentinel: RedisServerHandle,
  ) {
    this.name = name;
    this.sentinel = sentinel;
    this.sentinels = [{ host: sentinel.host, port: sentinel.port }];
    this.#master = master;
    this.#replica = replica;
  }

  get master(): RedisServerHandle {
    return this.#master;
  }

  get replica(): RedisServerHandle {
    return this.#replica;
  }

  async failover(timeoutMs = 30_000): Promise<void> {
    const oldMaster = this.#master;
    const newMaster = this.#replica;
    // NOGOODSLAVE or INPROG just after a start or a failover only mean that the Sentinel is still catching up.
    await waitUntil(
      'the Sentinel to accept SENTINEL FAILOVER',
      async () => {
        await this.#ask(['SENTINEL', 'FAILOVER', this.name]);
        return undefined;
      },
      timeoutMs,
      200,
    );
    await waitUntil(
      `the Sentinel to report ${newMaster.port} as master`,
      async () => {
        const port = (await this.#masterAddress())[1];
        return port === String(newMaster.port) ? undefined : `it reports ${port}`;
      },
      timeoutMs,
    );
    // The Sentinel turns a healthy old master into a replica only some 10 s after the switch (measured with Redis
    // 7.0), and until then it keeps taking writes that would be lost: do now what the Sentinel would do then.
    await redisCommand(oldMaster.host, oldMaster.port, ['REPLICAOF', newMaster.host, String(newMaster.port)]);
    await disconnectClients(oldMaster);
    await waitUntil('the old master to sync', () => replicationProblem(oldMaster, newMaster), timeoutMs);
    this.#master = newMaster;
    this.#replica = oldMaster;
    await waitUntil('the Sentinel to see master and replica', () => this.sentinelProblem(), timeoutMs);
  }

  async stop(): Promise<void> {
    // The Sentinel first, so that it does not fail over while the servers go down.
    const results = [await settle(this.sentinel.stop())];
    results.push(...(await Promise.allSettled([this.#replica.stop(), this.#master.stop()])));
    const errors = results.flatMap((result) => (result.status === 'rejected' ? [result.reason] : []));
    if (errors.length > 0)
      throw new AggregateError(errors, 'some Redis Sentinel fixture servers did not stop cleanly');
  }

  /**
   * What keeps the Sentinel from seeing our master as a healthy master and our replica as a replica it would
   * promote (the tests of its `sentinelSelectSlave`: linked, pinged and INFO-refreshed lately), if anything.
   */
  async sentinelProblem(): Promise<string | undefined> {
    const [, port] = await this.#masterAddress();
    if (port !== String(this.#master.port)) return `it reports master ${port}, not ${this.#master.port}`;
    const master = toFields(await this.#ask(['SENTINEL', 'MASTER', this.name]));
    if (master.get('flags') !== 'master') return `master ${port} is flagged ${master.get('flags')}`;
    const replicas = await this.#ask(['SENTINEL', 'REPLICAS', this.name]);
    const entries = Array.isArray(replicas) ? replicas.map(toFields) : [];
    const ours = entries.find((fields) => fields.get('port') === String(this.#replica.port));
    if (ours === undefined) return `it does not list replica ${this.#replica.port} yet`;
    const flags = ours.get('flags');
    if (flags !== 'slave') return `replica ${this.#replica.port} is flagged ${flags}`;
    const pingAge = Number(ours.get('last-ok-ping-reply'));
    const infoAge = Number(ours.get('info-refresh'));
    if (!(pingAge < 5_000 && infoAge < 20_000)) {
      return `replica ${this.#replica.port} last answered a PING ${pingAge} ms and an INFO ${infoAge} ms ago`;
    }
    return undefined;
  }

  async #masterAddress(): Promise<[string, string]> {
    const reply = await this.#ask(['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', this.name]);
    if (!Array.isArray(reply) || typeof reply[0] !== 'string' || typeof reply[1] !== 'string') {
      throw new Error(`the Sentinel does not know master ${this.name}`);
    }
    return [reply[0], reply[1]];
  }

  #ask(args: readonly string[]): Promise<RespReply> {
    return redisCommand(this.sentinel.host, this.sentinel.port, args, 2_000);
  }
}

/** What keeps `replica` from being an in-sync replica of `master`, if anything. */
async function replicationProblem(
  replica: RedisServerHandle,
  master: RedisServerHandle,
): Promise<string | undefined> {
  const info = await redisInfo(replica.host, replica.port, 'replication');
  const state = `role:${info.get('role')} master_port:${info.get('master_port')} link:${info.get('master_link_status')}`;
  const inSync =
    info.get('role') === 'slave' &&
    info.get('master_port') === String(master.port) &&
    info.get('master_link_status') === 'up';
  return inSync ? undefined : `replica ${replica.port} has ${state}`;
}

/**
 * Disconnects the server's clients as the Sentinel does on a role change, so that they ask it for the master again;
 * but not the Sentinel's own links (named `sentinel-*`): cut, they make it see the replica as disconnected for a
 * moment, and a failover() right after would be refused with NOGOODSLAVE.
 */
async function disconnectClients(server: RedisServerHandle): Promise<void> {
  for (const type of ['normal', 'pubsub']) {
    const list = await redisCommand(server.host, server.port, ['CLIENT', 'LIST', 'TYPE', type]);
    for (const line of typeof list === 'string' ? list.split('\n') : []) {
      const fields = new Map(
        line.split(' ').map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
      );
      const id = fields.get('id');
      if (id === undefined || fields.get('name')?.startsWith('sentinel-')) continue;
      // The client may be gone already (our own CLIENT LIST connection is): that is fine.
      await redisCommand(server.host, server.port, ['CLIENT', 'KILL', 'ID', id]).catch(() => undefined);
    }
  }
}

/** SENTINEL replies describe an instance as a flat `[key, value, key, value, ...]` array. */
function toFields(entry: RespReply): Map<string, string> {
  const fields = new Map<string, string>();
  if (!Array.isArray(entry)) return fields;
  for (let i = 0; i + 1 < entry.length; i += 2) fields.set(String(entry[i]), String(entry[i + 1]));
  return fields;
}

async function settle(promise: Promise<void>): Promise<PromiseSettledResult<void>> {
  return (await Promise.allSettled([promise]))[0] ?? { status: 'fulfilled', value: undefined };
}
