import type { Cluster, Redis } from 'ioredis';
import type { Arena } from '../arena.js';
import { newClient } from '../fixtures.js';
import { guarded, measureThroughput, type RunContext, rotate } from '../harness.js';
import { type BenchRecord, checkRecord, makeRecord } from '../record.js';
import { TTL_SECONDS } from '../subject.js';
import { type BentoStack, bentoStack } from '../subjects/bentocache.js';
import { type StrataStack, strataStack } from '../subjects/strata.js';
import { median, percentile, sleep, timeFor } from '../timing.js';

/** How long every loader of these workloads takes, in ms: a fast database query. */
const LOADER_MS = 20;

/** Two instances of a library with their own connections, as two processes would have. */
interface ReadThroughPair {
  readonly id: string;
  /** getOrSet through instance `which`, with a TTL in seconds and, for Strata, a refreshAhead. */
  getOrSet(which: 0 | 1, key: string, loader: () => Promise<BenchRecord>, ttl: number): Promise<unknown>;
  close(): Promise<void>;
}

function strataPair(
  stacks: readonly StrataStack[],
  refreshAhead: number | undefined,
  id: string,
): ReadThroughPair {
  return {
    id,
    getOrSet: (which, key, loader, ttl) =>
      stacks[which]!.cache.getOrSet(
        key,
        loader,
        refreshAhead === undefined ? { ttl } : { ttl, refreshAhead },
      ),
    close: async () => {},
  };
}

function bentoPair(stacks: readonly BentoStack[]): ReadThroughPair {
  return {
    id: 'bentocache',
    // Its closest to refresh ahead: a grace period, and a soft timeout of 0 (answer the stale value, reload behind).
    getOrSet: (which, key, loader, ttl) =>
      stacks[which]!.bento.getOrSet({ key, factory: loader, ttl: `${ttl}s`, grace: '1m', timeout: 0 }),
    close: async () => {},
  };
}

/** The median PING round trip of a fresh client, in ms. */
async function roundTrip(client: Redis | Cluster): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < 200; i++) {
    const started = performance.now();
    await client.ping();
    samples.push(performance.now() - started);
  }
  return median(samples);
}

/**
 * getOrSet: an L1 hit against Strata's own `get` and BentoCache's getOrSet; a cold stampede of many callers on one
 * key across two instances (loader runs, p99 against the loader plus three round trips); and a key read steadily
 * past its TTL (the longest any caller waited, against the loader's time).
 */
export async function runReadThrough(ctx: RunContext, arena: Arena, rep: number): Promise<void> {
  const { config } = ctx;
  const where = arena.where;
  const topology = arena.topology;
  const strata = await Promise.all([strataStack(where, 'brt'), strataStack(where, 'brt')]);
  const bento = [bentoStack(where, 'brtbento'), bentoStack(where, 'brtbento')];
  const probe = newClient(where);
  try {
    if (topology === 'standalone') await l1Hit(ctx, arena, rep, strata[0]!, bento[0]!);
    const pairs: ReadThroughPair[] = [strataPair(strata, undefined, 'strata'), bentoPair(bento)];
    // A stampede on a key no instance has read: every caller starts at once, half on each instance.
    const rtt = await roundTrip(probe);
    // The loader's own time as this machine's timers give it (a 20 ms sleep takes a little longer), measured here.
    const loaderMs: number[] = [];
    for (let i = 0; i < 5; i++) {
      const started = performance.now();
      await sleep(LOADER_MS);
      loaderMs.push(performance.now() - started);
    }
    ctx.results.add(topology, 'stampede-p99', 'raw', rep, median(loaderMs) + 3 * rtt);
    ctx.results.add(topology, 'stampede-loads', 'raw', rep, 1);
    for (const pair of rotate(pairs, rep)) {
      await guarded(ctx, site(topology, 'stampede-p99', pair.id, rep), async () => {
        const key = `cold:${rep}:${Math.random().toString(36).slice(2)}`;
        let runs = 0;
        const loader = async () => {
          runs++;
          await sleep(LOADER_MS);
          return makeRecord(7);
        };
        const started = performance.now();
        const latencies = await Promise.all(
          Array.from({ length: config.stampedeCallers }, async (_, i) => {
            checkRecord(await pair.getOrSet((i % 2) as 0 | 1, key, loader, TTL_SECONDS), 7, pair.id);
            return performance.now() - started;
          }),
        );
        ctx.results.add(topology, 'stampede-p99', pair.id, rep, percentile(latencies, 0.99));
        ctx.results.add(topology, 'stampede-loads', pair.id, rep, runs);
      });
    }
    if (topology === 'standalone') {
      const steady = [
        strataPair(strata, 0.5, 'strata'),
        strataPair(strata, undefined, 'strata-norefresh'),
        bentoPair(bento),
      ];
      ctx.results.add(topology, 'refresh-wait', 'raw', rep, LOADER_MS);
      for (const pair of rotate(steady, rep))
        await guarded(ctx, site(topology, 'refresh-wait', pair.id, rep), () => readSteadily(ctx, pair, rep));
    }
  } finally {
    probe.disconnect();
    await Promise.allSettled([...strata.map((s) => s.close()), ...bento.map((b) => b.close())]);
  }
}

