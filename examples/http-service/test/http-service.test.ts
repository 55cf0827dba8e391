import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { type RedisServerHandle, startRedisServer } from '@strata-cache/redis-testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProductStore } from '../src/product-store.js';

const SERVER = fileURLToPath(new URL('../src/server.ts', import.meta.url));
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;

interface Service {
  readonly name: string;
  readonly url: string;
  readonly child: ChildProcess;
}

/** Starts one copy of the service in a process of its own, on a free loopback port; resolves with its URL. */
function startService(name: string, env: Record<string, string>): Promise<Service> {
  const child = spawn(process.execPath, ['--conditions=@strata-cache/source', '--import', 'tsx', SERVER], {
    env: { ...process.env, ...env, PORT: '0', HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name} did not start within ${START_TIMEOUT_MS} ms: ${stderr}`));
    }, START_TIMEOUT_MS);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code} before listening: ${stderr}`));
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const match = /^listening on (http:\/\/\S+)$/.exec(line);
      if (match?.[1] === undefined) return;
      clearTimeout(timer);
      resolve({ name, url: match[1], child });
    });
  });
}

async function stopService(service: Service): Promise<void> {
  const { child } = service;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

interface Stats {
  readonly hits: readonly number[];
  readonly misses: number;
  readonly invalidationsReceived: number;
  readonly storeReads: number;
}

async function stats(service: Service): Promise<Stats> {
  return (await (await fetch(`${service.url}/cache/stats`)).json()) as Stats;
}

/**
 * Waits until `service` has received more than `count` invalidations. The guarantee holds once a write's
 * invalidation has arrived (well under a millisecond on loopback); a lost one would time out here.
 */
async function invalidationArrived(service: Service, count: number): Promise<void> {
  const deadline = Date.now() + 5_000;
  while ((await stats(service)).invalidationsReceived <= count) {
    if (Date.now() > deadline) throw new Error(`${service.name} received no invalidation within 5 s`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

async function getProduct(
  service: Service,
  id: string,
): Promise<{ status: number; cache: string | null; body: unknown }> {
  const response = await fetch(`${service.url}/products/${id}`);
  const body: unknown = response.status === 200 ? await response.json() : undefined;
  return { status: response.status, cache: response.headers.get('x-cache'), body };
}

let redis: RedisServerHandle;
let dataDir: string;
const services: Service[] = [];
let a: Service;
let b: Service;

beforeAll(async () => {
  // Its own redis-server: the service writes under a namespace of its own, but a test never shares a Redis.
  redis = await startRedisServer();
  dataDir = await mkdtemp(join(tmpdir(), 'strata-http-service-'));
  await new ProductStore(dataDir).write({ id: 'p1', name: 'Teapot', price: 1800, updatedAt: new Date(0) });
  const env = { REDIS_URL: redis.url, DATA_DIR: dataDir, CACHE_NAMESPACE: 'shop' };
  const started = await Promise.allSettled([startService('A', env), startService('B', env)]);
  for (const s of started) if (s.status === 'fulfilled') services.push(s.value);
  for (const s of started) if (s.status === 'rejected') throw s.reason;
  [a, b] = services as [Service, Service];
});

afterAll(async () => {
  await Promise.all(services.map(stopService));
  await redis?.stop();
  if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
});

describe('examples/http-service: two copies of a Fastify service sharing Redis', () => {
  it('listen on distinct loopback ports, in separate processes', () => {
    expect(a.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(b.url).not.toBe(a.url);
    expect(a.child.pid).not.toBe(b.child.pid);
  });

  it('read-through: the first read goes to the store, later ones (in either copy) to the cache', async () => {
    const first = await getProduct(a, 'p1');
    expect(first).toMatchObject({ status: 200, cache: 'miss', body: { name: 'Teapot', price: 1800 } });
    const viaB = await getProduct(b, 'p1');
    expect(viaB).toMatchObject({ status: 200, cache: 'hit', body: { name: 'Teapot', price: 1800 } });
    expect((await stats(b)).hits).toEqual([0, 1]); // B found it in Redis (L2), and filled its own L1
    const again = await getProduct(b, 'p1');
    expect(again.cache).toBe('hit');
    expect((await stats(b)).hits).toEqual([1, 1]); // …so the next read was served from B's memory
    expect((await stats(a)).storeReads + (await stats(b)).storeReads).toBe(1);
  });

  it('a write through one copy is read fresh through the other, whose L1 held the old value', async () => {
    const before = await stats(b);
    const put = await fetch(`${a.url}/products/p1`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Teapot', price: 2400 }),
    });
    expect(put.status).toBe(200);
    await invalidationArrived(b, before.invalidationsReceived);
    const fresh = await getProduct(b, 'p1');
    expect(fresh).toMatchObject({ status: 200, body: { name: 'Teapot', price: 2400 } });
    const after = await stats(b);
    expect(after.hits[0]).toBe(before.hits[0]); // not from B's (invalidated) L1
    expect(after.storeReads).toBe(before.storeReads + 1);
  });

  it('a delete through one copy is a 404 through the other', async () => {
    expect((await getProduct(a, 'p1')).status).toBe(200); // in A's L1 now
    const before = await stats(a);
    expect((await fetch(`${b.url}/products/p1`, { method: 'DELETE' })).status).toBe(204);
    await invalidationArrived(a, before.invalidationsReceived);
    expect((await getProduct(a, 'p1')).status).toBe(404);
  });

  it('60 concurrent first reads through both copies reach the store once', async () => {
    await new ProductStore(dataDir).write({ id: 'p3', name: 'Kettle', price: 3200, updatedAt: new Date(0) });
    const before = (await stats(a)).storeReads + (await stats(b)).storeReads;
    const reads = await Promise.all(
      Array.from({ length: 60 }, (_, i) => getProduct(i % 2 === 0 ? a : b, 'p3')),
    );
    for (const read of reads) expect(read).toMatchObject({ status: 200, body: { name: 'Kettle' } });
    expect((await stats(a)).storeReads + (await stats(b)).storeReads).toBe(before + 1);
  });

  it('a product that does not exist is looked up once, then its absence is cached', async () => {
    const before = (await stats(a)).storeReads;
    expect((await getProduct(a, 'nope')).status).toBe(404);
    expect((await getProduct(a, 'nope')).status).toBe(404);
    expect((await stats(a)).storeReads).toBe(before + 1);
  });

  it('tags: a write through one copy invalidates the product and the catalog listing it, in the other copy', async () => {
    await new ProductStore(dataDir).write({ id: 'p4', name: 'Cup', price: 500, updatedAt: new Date(0) });
    const catalog = async (service: Service) => {
      const response = await fetch(`${service.url}/products`);
      return {
        cache: response.headers.get('x-cache'),
        body: (await response.json()) as Array<{ id: string; price: number }>,
      };
    };
    expect((await catalog(a)).body.find((p) => p.id === 'p4')?.price).toBe(500);
    expect((await catalog(b)).cache).toBe('hit');
    expect((await getProduct(b, 'p4')).body).toMatchObject({ price: 500 });
    const before = await stats(b);
    const put = await fetch(`${a.url}/products/p4`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Cup', price: 650 }),
    });
    expect(put.status).toBe(200);
    await invalidationArrived(b, before.invalidationsReceived);
    // One invalidateTags call reached both: the product's entry and the listing, though neither was deleted by key.
    expect((await catalog(b)).body.find((p) => p.id === 'p4')?.price).toBe(650);
    expect((await getProduct(b, 'p4')).body).toMatchObject({ price: 650 });
  });

  it('rejects a bad id or body before touching the cache', async () => {
    expect((await fetch(`${a.url}/products/${encodeURIComponent('a b')}`)).status).toBe(400);
    const bad = await fetch(`${a.url}/products/p2`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'x', price: -1 }),
    });
    expect(bad.status).toBe(400);
  });
});
