import { mkdtemp, rm, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, Redis } from 'ioredis';
import { describe, expect, it, onTestFinished } from 'vitest';
import type { TestProject } from 'vitest/node';
import {
  globalSetup,
  provideRedis,
  type RedisFixtureInfo,
  RedisUnavailableError,
  startRedisCluster,
  startRedisSentinel,
  startRedisServer,
} from '../src/index.js';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen({ port, host: '127.0.0.1', exclusive: true }, () => probe.close(() => resolve(true)));
  });
}

/** A client for fault tests: few retries, and connection errors ignored rather than logged as "unhandled". */
function client(port: number, commandTimeout?: number): Redis {
  const redis = new Redis({
    port,
    host: '127.0.0.1',
    maxRetriesPerRequest: 1,
    ...(commandTimeout === undefined ? {} : { commandTimeout }),
  });
  redis.on('error', () => {});
  return redis;
}

/** Runs `body` with environment variables replaced (undefined: removed), then puts them back. */
async function withEnv(vars: Record<string, string | undefined>, body: () => Promise<void>): Promise<void> {
  const saved = Object.fromEntries(Object.keys(vars).map((key) => [key, process.env[key]]));
  const apply = (values: Record<string, string | undefined>): void => {
    for (const [key, value] of Object.entries(values)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  };
  apply(vars);
  try {
    await body();
  } finally {
    apply(saved);
  }
}

describe('startRedisServer', () => {
  it('starts a server, and after stop() its process is gone, its port free and its dir removed', async () => {
    const server = await startRedisServer();
    onTestFinished(() => server.stop());
    const redis = client(server.port);
    expect(await redis.ping()).toBe('PONG');
    redis.disconnect();
    expect(server.url).toBe(`redis://127.0.0.1:${server.port}`);
    expect(isAlive(server.pid)).toBe(true);

    await server.stop();
    expect(server.running).toBe(false);
    expect(isAlive(server.pid)).toBe(false);
    expect(await canBind(server.port)).toBe(true);
    await expect(stat(server.dir)).rejects.toThrow(/ENOENT/);
    await server.stop(); // idempotent
  });

  it('keeps working after kill() and restart() on the same port', async () => {
    const server = await startRedisServer();
    onTestFinished(() => server.stop());
    const redis = client(server.port);
    try {
      await redis.set('k', 'before');
      const firstPid = server.pid;
      await server.kill();
      expect(isAlive(firstPid)).toBe(false);
      await expect(redis.get('k')).rejects.toThrow();

      await server.restart();
      expect(server.pid).not.toBe(firstPid);
      // No persistence: the restarted server is empty, and the same client reconnects by itself.
      await expect.poll(() => redis.get('k').catch(() => 'down'), { timeout: 5_000 }).toBeNull();
      await redis.set('k', 'after');
      expect(await redis.get('k')).toBe('after');
    } finally {
      redis.disconnect();
    }
  });

  it('pause() makes a PING time out, resume() makes it answer again', async () => {
    const server = await startRedisServer();
    onTestFinished(() => server.stop());
    const redis = client(server.port, 300);
    try {
      expect(await redis.ping()).toBe('PONG');
      server.pause();
      await expect(redis.ping()).rejects.toThrow(/timed out/i);
      server.resume();
      expect(await redis.ping()).toBe('PONG');
    } finally {
      redis.disconnect();
    }
  });

  it('refuses a port held by another process, naming it', async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    onTestFinished(() => new Promise<void>((resolve) => holder.close(() => resolve())));
    const address = holder.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    await expect(startRedisServer({ port })).rejects.toThrow(`127.0.0.1:${port} is in use`);
  });
});

describe('startRedisCluster', () => {
  it('reaches cluster_state:ok with 3 masters, and a Cluster client spreads keys over all of them', async () => {
    const cluster = await startRedisCluster();
    onTestFinished(() => cluster.stop());
    expect(cluster.servers).toHaveLength(3);
    expect(await cluster.masters()).toHaveLength(3);

    const redis = new Cluster(cluster.nodes);
    try {
      const keys = Array.from({ length: 30 }, (_, i) => `key:${i}`);
      for (const key of keys) await redis.set(key, key);
      for (const key of keys) expect(await redis.get(key)).toBe(key);
      const sizes = await Promise.all(redis.nodes('master').map((node) => node.dbsize()));
      expect(sizes.every((size) => size > 0)).toBe(true);
    } finally {
      redis.disconnect();
    }
    const pids = cluster.servers.map((server) => server.pid);
    await cluster.stop();
    expect(pids.filter(isAlive)).toEqual([]);
  });

  it('survives a dead master: its replica takes over within 10 s, and the old master rejoins', async () => {
    const cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1 });
    onTestFinished(() => cluster.stop());
    expect(cluster.servers).toHaveLength(6);
    const [victim] = await cluster.masters();
    if (victim === undefined) throw new Error('no master');

    const redis = new Cluster(cluster.nodes);
    redis.on('error', () => {});
    try {
      await redis.set('before', '1');
      await victim.kill();
      await cluster.waitForOk(10_000);
      const masters = await cluster.masters();
      expect(masters).toHaveLength(3);
      expect(masters).not.toContain(victim);
      await expect.poll(() => redis.set('after', '2').catch(() => 'not yet'), { timeout: 10_000 }).toBe('OK');
      expect(await redis.get('after')).toBe('2');

      await victim.restart();
      await cluster.waitForOk(10_000);
      expect(await cluster.masters()).not.toContain(victim);
    } finally {
      redis.disconnect();
    }
  });
});