function site(topology: Arena['topology'], workload: string, subject: string, rep: number) {
  return { topology, workload, subject, rep, masters: [] };
}

/** getOrSet of keys in L1, against `get` of the same keys through the same instance, and BentoCache's getOrSet. */
async function l1Hit(ctx: RunContext, arena: Arena, rep: number, strata: StrataStack, bento: BentoStack) {
  const count = ctx.config.l1Keys;
  const keys = Array.from({ length: count }, (_, i) => `hit:${i}`);
  const loaders = keys.map((_, i) => async () => makeRecord(i));
  const cache = strata.cache;
  const options = { ttl: TTL_SECONDS };
  const ttl = `${TTL_SECONDS}s`;
  for (let pass = 0; pass < 2; pass++) {
    for (const [i, key] of keys.entries()) {
      checkRecord(await cache.getOrSet(key, loaders[i]!, options), i, 'strata');
      checkRecord(await bento.bento.getOrSet({ key, factory: loaders[i]!, ttl }), i, 'bentocache');
    }
  }
  const readers = [
    { id: 'strata-get', read: (k: number) => cache.get(keys[k]!) },
    { id: 'strata', read: (k: number) => cache.getOrSet(keys[k]!, loaders[k]!, options) },
    {
      id: 'bentocache',
      read: (k: number) => bento.bento.getOrSet({ key: keys[k]!, factory: loaders[k]!, ttl }),
    },
  ];
  for (const reader of rotate(readers, rep)) {
    await measureThroughput(
      ctx,
      { ...site(arena.topology, 'getorset-l1', reader.id, rep), masters: [] },
      () =>
        timeFor(ctx.config.l1Ms, 256, async (i) => {
          const k = i % count;
          checkRecord(await reader.read(k), k, reader.id);
        }),
    );
  }
}

/**
 * Reads one key steadily through both instances (a call every millisecond each) for `refreshMs`, its TTL 1 s and
 * its loader 20 ms, and records the longest any caller waited.
 */
async function readSteadily(ctx: RunContext, pair: ReadThroughPair, rep: number): Promise<void> {
  const key = `steady:${pair.id}:${rep}:${Math.random().toString(36).slice(2)}`;
  const loader = async () => {
    await sleep(LOADER_MS);
    return makeRecord(3);
  };
  // The first load is the one every caller may wait on: it is not part of the figure.
  checkRecord(await pair.getOrSet(0, key, loader, 1), 3, pair.id);
  checkRecord(await pair.getOrSet(1, key, loader, 1), 3, pair.id);
  let longest = 0;
  const until = performance.now() + ctx.config.refreshMs;
  const reader = async (which: 0 | 1) => {
    while (performance.now() < until) {
      const started = performance.now();
      checkRecord(await pair.getOrSet(which, key, loader, 1), 3, pair.id);
      longest = Math.max(longest, performance.now() - started);
      await sleep(1);
    }
  };
  await Promise.all([reader(0), reader(1)]);
  ctx.results.add('standalone', 'refresh-wait', pair.id, rep, longest);
}
