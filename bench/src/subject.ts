import type { BenchRecord } from './record.js';

/** Where a contender's L2 lives: the standalone server or the 3-master Cluster fixture. */
export type Where =
  | { readonly topology: 'standalone'; readonly url: string }
  | { readonly topology: 'cluster'; readonly nodes: ReadonlyArray<{ host: string; port: number }> };

/** Every stored entry lives this long (seconds): far longer than a run, so nothing expires mid-measure. */
export const TTL_SECONDS = 3_600;

/** The L1 capacity every library gets (Strata's default), so that no one evicts where another does not. */
export const L1_ENTRIES = 10_000;

/** The calls the workloads make, as each library spells them. */
export interface CacheOps {
  get(key: string): Promise<unknown>;
  /** Values in the order of `keys` (undefined for a miss); absent when the library has no batch read. */
  readonly getMany: ((keys: readonly string[]) => Promise<readonly unknown[]>) | undefined;
  set(key: string, value: BenchRecord): Promise<void>;
}

/**
 * One library (or one configuration of it) ready for the L1/L2 workloads: its instance, a way to store records
 * in its L2 without going through that instance's L1, and a way to empty its L1 alone between runs.
 */
export interface Contender extends CacheOps {
  /** Stable id used in the JSON output, for example `strata` or `bentocache`. */
  readonly id: string;
  /** Stores `values[i]` under `keys[i]` in L2, in the library's own format. */
  populate(keys: readonly string[], values: readonly BenchRecord[]): Promise<void>;
  /** Empties the L1 of the timed instance (not L2), so the next reads are L2 hits. */
  resetL1(): Promise<void>;
  /**
   * Puts these records in the timed instance's L1 for the L1-hit workload, for a library whose reads do not fill
   * its L1 from L2. Absent: reading each key fills it.
   */
  readonly warmL1?: (keys: readonly string[], values: readonly BenchRecord[]) => Promise<void>;
  close(): Promise<void>;
}

/** Two instances of one library with separate connections, for the invalidation-lag workload. */
export interface LagPair {
  readonly id: string;
  /** Writes `value` under `key` through instance A (bus notification included). */
  write(key: string, value: BenchRecord): Promise<void>;
  /** Reads `key` through instance B. */
  read(key: string): Promise<unknown>;
  /** True when B's L1 currently holds `key` (so that a read now would not reach L2). */
  inL1(key: string): Promise<boolean>;
  close(): Promise<void>;
}

/** An L1 alone, for the memory-per-entry workload. */
export interface L1Only {
  readonly id: string;
  set(key: string, value: BenchRecord): Promise<void>;
  get(key: string): Promise<unknown>;
  close(): Promise<void>;
}