describe('startRedisSentinel', () => {
  it('serves a Sentinel client, which keeps working after failover()', async () => {
    const fixture = await startRedisSentinel();
    onTestFinished(() => fixture.stop());
    const { master: oldMaster, replica: oldReplica } = fixture;
    const redis = new Redis({ sentinels: fixture.sentinels, name: fixture.name });
    redis.on('error', () => {});
    try {
      await redis.set('k', 'before');
      // Replication is asynchronous: make sure the replica has the write before it is promoted.
      expect(await redis.wait(1, 2_000)).toBe(1);

      await fixture.failover();
      expect(fixture.master).toBe(oldReplica);
      expect(fixture.replica).toBe(oldMaster);
      expect(await redis.get('k')).toBe('before');
      await redis.set('k', 'after');
      expect(await redis.get('k')).toBe('after');
      const info = await redis.info('server');
      expect(info).toContain(`tcp_port:${fixture.master.port}`);
    } finally {
      redis.disconnect();
    }
  });
});

describe('provideRedis and missing binaries', () => {
  it('uses REDIS_URL as it is, owning nothing', async () => {
    await withEnv({ REDIS_URL: 'redis://127.0.0.1:1' }, async () => {
      const provided = await provideRedis();
      expect(provided).toMatchObject({ url: 'redis://127.0.0.1:1', source: 'env' });
      await provided.stop();
    });
    await withEnv({ REDIS_URL: 'localhost:6379' }, async () => {
      await expect(provideRedis()).rejects.toThrow(/REDIS_URL must start with redis:\/\//);
    });
  });

  it('starts redis-server when there is no REDIS_URL and no Docker', async () => {
    await withEnv({ REDIS_URL: undefined, DOCKER_HOST: 'unix:///nonexistent/docker.sock' }, async () => {
      const provided = await provideRedis();
      onTestFinished(() => provided.stop());
      expect(provided.source).toBe('binary');
      const redis = client(Number(new URL(provided.url).port));
      expect(await redis.ping()).toBe('PONG');
      redis.disconnect();
    });
  });

  it('says how to get Redis when there is none', async () => {
    const emptyDir = await mkdtemp(join(tmpdir(), 'strata-empty-path-'));
    onTestFinished(() => rm(emptyDir, { recursive: true, force: true }));
    const env = { PATH: emptyDir, REDIS_URL: undefined, DOCKER_HOST: 'unix:///nonexistent/docker.sock' };
    await withEnv(env, async () => {
      for (const start of [provideRedis, startRedisServer, startRedisCluster, startRedisSentinel]) {
        const error = await start().then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(RedisUnavailableError);
        expect((error as Error).message).toContain('apt-get install redis-server');
        expect((error as Error).message).toContain('REDIS_URL');
      }
    });
  });
});

describe('globalSetup', () => {
  it('provides a working standalone, Cluster and Sentinel once, however many projects run it', async () => {
    const provided: unknown[] = [];
    // Only provide() is used; a real TestProject needs a running Vitest.
    const project = {
      provide: (_key: string, value: unknown) => provided.push(value),
    } as unknown as TestProject;
    const teardowns = [await globalSetup(project), await globalSetup(project)];
    onTestFinished(() => Promise.all(teardowns.map((teardown) => teardown())).then(() => undefined));
    expect(provided).toHaveLength(2);
    expect(provided[1]).toBe(provided[0]);
    const info = provided[0] as RedisFixtureInfo;

    const standalone = new Redis(info.url);
    const cluster = new Cluster(info.cluster.nodes);
    const sentinel = new Redis({ sentinels: info.sentinel.sentinels, name: info.sentinel.name });
    try {
      expect(await standalone.ping()).toBe('PONG');
      expect(await cluster.set('global-setup', '1')).toBe('OK');
      expect(await sentinel.ping()).toBe('PONG');
    } finally {
      for (const redis of [standalone, cluster, sentinel]) redis.disconnect();
    }

    const ports = [...info.cluster.nodes, ...info.sentinel.sentinels].map((node) => node.port);
    await teardowns[0]?.();
    expect(await Promise.all(ports.map(canBind))).not.toContain(true); // still shared with the second user
    await teardowns[1]?.();
    expect(await Promise.all(ports.map(canBind))).not.toContain(false);
  });
});
