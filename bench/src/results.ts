import { median } from './timing.js';

export type Topology = 'standalone' | 'cluster';

/** What a workload measures, and how its figures compare. */
export interface WorkloadInfo {
  readonly id: string;
  readonly title: string;
  readonly unit: 'ops/s' | 'ms' | 'bytes/entry' | 'runs';
  /** Throughput: a ratio above 1 is faster than the baseline. Time, latency, bytes: below 1 is better. */
  readonly better: 'higher' | 'lower';
  /** The subject every ratio of this workload is taken against, in the same repetition. */
  readonly baseline: string;
  readonly baselineTitle: string;
  /** Strata's performance target for its `strata` subject, as a ratio to the baseline. */
  readonly target: number | undefined;
}

/** Every workload, in report order. */
export const WORKLOADS: readonly WorkloadInfo[] = [
  w('l1-hit', 'L1 hit', 'ops/s', 'higher', 'raw-lru-parse', 'awaited lru-cache.get + JSON.parse', 0.85),
  w('l2-seq', 'L2 hit, sequential', 'ops/s', 'higher', 'raw', 'ioredis GET + JSON.parse', 0.85),
  w('l2-64', 'L2 hit, 64 in flight', 'ops/s', 'higher', 'raw', 'ioredis GET + JSON.parse', 1.2),
  w('get-many', 'getMany of 100 keys from L2', 'ops/s', 'higher', 'raw', 'one MGET + JSON.parse', 0.7),
  w('set-seq', 'set, sequential', 'ops/s', 'higher', 'raw', 'SET EX', 0.75),
  w('set-64', 'set, 64 in flight', 'ops/s', 'higher', 'raw', 'SET EX', 1.0),
  w(
    'delete-pattern',
    "deletePattern, 1,000 of 100,000 keys (TieredCache's L1 full)",
    'ms',
    'lower',
    'raw',
    'SCAN + UNLINK',
    1.2,
  ),
  w(
    'lag-p50',
    'invalidation lag p50 (A.set → B reads it)',
    'ms',
    'lower',
    'raw',
    'lru-cache + ioredis + PUBLISH',
    1.2,
  ),
  w('lag-p99', 'invalidation lag p99', 'ms', 'lower', 'raw', 'lru-cache + ioredis + PUBLISH', 1.5),
  w('getorset-l1', 'getOrSet, L1 hit', 'ops/s', 'higher', 'strata-get', "Strata's own get, L1 hit", 0.9),
  w(
    'stampede-loads',
    'cold stampede: loader runs (1,000 callers, one key, 2 instances)',
    'runs',
    'lower',
    'raw',
    'one run',
    1,
  ),
  w(
    'stampede-p99',
    'cold stampede: p99 latency',
    'ms',
    'lower',
    'raw',
    "the loader's time (a 20 ms sleep, measured) + 3 PING round trips",
    1,
  ),
  w(
    'refresh-wait',
    'a key read steadily (TTL 1 s): the longest wait of a caller',
    'ms',
    'lower',
    'raw',
    "the loader's time (20 ms)",
    undefined,
  ),
  w(
    'tagged-l1',
    'L1 hit of a tagged key',
    'ops/s',
    'higher',
    'strata-untagged',
    'the same read of untagged keys',
    1 / 1.1,
  ),
  w(
    'tagged-l2',
    "L2 hit of a tagged key (its tags' versions known), sequential",
    'ops/s',
    'higher',
    'strata-untagged',
    'the same read of untagged keys',
    undefined,
  ),
  w(
    'invalidate-tags',
    'invalidateTags of a tag on 100,000 keys',
    'ms',
    'lower',
    'strata-small',
    'the same call for a tag on 1,000 keys',
    1.2,
  ),
  w('memory', 'L1 memory per entry', 'bytes/entry', 'lower', 'raw', 'lru-cache of JSON text', undefined),
  w(
    'memory-read',
    'L1 memory per entry, each read once',
    'bytes/entry',
    'lower',
    'raw',
    'lru-cache of JSON text',
    undefined,
  ),
];

