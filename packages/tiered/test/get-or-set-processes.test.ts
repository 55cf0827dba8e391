import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { uniqueNamespace } from '@strata-cache/core/testing';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, inject, it } from 'vitest';

/** getOrSet across separate Node processes sharing one Redis: single flight, and a lease holder that dies. */

const redis = inject('redis');
const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
});

interface Peer {
  readonly child: ChildProcess;
  /** Resolves with the first message of `event`. */
  next(event: string): Promise<{ at: number; [field: string]: unknown }>;
  go(): void;
}

function peer(namespace: string, callers: number, loadMs: number, leaseTtlMs: number, mode = 'load'): Peer {
  const script = fileURLToPath(new URL('./support/get-or-set-peer.ts', import.meta.url));
  const args = [redis.url, namespace, 'cold', String(callers), String(loadMs), String(leaseTtlMs), mode];
  const child = spawn(
    process.execPath,
    ['--conditions=@strata-cache/source', '--import', 'tsx', script, ...args],
    {
      stdio: ['pipe', 'pipe', 'inherit'],
    },
  );
  children.push(child);
  const messages: Array<{ event: string; at: number }> = [];
  const waiting = new Map<string, (message: { event: string; at: number }) => void>();
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const message = JSON.parse(line) as { event: string; at: number };
    messages.push(message);
    waiting.get(message.event)?.(message);
  });
  return {
    child,
    next: (event) =>
      new Promise((resolve) => {
        const seen = messages.find((m) => m.event === event);
        if (seen) resolve(seen);
        else waiting.set(event, resolve);
      }),
    go: () => child.stdin!.write('go\n'),
  };
}

describe('getOrSet across Node processes (one Redis, the Redis bus)', () => {
  it('4 processes × 250 concurrent callers on one missing key: the loader runs once', async () => {
    const namespace = uniqueNamespace('gos-procs');
    const peers = Array.from({ length: 4 }, () => peer(namespace, 250, 100, 5_000));
    await Promise.all(peers.map((p) => p.next('ready')));
    for (const p of peers) p.go();
    const done = await Promise.all(peers.map((p) => p.next('done')));
    const counter = new Redis(redis.url);
    const runs = Number(await counter.get(`${namespace}:loader-runs`));
    counter.disconnect();
    expect(runs).toBe(1);
    const values = new Set(done.flatMap((d) => d.values as string[]));
    expect(values.size).toBe(1);
    const latencies = done.flatMap((d) => d.latencies as number[]).sort((a, b) => a - b);
    const p99 = latencies[Math.floor(latencies.length * 0.99)]!;
    console.log(
      `[figures] 4 processes × 250 callers: loader runs ${runs}; latency p50 ${latencies[latencies.length >> 1]!.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${latencies.at(-1)!.toFixed(1)} ms (loader 100 ms)`,
    );
    expect(p99).toBeLessThan(100 + 400);
  }, 60_000);

  it('a lease holder killed with SIGKILL mid-load: another process loads within the lease TTL plus 100 ms', async () => {
    const namespace = uniqueNamespace('gos-kill');
    const leaseTtlMs = 1_000;
    const holder = peer(namespace, 1, 0, leaseTtlMs, 'hang');
    const waiter = peer(namespace, 50, 10, leaseTtlMs);
    await Promise.all([holder.next('ready'), waiter.next('ready')]);
    holder.go();
    // The holder took the lease just before its loader began.
    const taken = await holder.next('loading');
    waiter.go();
    await new Promise((resolve) => setTimeout(resolve, 100));
    holder.child.kill('SIGKILL');
    const loading = await waiter.next('loading');
    const done = await waiter.next('done');
    const delay = loading.at - taken.at;
    console.log(
      `[figures] lease holder killed: the next process began loading ${delay.toFixed(0)} ms after the lease was taken (lease TTL ${leaseTtlMs} ms)`,
    );
    expect(delay).toBeLessThanOrEqual(leaseTtlMs + 100);
    expect(delay).toBeGreaterThan(leaseTtlMs - 100);
    expect(done.values).toHaveLength(1);
    const counter = new Redis(redis.url);
    expect(Number(await counter.get(`${namespace}:loader-runs`))).toBe(2);
    counter.disconnect();
  }, 60_000);
});
