/** The `p` quantile (0..1) of `values` (nearest rank); NaN for none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(sorted.length * p) - 1))]!;
}

/** Milliseconds with one decimal. */
export function ms(value: number): string {
  return Number.isFinite(value) ? `${value.toFixed(1)} ms` : String(value);
}

/** p50/p99/max of a latency sample, for a report line. */
export function latencySummary(values: readonly number[]): string {
  if (values.length === 0) return 'n=0';
  return `n=${values.length} p50=${ms(percentile(values, 0.5))} p99=${ms(percentile(values, 0.99))} max=${ms(Math.max(...values))}`;
}

/** Prints a block of figures under a title, so that the test output reads as a report. */
export function printFigures(title: string, lines: readonly string[]): void {
  console.log(`\n[figures] ${title}\n${lines.map((line) => `  - ${line}`).join('\n')}`);
}

/** Resolves after `delayMs`. */
export function sleep(delayMs: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, delayMs));
}

/** Polls `check` every `everyMs` until it holds; throws `what` after `withinMs`. Resolves to the time it took. */
export async function eventually(
  what: string,
  check: () => Promise<boolean> | boolean,
  withinMs: number,
  everyMs = 20,
): Promise<number> {
  const started = performance.now();
  for (;;) {
    let ok = false;
    try {
      ok = await check();
    } catch {
      ok = false;
    }
    if (ok) return performance.now() - started;
    if (performance.now() - started > withinMs) throw new Error(`not within ${withinMs} ms: ${what}`);
    await sleep(everyMs);
  }
}

/** A small seeded PRNG (mulberry32), so that a load's choices can be replayed from its printed seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
