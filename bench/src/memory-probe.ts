/**
 * The child process of the L1-memory workload: `memory-probe.ts <library> <entries> <reps>` (run with
 * `--expose-gc`) stores `entries` records in that library's L1 alone, `reps` times, each time in a fresh instance,
 * and prints `{"bytes":[…],"afterRead":[…]}`: the heap growth per entry after a full GC, once the records are stored
 * and again once each has been read once (an L1 may keep more for an entry it has served). A process of its own
 * keeps every other library's heap, timers and sockets out of the figure. Exits with 2 on a wrong answer.
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

async function measure(factory: () => L1Only, entries: number): Promise<[stored: number, afterRead: number]> {
  const before = heapAfterGc();
  let l1: L1Only | undefined = factory();
  for (let i = 0; i < entries; i++) await l1.set(`m:${i}`, makeRecord(i));
  const bytes = (heapAfterGc() - before) / entries;
  for (let i = 0; i < entries; i++) checkRecord(await l1.get(`m:${i}`), i, `${l1.id} memory`);
  const afterRead = (heapAfterGc() - before) / entries;
  await l1.close();
  l1 = undefined;
  return [bytes, afterRead];
}

async function main(): Promise<void> {
  const [library = '', entries = '0', reps = '1'] = process.argv.slice(2);
  const factory = FACTORIES[library];
  if (factory === undefined) throw new Error(`unknown library ${library}`);
  // One unmeasured fill first: lazily created module state (hash tables, compiled code) is not an entry's cost.
  await measure(factory, Number(entries));
  const bytes: number[] = [];
  const afterRead: number[] = [];
  for (let rep = 0; rep < Number(reps); rep++) {
    const [stored, read] = await measure(factory, Number(entries));
    bytes.push(stored);
    afterRead.push(read);
  }
  process.stdout.write(`${JSON.stringify({ bytes, afterRead })}\n`);
}

main().then(
  // A library's timers must not keep the probe alive.
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}\n`);
    process.exit(error instanceof WrongAnswerError ? 2 : 1);
  },
);
