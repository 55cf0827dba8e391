import type { Results, Topology } from './results.js';

/** One of Strata's performance targets, evaluated on a run. */
export interface TargetCheck {
  readonly topology: Topology;
  readonly what: string;
  /** Strata's ratio (median of same-repetition ratios), or undefined when not measurable. */
  readonly ratio: number | undefined;
  /** The target as text, for example `≥ 0.85×`. */
  readonly target: string;
  readonly met: boolean | undefined;
  /** BentoCache's ratio on the same footing, when measured. */
  readonly bentocache: number | undefined;
}

interface Spec {
  readonly workload: string;
  readonly what: string;
  readonly subject: string;
  readonly against?: string;
  readonly op: '≥' | '≤';
  readonly target: number;
  readonly topologies: readonly Topology[];
}

const BOTH: readonly Topology[] = ['standalone', 'cluster'];

const SPECS: readonly Spec[] = [
  {
    workload: 'l1-hit',
    what: 'L1 hit vs awaited lru-cache.get + JSON.parse',
    subject: 'strata',
    op: '≥',
    target: 0.85,
    topologies: ['standalone'],
  },
  {
    workload: 'l1-hit',
    what: 'L1 hit vs BentoCache L1 hit',
    subject: 'strata',
    against: 'bentocache',
    op: '≥',
    target: 3,
    topologies: ['standalone'],
  },
  {
    workload: 'l1-hit',
    what: 'L1 hit, zero-copy mode (`frozen: true`), vs awaited lru-cache.get alone',
    subject: 'strata-frozen',
    against: 'raw-lru-get',
    op: '≥',
    target: 0.5,
    topologies: ['standalone'],
  },
  {
    workload: 'l2-seq',
    what: 'L2 hit, sequential, vs GET + JSON.parse',
    subject: 'strata',
    op: '≥',
    target: 0.85,
    topologies: BOTH,
  },
  {
    workload: 'l2-64',
    what: 'L2 hit, 64 in flight',
    subject: 'strata',
    op: '≥',
    target: 1.2,
    topologies: BOTH,
  },
  {
    workload: 'get-many',
    what: 'getMany of 100 vs one MGET + JSON.parse',
    subject: 'strata',
    op: '≥',
    target: 0.7,
    topologies: BOTH,
  },
  {
    workload: 'set-seq',
    what: 'set, sequential, vs SET EX (bus included)',
    subject: 'strata',
    op: '≥',
    target: 0.75,
    topologies: BOTH,
  },
  {
    workload: 'set-64',
    what: 'set, 64 in flight (bus included)',
    subject: 'strata',
    op: '≥',
    target: 1.0,
    topologies: BOTH,
  },
  {
    workload: 'delete-pattern',
    what: 'deletePattern time vs SCAN + UNLINK',
    subject: 'strata',
    op: '≤',
    target: 1.2,
    topologies: BOTH,
  },
  {
    workload: 'lag-p50',
    what: 'invalidation lag p50 vs hand-written floor',
    subject: 'strata',
    op: '≤',
    target: 1.2,
    topologies: ['standalone'],
  },
  {
    workload: 'lag-p99',
    what: 'invalidation lag p99 vs hand-written floor',
    subject: 'strata',
    op: '≤',
    target: 1.5,
    topologies: ['standalone'],
  },
  {
    workload: 'getorset-l1',
    what: 'getOrSet L1 hit vs our own get',
    subject: 'strata',
    op: '≥',
    target: 0.9,
    topologies: ['standalone'],
  },
  {
    workload: 'getorset-l1',
    what: 'getOrSet L1 hit vs BentoCache getOrSet',
    subject: 'strata',
    against: 'bentocache',
    op: '≥',
    target: 5,
    topologies: ['standalone'],
  },
  {
    workload: 'stampede-loads',
    what: 'cold stampede (1,000 callers, 2 instances): loader runs',
    subject: 'strata',
    op: '≤',
    target: 1,
    topologies: BOTH,
  },
  {
    workload: 'stampede-p99',
    what: 'cold stampede p99 vs loader + 3 round trips',
    subject: 'strata',
    op: '≤',
    target: 1,
    topologies: BOTH,
  },
  {
    workload: 'tagged-l1',
    what: 'tagged L1 hit vs untagged (cost ≤ 1.1×)',
    subject: 'strata',
    op: '≥',
    target: 1 / 1.1,
    topologies: ['standalone'],
  },
  {
    workload: 'invalidate-tags',
    what: 'invalidateTags, 100,000 tagged keys vs 1,000',
    subject: 'strata',
    op: '≤',
    target: 1.2,
    topologies: ['standalone'],
  },
  {
    workload: 'refresh-wait',
    what: 'refreshAhead: longest wait of a caller vs the loader time',
    subject: 'strata',
    op: '≤',
    target: 0.5,
    topologies: ['standalone'],
  },
];

/** Every performance target that this run measured, with Strata's figure and BentoCache's beside it. */
export function checkTargets(results: Results): TargetCheck[] {
  const checks: TargetCheck[] = [];
  for (const spec of SPECS) {
    for (const topology of spec.topologies) {
      if (results.subjects(topology, spec.workload).length === 0) continue;
      const ratio = results.summary(topology, spec.workload, spec.subject, spec.against)?.ratio;
      const peer =
        spec.against === undefined
          ? results.summary(topology, spec.workload, 'bentocache')?.ratio
          : undefined;
      const known = ratio !== undefined && Number.isFinite(ratio);
      checks.push({
        topology,
        what: spec.what,
        ratio: known ? ratio : undefined,
        target: `${spec.op} ${spec.target}×`,
        met: known ? (spec.op === '≥' ? ratio >= spec.target : ratio <= spec.target) : undefined,
        bentocache: peer !== undefined && Number.isFinite(peer) ? peer : undefined,
      });
    }
  }
  return checks;
}
