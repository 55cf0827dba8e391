import { guarded, type RunContext, rotate } from '../harness.js';
import { type BenchRecord, checkRecord, makeRecord } from '../record.js';
import type { LagPair } from '../subject.js';
import { bentoLagPair } from '../subjects/bentocache.js';
import { cacheableLagPair } from '../subjects/cacheable.js';
import { rawLagPair } from '../subjects/raw.js';
import { strataLagPair } from '../subjects/strata.js';
import { percentile, pollUntil, sleep } from '../timing.js';

const KEY = 'lag';
const TIMEOUT_MS = 2_000;

/** The pairs of the lag workload: the hand-written floor, Strata and the peers that have a bus. */
export async function createLagPairs(url: string): Promise<LagPair[]> {
  return [
    await rawLagPair(url, 'lraw'),
    await strataLagPair(url, 'lstrata'),
    bentoLagPair(url, 'lbento'),
    cacheableLagPair(url, 'lcable'),
  ];
}

/** Each pair's version counter: every sample writes a record id that pair never wrote before. */
const versions = new Map<string, number>();

/**
 * Makes B hold the current version in its L1, so that the next sample measures an invalidation, not a plain L2
 * read (B would see A's write in L2 without any message). The first call also waits for the buses to be live.
 */
async function settle(pair: LagPair, version: number): Promise<void> {
  const deadline = performance.now() + TIMEOUT_MS;
  for (;;) {
    const value = (await pair.read(KEY)) as BenchRecord | undefined;
    if (value?.id === version && (await pair.inL1(KEY))) return;
    if (performance.now() > deadline)
      throw new Error(`${pair.id}: B did not hold version ${version} in L1 within ${TIMEOUT_MS} ms`);
    await sleep(1);
  }
}

/**
 * One sample: A writes version `next`; B polls (yielding to the event loop between reads) until it reads it.
 * Everything B reads meanwhile must be the previous version or the new one.
 */
async function sample(pair: LagPair, previous: number, next: number): Promise<number> {
  const value = makeRecord(next);
  const start = performance.now();
  const writing = pair.write(KEY, value);
  const lag = await pollUntil(start, TIMEOUT_MS, async () => {
    const read = (await pair.read(KEY)) as BenchRecord | undefined;
    if (read?.id === next) return true;
    if (read?.id !== previous) checkRecord(read, previous, `${pair.id} B while waiting`);
    return false;
  });
  await writing;
  return lag;
}

/**
 * One repetition of the invalidation-lag workload. Samples are taken round-robin across the pairs (one each in
 * turn), so a noisy moment on the machine hits every pair alike; p50 and p99 per pair are recorded.
 */
export async function runLag(ctx: RunContext, pairs: readonly LagPair[], rep: number): Promise<void> {
  const lags = new Map<string, number[]>(pairs.map((pair) => [pair.id, []]));
  const live = new Set(pairs);
  for (const pair of pairs) {
    if (!versions.has(pair.id)) {
      versions.set(pair.id, 1);
      await pair.write(KEY, makeRecord(1));
    }
  }
  for (let s = 0; s < ctx.config.lagSamples; s++) {
    for (const pair of rotate(pairs, s + rep)) {
      if (!live.has(pair)) continue;
      const site = {
        topology: 'standalone',
        workload: 'lag-p50',
        subject: pair.id,
        rep,
        masters: [],
      } as const;
      const ok = await guarded(ctx, site, async () => {
        const previous = versions.get(pair.id)!;
        await settle(pair, previous);
        // A pause between samples keeps one sample's tail (bus acks, fills) out of the next.
        await sleep(1);
        const next = previous + 1;
        versions.set(pair.id, next);
        lags.get(pair.id)!.push(await sample(pair, previous, next));
      });
      if (!ok) live.delete(pair);
    }
  }
  if (rep < 0) return;
  for (const [id, samples] of lags) {
    if (samples.length < ctx.config.lagSamples) continue;
    ctx.results.add('standalone', 'lag-p50', id, rep, percentile(samples, 0.5));
    ctx.results.add('standalone', 'lag-p99', id, rep, percentile(samples, 0.99));
  }
}
