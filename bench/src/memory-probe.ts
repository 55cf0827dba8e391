/**
 * The child process of the L1-memory workload: `memory-probe.ts <library> <entries> <reps>` (run with
 * `--expose-gc`) stores `entries` records in that library's L1 alone, `reps` times, each time in a fresh instance,
 * and prints `{"bytes":[…]}`: the heap growth per entry after a full GC. A process of its own keeps every other
 * library's heap, timers and sockets out of the figure. Exits with 2 on a wrong answer.
 */
import { checkRecord, makeRecord, WrongAnswerError } from './record.js';
import type { L1Only } from './subject.js';
import { bentoL1 } from './subjects/bentocache.js';
import { cacheManagerL1 } from './subjects/cache-manager.js';
import { cacheableL1 } from './subjects/cacheable.js';
import { rawL1Memory } from './subjects/raw.js';
import { strataL1 } from './subjects/strata.js';

const FACTORIES: Readonly<Record<string, () => L1Only>> = {
  raw: rawL1Memory,
  strata: strataL1,
  bentocache: bentoL1,
  cacheable: cacheableL1,
  'cache-manager': cacheManagerL1,
};

/** Heap in use after full collections (needs `--expose-gc`). */
function heapAfterGc(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('memory-probe needs node --expose-gc');
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().heapUsed;
}

async function measure(factory: () => L1Only, entries: number): Promise<number> {
  const before = heapAfterGc();
  let l1: L1Only | undefined = factory();
  for (let i = 0; i < entries; i++) await l1.set(`m:${i}`, makeRecord(i));
  const bytes = (heapAfterGc() - before) / entries;
  for (const i of [0, entries >> 1, entries - 1]) checkRecord(await l1.get(`m:${i}`), i, `${l1.id} memory`);
  await l1.close();
  l1 = undefined;
  return bytes;
}

async function main(): Promise<void> {
  const [library = '', entries = '0', reps = '1'] = process.argv.slice(2);
  const factory = FACTORIES[library];
  if (factory === undefined) throw new Error(`unknown library ${library}`);
  // One unmeasured fill first: lazily created module state (hash tables, compiled code) is not an entry's cost.
  await measure(factory, Number(entries));
  const bytes: number[] = [];
  for (let rep = 0; rep < Number(reps); rep++) bytes.push(await measure(factory, Number(entries)));
  process.stdout.write(`${JSON.stringify({ bytes })}\n`);
}

main().then(
  // A library's timers must not keep the probe alive.
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}\n`);
    process.exit(error instanceof WrongAnswerError ? 2 : 1);
  },
);
