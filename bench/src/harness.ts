import type { Redis } from 'ioredis';
import { commandStats, perOperation } from './commandstats.js';
import type { BenchConfig } from './config.js';
import { WrongAnswerError } from './record.js';
import type { Results, Topology } from './results.js';
import { opsPerSecond, type Timed } from './timing.js';

/** What every workload runner is handed. */
export interface RunContext {
  readonly config: BenchConfig;
  readonly results: Results;
  readonly log: (line: string) => void;
}

/** Subjects whose failure is the harness's or Strata's: they fail the run. A peer's error is reported instead. */
const MUST_WORK: ReadonlySet<string> = new Set([
  'raw',
  'raw-lru-parse',
  'raw-lru-get',
  'strata',
  'strata-redis',
  'strata-memory',
  'strata-frozen',
]);

/** `list` rotated by `rep`, so that no library always runs first (or right after the same one) in a repetition. */
export function rotate<T>(list: readonly T[], rep: number): T[] {
  if (list.length === 0) return [];
  const shift = ((rep % list.length) + list.length) % list.length;
  return [...list.slice(shift), ...list.slice(0, shift)];
}

/** Where a timed run happens and whether its Redis commands are counted (first measured repetition only). */
export interface RunSite {
  readonly topology: Topology;
  readonly workload: string;
  readonly subject: string;
  readonly rep: number;
  /** The masters whose `INFO commandstats` is read around the run; none: not counted. */
  readonly masters: readonly Redis[];
}

/**
 * Runs one timed throughput run and records its operations per second (repetition -1 is a warm-up: not recorded).
 * A wrong answer always fails the run; any other error fails it for Strata and the baselines, and for a peer is
 * recorded as a note and its figure left out. Resolves false when a peer failed.
 */
export function measureThroughput(
  ctx: RunContext,
  site: RunSite,
  run: () => Promise<Timed>,
): Promise<boolean> {
  return guarded(ctx, site, async () => {
    const counting = site.rep === 0 && site.masters.length > 0;
    const before = counting ? await commandStats(site.masters) : undefined;
    const timed = await run();
    if (before !== undefined) {
      const after = await commandStats(site.masters);
      ctx.results.setCommands(
        site.topology,
        site.workload,
        site.subject,
        perOperation(before, after, timed.ops),
      );
    }
    if (site.rep >= 0)
      ctx.results.add(site.topology, site.workload, site.subject, site.rep, opsPerSecond(timed));
  });
}

/** Runs `work` under the error policy of {@link measureThroughput}; resolves false when a peer failed. */
export async function guarded(ctx: RunContext, site: RunSite, work: () => Promise<void>): Promise<boolean> {
  try {
    await work();
    return true;
  } catch (error) {
    if (error instanceof WrongAnswerError || MUST_WORK.has(site.subject)) throw error;
    const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    ctx.results.note(site.topology, site.workload, site.subject, `failed: ${message.slice(0, 160)}`);
    ctx.log(`  ${site.topology}/${site.workload}/${site.subject} failed: ${message}`);
    return false;
  }
}
