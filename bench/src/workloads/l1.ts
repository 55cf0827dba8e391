import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { MemoryCacheAdapter } from '@strata-cache/memory';
import type { Arena } from '../arena.js';
import { guarded, measureThroughput, type RunContext, rotate } from '../harness.js';
import { checkRecord, makeRecord, WrongAnswerError } from '../record.js';
import { L1_ENTRIES, TTL_SECONDS } from '../subject.js';
import { rawL1Parse, rawL1Shared } from '../subjects/raw.js';
import { strataStack } from '../subjects/strata.js';
import { timeFor } from '../timing.js';

interface L1Reader {
  readonly id: string;
  get(key: string): Promise<unknown>;
}

/**
 * One repetition of the L1-hit workload: the raw pairs, Strata's `TieredCache` and its `MemoryCacheAdapter`
 * alone, and each peer, all reading the same keys already held in their L1. Every contender's L1 is warmed by
 * reading each key twice (the first read is an L2 hit that fills it; cache-manager's reads never fill it, so its L1
 * is filled as its `set` would); the commands counted during the timed run confirm that no read reached Redis.
 */
export async function runL1Hit(ctx: RunContext, arena: Arena, rep: number): Promise<void> {
  const { config } = ctx;
  const keys = arena.readKeys.slice(0, config.l1Keys);
  const values = keys.map((_, i) => makeRecord(i));
  const parse = rawL1Parse();
  const shared = rawL1Shared();
  parse.fill(keys, values);
  shared.fill(keys, values);
  const memory = new MemoryCacheAdapter({ maxEntries: L1_ENTRIES });
  for (const [i, key] of keys.entries()) await memory.set(key, values[i], TTL_SECONDS);
  // The opt-in zero-copy mode: TieredCache over a memory L1 that hands out shared deep-frozen values.
  const frozen = await strataStack(arena.where, 'bstrata', true);
  const readers: L1Reader[] = [
    parse,
    shared,
    { id: 'strata-memory', get: (key) => memory.get(key) },
    { id: 'strata-frozen', get: (key) => frozen.cache.get(key) },
    ...arena.contenders.filter((c) => c.id !== 'raw' && c.id !== 'strata-redis'),
  ];
  for (let pass = 0; pass < 2; pass++)
    for (const [i, key] of keys.entries()) checkRecord(await frozen.cache.get(key), i, 'strata-frozen');
  for (const c of arena.contenders) {
    await c.resetL1();
    await c.warmL1?.(keys, values);
    for (let pass = 0; pass < 2; pass++)
      for (const [i, key] of keys.entries()) checkRecord(await c.get(key), i, c.id);
  }
  const count = keys.length;
  for (const reader of rotate(readers, rep)) {
    const site = {
      topology: arena.topology,
      workload: 'l1-hit',
      subject: reader.id,
      rep,
      masters: arena.masters,
    };
    await measureThroughput(ctx, site, () =>
      timeFor(config.l1Ms, 256, async (i) => {
        const k = i % count;
        checkRecord(await reader.get(keys[k]!), k, reader.id);
      }),
    );
  }
  await memory.close();
  await frozen.close();
}

const PROBE = fileURLToPath(new URL('../memory-probe.ts', import.meta.url));

/** Bytes per entry, one per repetition: as stored, and once every entry was read once. */
interface Probed {
  readonly bytes: number[];
  readonly afterRead: number[];
}

/** Runs the memory probe for `library` in a child process (see `memory-probe.ts`). */
function probeMemory(library: string, entries: number, reps: number): Promise<Probed> {
  const args = ['--conditions=@strata-cache/source', '--import', 'tsx', '--expose-gc', PROBE];
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [...args, library, String(entries), String(reps)], (error, stdout, stderr) => {
      if (error === null) {
        resolve(JSON.parse(stdout) as Probed);
        return;
      }
      const message = `memory probe of ${library}: ${stderr.trim() || error.message}`;
      reject(error.code === 2 ? new WrongAnswerError(message) : new Error(message));
    });
  });
}

/**
 * The L1-memory workloads, every repetition at once: the heap growth of storing `memoryEntries` records in each
 * library's L1 alone, per entry, and again after reading each once; each library in a child process of its own
 * (see `memory-probe.ts`).
 */
export async function runMemory(ctx: RunContext, reps: readonly number[]): Promise<void> {
  const measured = reps.filter((rep) => rep >= 0);
  for (const library of ['raw', 'strata', 'bentocache', 'cacheable', 'cache-manager']) {
    const site = {
      topology: 'standalone',
      workload: 'memory',
      subject: library,
      rep: 0,
      masters: [],
    } as const;
    await guarded(ctx, site, async () => {
      const { bytes, afterRead } = await probeMemory(library, ctx.config.memoryEntries, measured.length);
      for (const [i, rep] of measured.entries()) {
        ctx.results.add('standalone', 'memory', library, rep, bytes[i]!);
        ctx.results.add('standalone', 'memory-read', library, rep, afterRead[i]!);
      }
    });
  }
}
