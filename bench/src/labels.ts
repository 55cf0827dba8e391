import type { WorkloadInfo } from './results.js';

/** Display names of the subjects, in column order. */
export const SUBJECTS: ReadonlyArray<{ id: string; label: string; color: string }> = [
  { id: 'raw-lru-parse', label: 'raw lru-cache.get + JSON.parse', color: '#9e9e9e' },
  { id: 'raw-lru-get', label: 'raw lru-cache.get alone', color: '#cfcfcf' },
  { id: 'raw', label: 'raw baseline', color: '#9e9e9e' },
  { id: 'strata-get', label: 'Strata TieredCache get', color: '#90caf9' },
  { id: 'strata', label: 'Strata TieredCache', color: '#1565c0' },
  { id: 'strata-untagged', label: 'Strata TieredCache, untagged keys', color: '#90caf9' },
  { id: 'strata-small', label: 'Strata TieredCache, tag on 1,000 keys', color: '#90caf9' },
  { id: 'strata-norefresh', label: 'Strata TieredCache, getOrSet without refreshAhead', color: '#5c6bc0' },
  { id: 'strata-frozen', label: 'Strata TieredCache, frozen (zero-copy) L1', color: '#0d47a1' },
  { id: 'strata-redis', label: 'Strata RedisCacheAdapter alone', color: '#64b5f6' },
  { id: 'strata-memory', label: 'Strata MemoryCacheAdapter alone', color: '#26a69a' },
  { id: 'bentocache', label: 'BentoCache 1.6.1', color: '#ef6c00' },
  { id: 'bentocache-small', label: 'BentoCache 1.6.1, tag on 1,000 keys', color: '#ffb74d' },
  { id: 'cacheable', label: 'cacheable 2.5.0', color: '#2e7d32' },
  { id: 'cache-manager', label: 'cache-manager 7.2.9', color: '#8e24aa' },
];

/** The display name of subject `id`. */
export function subjectLabel(id: string): string {
  return SUBJECTS.find((subject) => subject.id === id)?.label ?? id;
}

/** The bar colour of subject `id`. */
export function subjectColor(id: string): string {
  return SUBJECTS.find((subject) => subject.id === id)?.color ?? '#444444';
}

/** Sorts subject ids into column order. */
export function inColumnOrder(ids: readonly string[]): string[] {
  const rank = (id: string): number => {
    const index = SUBJECTS.findIndex((subject) => subject.id === id);
    return index === -1 ? SUBJECTS.length : index;
  };
  return [...ids].sort((a, b) => rank(a) - rank(b));
}

/** A workload's figure in the unit people read: µs per operation for throughput, else as measured. */
export function formatValue(info: WorkloadInfo, value: number): string {
  if (info.unit === 'ops/s') {
    const micros = 1e6 / value;
    return micros >= 1000 ? `${(micros / 1000).toFixed(2)} ms/op` : `${micros.toPrecision(3)} µs/op`;
  }
  if (info.unit === 'ms') return `${value.toPrecision(3)} ms`;
  if (info.unit === 'runs') return `${Math.round(value)} ${Math.round(value) === 1 ? 'run' : 'runs'}`;
  return `${Math.round(value)} B`;
}

/** A ratio as `0.91×`, with two significant digits below 0.1. */
export function formatRatio(ratio: number): string {
  return Number.isFinite(ratio) ? `${ratio < 0.1 ? ratio.toPrecision(2) : ratio.toFixed(2)}×` : '–';
}
