import { setImmediate as yieldToLoop } from 'node:timers/promises';

/** One timed run: how many operations completed in how many milliseconds. */
export interface Timed {
  readonly ops: number;
  readonly ms: number;
}

/** Operations per second of a {@link Timed} run. */
export function opsPerSecond(run: Timed): number {
  return (run.ops * 1000) / run.ms;
}

/**
 * Runs `op(0)`, `op(1)`, … one after another, awaiting each, until at least `minMs` have passed; the clock is
 * read once per `batch` operations so that reading it costs nothing measurable against sub-microsecond ops.
 * `op(i)` is expected to check its own answer.
 */
export async function timeFor(
  minMs: number,
  batch: number,
  op: (i: number) => Promise<void>,
): Promise<Timed> {
  let i = 0;
  const start = performance.now();
  let now = start;
  while (now - start < minMs) {
    const end = i + batch;
    for (; i < end; i++) await op(i);
    now = performance.now();
  }
  return { ops: i, ms: now - start };
}

/** Runs `op(0)` … `op(count - 1)` one after another, awaiting each. */
export async function timeSequential(count: number, op: (i: number) => Promise<void>): Promise<Timed> {
  const start = performance.now();
  for (let i = 0; i < count; i++) await op(i);
  return { ops: count, ms: performance.now() - start };
}

/**
 * Runs `op(0)` … `op(count - 1)` with `inFlight` of them pending at any time: `inFlight` workers each start the
 * next index as soon as their previous operation settled, as a server handling that many requests would.
 */
export async function timeConcurrent(
  count: number,
  inFlight: number,
  op: (i: number) => Promise<void>,
): Promise<Timed> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) await op(next++);
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: Math.min(inFlight, count) }, worker));
  return { ops: count, ms: performance.now() - start };
}

/** Times one call of `work`, in milliseconds. */
export async function timeOnce<T>(work: () => Promise<T>): Promise<{ ms: number; result: T }> {
  const start = performance.now();
  const result = await work();
  return { ms: performance.now() - start, result };
}

/**
 * Polls `read` (yielding to the event loop between polls, so that socket events are handled) until it returns
 * true, and returns the milliseconds since `since`.
 * @throws {Error} after `timeoutMs` without success.
 */
export async function pollUntil(
  since: number,
  timeoutMs: number,
  read: () => Promise<boolean>,
): Promise<number> {
  for (;;) {
    if (await read()) return performance.now() - since;
    if (performance.now() - since > timeoutMs) throw new Error(`not observed within ${timeoutMs} ms`);
    await yieldToLoop();
  }
}

/** The `p`-quantile (0…1) of `values` by the nearest-rank method; NaN for none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(sorted.length * p) - 1))]!;
}

/** The median of `values` (mean of the middle two for an even count); NaN for none. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
