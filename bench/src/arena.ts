import type { Redis } from 'ioredis';
import { type BenchConfig, readKeyCount } from './config.js';
import type { Fixtures } from './fixtures.js';
import type { RunContext } from './harness.js';
import { makeRecord } from './record.js';
import type { Topology } from './results.js';
import type { Contender, Where } from './subject.js';
import { bentoTiered } from './subjects/bentocache.js';
import { cacheManagerTiered } from './subjects/cache-manager.js';
import { cacheableTiered } from './subjects/cacheable.js';
import { rawRedis } from './subjects/raw.js';
import { type StrataStack, strataRedis, strataTiered } from './subjects/strata.js';
import { sleep } from './timing.js';

/** Every contender of one topology with the data the L2 workloads read and write. */
export interface Arena {
  readonly topology: Topology;
  readonly where: Where;
  readonly masters: Redis[];
  /** raw first, then Strata's two configurations, then the peers. */
  readonly contenders: Contender[];
  readonly strata: StrataStack;
  /** `r:<i>` holds record i in every contender's L2. */
  readonly readKeys: string[];
  /** `w:<i>` is written by the set workloads. */
  readonly writeKeys: string[];
  close(): Promise<void>;
}

/**
 * Builds every contender on `where` (each library in a namespace of its own) and stores the read records in each
 * one's L2, in its own format. `wrap` lets `--sabotage` swap in a lying Strata.
 */
export async function createArena(
  ctx: RunContext,
  fixtures: Fixtures,
  where: Where,
  wrap: (contender: Contender) => Contender = (contender) => contender,
): Promise<Arena> {
  const { config } = ctx;
  const tiered = await strataTiered(where, 'bstrata');
  const contenders: Contender[] = [
    rawRedis(where, 'braw'),
    wrap(tiered),
    strataRedis(where, 'bstrata'),
    bentoTiered(where, 'bbento'),
    cacheableTiered(where, 'bcable'),
    cacheManagerTiered(where, 'bcm'),
  ];
  const count = readKeyCount(config);
  const readKeys = Array.from({ length: count }, (_, i) => `r:${i}`);
  const readValues = readKeys.map((_, i) => makeRecord(i));
  const writeCount = Math.max(config.setSequentialOps, config.setConcurrentOps);
  const writeKeys = Array.from({ length: writeCount }, (_, i) => `w:${i}`);
  const started = performance.now();
  // Every client connects on a first call of its own, as it would at an application's start-up: some lose
  // concurrent calls made while connecting (see keyvPopulate).
  for (const contender of contenders) await contender.get('connect');
  for (const contender of contenders) {
    // Strata's two configurations share a namespace: the adapter's data is the tiered cache's L2.
    if (contender.id === 'strata-redis') continue;
    await contender.populate(readKeys, readValues);
  }
  // Peers' buses deliver the populating writes asynchronously; let them land before any L1 is trusted.
  await sleep(config.quick ? 100 : 500);
  for (const contender of contenders) await contender.resetL1();
  ctx.log(
    `  ${where.topology}: ${contenders.length} contenders, ${count} records each (${elapsed(started)})`,
  );
  return {
    topology: where.topology,
    where,
    masters: await fixtures.masters(where),
    contenders,
    strata: tiered.stack,
    readKeys,
    writeKeys,
    async close() {
      await Promise.allSettled(contenders.map((contender) => contender.close()));
    },
  };
}

/** Milliseconds since `start`, as text. */
export function elapsed(start: number): string {
  return `${Math.round(performance.now() - start)} ms`;
}

/** The read keys used by one getMany call `j`: `size` distinct keys, never shared with another call of a run. */
export function getManyBatches(config: BenchConfig, readKeys: readonly string[]): string[][] {
  return Array.from({ length: config.getManyOps }, (_, j) =>
    readKeys.slice(j * config.getManyKeys, (j + 1) * config.getManyKeys),
  );
}
