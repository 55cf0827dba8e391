import { type Arena, getManyBatches } from '../arena.js';
import { measureThroughput, type RunContext, rotate } from '../harness.js';
import { type BenchRecord, checkRecord, makeRecord } from '../record.js';
import type { Contender } from '../subject.js';
import { timeConcurrent, timeSequential } from '../timing.js';

/** The id of record `r:<i>` / `w:<i>`. */
const idOf = (key: string): number => Number(key.slice(2));

/**
 * One repetition of the L2 workloads on `arena`: L2 hit sequential and 64 in flight, getMany of 100 keys, set
 * sequential and 64 in flight. Each contender's L1 is emptied before each read run and every key is read once per
 * run, so each read is an L2 hit (and, for tiered caches, an L1 fill).
 */
export async function runL2Workloads(ctx: RunContext, arena: Arena, rep: number): Promise<void> {
  const { config } = ctx;
  const { readKeys, writeKeys, masters, topology } = arena;
  const order = rotate(arena.contenders, rep);
  const site = (workload: string, contender: Contender) => ({
    topology,
    workload,
    subject: contender.id,
    rep,
    masters,
  });

  for (const c of order) {
    await c.resetL1();
    await measureThroughput(ctx, site('l2-seq', c), () =>
      timeSequential(config.l2SequentialOps, async (i) => checkRecord(await c.get(readKeys[i]!), i, c.id)),
    );
  }

  for (const c of order) {
    await c.resetL1();
    await measureThroughput(ctx, site('l2-64', c), () =>
      timeConcurrent(config.l2ConcurrentOps, config.inFlight, async (i) =>
        checkRecord(await c.get(readKeys[i]!), i, c.id),
      ),
    );
  }

  const batches = getManyBatches(config, readKeys);
  for (const c of order) {
    await c.resetL1();
    if (c.getMany === undefined)
      ctx.results.note(topology, 'get-many', c.id, 'no batch API: 100 concurrent get()');
    const getMany = c.getMany ?? ((keys: readonly string[]) => Promise.all(keys.map((key) => c.get(key))));
    await measureThroughput(ctx, site('get-many', c), () =>
      timeSequential(config.getManyOps, async (j) => {
        const keys = batches[j]!;
        const values = await getMany(keys);
        if (values.length !== keys.length) checkRecord(undefined, idOf(keys[0]!), `${c.id} getMany length`);
        for (let k = 0; k < keys.length; k++) checkRecord(values[k], idOf(keys[k]!), c.id);
      }),
    );
  }

  // Each set run writes records no earlier run wrote, so reading back the previous run's value fails the check.
  const seqBase = (2 * rep + 3) * 1_000_000;
  const seqValues = records(seqBase, config.setSequentialOps);
  for (const c of order) {
    await c.resetL1();
    const done = await measureThroughput(ctx, site('set-seq', c), () =>
      timeSequential(config.setSequentialOps, (i) => c.set(writeKeys[i]!, seqValues[i]!)),
    );
    if (done) await verifyWrites(c, writeKeys, seqBase, config.setSequentialOps);
  }

  const concurrentBase = seqBase + 1_000_000;
  const concurrentValues = records(concurrentBase, config.setConcurrentOps);
  for (const c of order) {
    await c.resetL1();
    const done = await measureThroughput(ctx, site('set-64', c), () =>
      timeConcurrent(config.setConcurrentOps, config.inFlight, (i) =>
        c.set(writeKeys[i]!, concurrentValues[i]!),
      ),
    );
    if (done) await verifyWrites(c, writeKeys, concurrentBase, config.setConcurrentOps);
  }
}

/** Records `base` … `base + count - 1`. */
function records(base: number, count: number): BenchRecord[] {
  return Array.from({ length: count }, (_, i) => makeRecord(base + i));
}

/** Reads back a sample of what a set run wrote, from L2 (L1 emptied first), so a lost write fails the run. */
async function verifyWrites(
  c: Contender,
  writeKeys: readonly string[],
  base: number,
  count: number,
): Promise<void> {
  await c.resetL1();
  for (const i of [0, count >> 1, count - 1]) {
    checkRecord(await c.get(writeKeys[i]!), base + i, `${c.id} after set`);
  }
}
