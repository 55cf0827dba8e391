/** How much work a run does. `--quick` checks the harness (every answer, every library) in a few seconds. */
export interface BenchConfig {
  readonly quick: boolean;
  /** Measured repetitions; each runs every workload for every library, interleaved. */
  readonly reps: number;
  /** An unmeasured repetition first, so that every code path is compiled before timing. */
  readonly warmup: boolean;
  /** Minimum duration of one L1-hit run, in ms. */
  readonly l1Ms: number;
  /** Distinct keys read in the L1-hit runs. */
  readonly l1Keys: number;
  /** Reads of one sequential L2-hit run (each of a distinct key). */
  readonly l2SequentialOps: number;
  /** Reads of one 64-in-flight L2-hit run. */
  readonly l2ConcurrentOps: number;
  /** Operations in flight in the concurrent runs. */
  readonly inFlight: number;
  /** Calls of one getMany run (each of 100 distinct keys). */
  readonly getManyOps: number;
  /** Keys per getMany call. */
  readonly getManyKeys: number;
  /** Writes of one sequential set run, and of one concurrent set run. */
  readonly setSequentialOps: number;
  readonly setConcurrentOps: number;
  /** Keys in the database during deletePattern, and how many of them match. */
  readonly patternTotalKeys: number;
  readonly patternMatchingKeys: number;
  /** Invalidation-lag samples per library per repetition. */
  readonly lagSamples: number;
  /** Entries stored for the memory-per-entry figure. */
  readonly memoryEntries: number;
  /** Callers of the cold stampede, split over two instances. */
  readonly stampedeCallers: number;
  /** How long a key is read steadily in the refresh-ahead run, in ms. */
  readonly refreshMs: number;
  /** Keys carrying the tag of the small and of the large `invalidateTags` run. */
  readonly tagSmallKeys: number;
  readonly tagLargeKeys: number;
  /** Run the Cluster phase. */
  readonly cluster: boolean;
}

const FULL: BenchConfig = {
  quick: false,
  // This kind of machine swings ±20% between repetitions of unchanged code: more of them, and longer L1 runs (an
  // L1 hit takes microseconds, so a short run is one burst of host noise), steady the medians.
  reps: 7,
  warmup: true,
  l1Ms: 1_000,
  l1Keys: 1_000,
  l2SequentialOps: 2_000,
  l2ConcurrentOps: 10_000,
  inFlight: 64,
  getManyOps: 100,
  getManyKeys: 100,
  setSequentialOps: 2_000,
  setConcurrentOps: 10_000,
  patternTotalKeys: 100_000,
  patternMatchingKeys: 1_000,
  lagSamples: 300,
  memoryEntries: 10_000,
  stampedeCallers: 1_000,
  refreshMs: 2_500,
  tagSmallKeys: 1_000,
  tagLargeKeys: 100_000,
  cluster: true,
};

const QUICK: BenchConfig = {
  quick: true,
  reps: 1,
  warmup: false,
  l1Ms: 10,
  l1Keys: 50,
  l2SequentialOps: 50,
  l2ConcurrentOps: 200,
  inFlight: 64,
  getManyOps: 3,
  getManyKeys: 100,
  setSequentialOps: 50,
  setConcurrentOps: 200,
  patternTotalKeys: 2_000,
  patternMatchingKeys: 100,
  lagSamples: 5,
  memoryEntries: 200,
  stampedeCallers: 100,
  refreshMs: 300,
  tagSmallKeys: 20,
  tagLargeKeys: 200,
  cluster: true,
};

/** Keys each library must hold in L2 for the read workloads. */
export function readKeyCount(config: BenchConfig): number {
  return Math.max(
    config.l1Keys,
    config.l2SequentialOps,
    config.l2ConcurrentOps,
    config.getManyOps * config.getManyKeys,
  );
}

/**
 * The configuration for command-line `args`: `--quick`, `--reps=N`, `--no-cluster`.
 * @throws {RangeError} for an unknown argument or a bad count.
 */
export function parseArgs(
  args: readonly string[],
): BenchConfig & { sabotage: boolean; outDir: string | undefined } {
  let config: BenchConfig = args.includes('--quick') ? QUICK : FULL;
  let sabotage = false;
  let outDir: string | undefined;
  for (const arg of args) {
    if (arg === '--quick') continue;
    else if (arg === '--no-cluster') config = { ...config, cluster: false };
    // Proves the checks bite: Strata's L1 hit answers one wrong record, and the run must fail.
    else if (arg === '--sabotage') sabotage = true;
    else if (arg.startsWith('--reps=')) {
      const reps = Number(arg.slice('--reps='.length));
      if (!Number.isSafeInteger(reps) || reps < 1) throw new RangeError(`bad ${arg}`);
      config = { ...config, reps };
    } else if (arg.startsWith('--out=')) outDir = arg.slice('--out='.length);
    else throw new RangeError(`unknown argument ${arg} (known: --quick --reps=N --no-cluster --out=DIR)`);
  }
  return { ...config, sabotage, outDir };
}