function w(
  id: string,
  title: string,
  unit: WorkloadInfo['unit'],
  better: WorkloadInfo['better'],
  baseline: string,
  baselineTitle: string,
  target: number | undefined,
): WorkloadInfo {
  return { id, title, unit, better, baseline, baselineTitle, target };
}

/** The workload `id`. @throws {Error} for an unknown one. */
export function workload(id: string): WorkloadInfo {
  const found = WORKLOADS.find((candidate) => candidate.id === id);
  if (found === undefined) throw new Error(`unknown workload ${id}`);
  return found;
}

/** One figure of one subject in one repetition. */
export interface Measurement {
  readonly workload: string;
  readonly topology: Topology;
  readonly subject: string;
  readonly rep: number;
  readonly value: number;
}

/** The median figures of one subject in one workload. */
export interface Summary {
  readonly value: number;
  /** Median over repetitions of value ÷ the baseline's value in the same repetition. */
  readonly ratio: number;
  readonly reps: number;
}

const cell = (topology: Topology, workloadId: string, subject: string): string =>
  `${topology}/${workloadId}/${subject}`;

/** Collects every measurement, the commands per operation and notes of a run. */
export class Results {
  readonly measurements: Measurement[] = [];
  /** `topology/workload/subject` → Redis commands per operation. */
  readonly commands = new Map<string, Record<string, number>>();
  /** `topology/workload/subject` → why a figure is missing or what it means. */
  readonly notes = new Map<string, string>();

  add(topology: Topology, workloadId: string, subject: string, rep: number, value: number): void {
    if (!Number.isFinite(value))
      throw new Error(`${topology}/${workloadId}/${subject}: ${value} is not a figure`);
    this.measurements.push({ workload: workloadId, topology, subject, rep, value });
  }

  setCommands(topology: Topology, workloadId: string, subject: string, perOp: Record<string, number>): void {
    this.commands.set(cell(topology, workloadId, subject), perOp);
  }

  getCommands(topology: Topology, workloadId: string, subject: string): Record<string, number> | undefined {
    return this.commands.get(cell(topology, workloadId, subject));
  }

  note(topology: Topology, workloadId: string, subject: string, text: string): void {
    this.notes.set(cell(topology, workloadId, subject), text);
  }

  getNote(topology: Topology, workloadId: string, subject: string): string | undefined {
    return this.notes.get(cell(topology, workloadId, subject));
  }

  /** Subjects measured in `workloadId` on `topology`, in first-measured order. */
  subjects(topology: Topology, workloadId: string): string[] {
    const seen = new Set<string>();
    for (const m of this.measurements)
      if (m.topology === topology && m.workload === workloadId) seen.add(m.subject);
    return [...seen];
  }

  /** Median value and median same-repetition ratio of `subject` to `against` (the baseline by default). */
  summary(topology: Topology, workloadId: string, subject: string, against?: string): Summary | undefined {
    const base = against ?? workload(workloadId).baseline;
    const own = this.#byRep(topology, workloadId, subject);
    const reference = this.#byRep(topology, workloadId, base);
    if (own.size === 0) return undefined;
    const ratios: number[] = [];
    for (const [rep, value] of own) {
      const baseValue = reference.get(rep);
      if (baseValue !== undefined && baseValue > 0) ratios.push(value / baseValue);
    }
    return { value: median([...own.values()]), ratio: median(ratios), reps: own.size };
  }

  #byRep(topology: Topology, workloadId: string, subject: string): Map<number, number> {
    const byRep = new Map<number, number>();
    for (const m of this.measurements) {
      if (m.topology === topology && m.workload === workloadId && m.subject === subject)
        byRep.set(m.rep, m.value);
    }
    return byRep;
  }
}
