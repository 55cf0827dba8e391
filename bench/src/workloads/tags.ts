import type { Arena } from '../arena.js';
import { measureThroughput, type RunContext, rotate } from '../harness.js';
import { checkRecord, makeRecord } from '../record.js';
import { TTL_SECONDS } from '../subject.js';
import { type BentoStack, bentoStack } from '../subjects/bentocache.js';
import { type StrataStack, strataStack } from '../subjects/strata.js';
import { timeConcurrent, timeFor, timeOnce, timeSequential } from '../timing.js';

/** Tags each tagged key carries: the user it belongs to and its kind, as a service would tag. */
const tagsOf = (i: number): string[] => [`user:${i % 100}`, 'kind:record'];

/**
 * Tags: an L1 hit and an L2 hit of tagged keys against untagged ones (the same instance, the same records, tags'
 * versions already known), and `invalidateTags` of a tag carried by 1,000 keys against one carried by 100,000 (the
 * cost must not grow with them), BentoCache's `deleteByTag` beside each.
 */
export async function runTags(ctx: RunContext, arena: Arena, rep: number): Promise<void> {
  const where = arena.where;
  const strata = await strataStack(where, 'btag');
  const bento = bentoStack(where, 'btagbento');
  try {
    await tagged(ctx, arena, rep, strata, bento);
    await invalidation(ctx, arena, rep, strata, bento);
  } finally {
    await Promise.allSettled([strata.close(), bento.close()]);
  }
}

function site(arena: Arena, workload: string, subject: string, rep: number, counted: boolean) {
  return { topology: arena.topology, workload, subject, rep, masters: counted ? arena.masters : [] };
}

async function tagged(ctx: RunContext, arena: Arena, rep: number, strata: StrataStack, bento: BentoStack) {
  const count = ctx.config.l1Keys;
  const cache = strata.cache;
  const plain = Array.from({ length: count }, (_, i) => `plain:${i}`);
  const keys = Array.from({ length: count }, (_, i) => `tagged:${i}`);
  await cache.setMany(Object.fromEntries(plain.map((k, i) => [k, makeRecord(i)])), TTL_SECONDS);
  for (const [i, key] of keys.entries()) {
    await cache.set(key, makeRecord(i), { ttl: TTL_SECONDS, tags: tagsOf(i) });
    await bento.bento.set({ key, value: makeRecord(i), tags: tagsOf(i) });
  }
  // Read once each: in L1 from now on, and every tag's version known.
  for (let i = 0; i < count; i++) {
    checkRecord(await cache.get(keys[i]!), i, 'strata');
    checkRecord(await cache.get(plain[i]!), i, 'strata');
    checkRecord(await bento.bento.get({ key: keys[i]! }), i, 'bentocache');
  }
  const l1Readers = [
    { id: 'strata-untagged', read: (k: number) => cache.get(plain[k]!) },
    { id: 'strata', read: (k: number) => cache.get(keys[k]!) },
    { id: 'bentocache', read: (k: number) => bento.bento.get({ key: keys[k]! }) },
  ];
  for (const reader of rotate(l1Readers, rep))
    await measureThroughput(ctx, site(arena, 'tagged-l1', reader.id, rep, false), () =>
      timeFor(ctx.config.l1Ms, 256, async (i) => {
        const k = i % count;
        checkRecord(await reader.read(k), k, reader.id);
      }),
    );
  // From L2: L1 emptied before each run; the tags' versions stay known (no round trip asks for them).
  const l2Readers = [
    { id: 'strata-untagged', keys: plain },
    { id: 'strata', keys },
  ];
  const reads = Math.min(count, ctx.config.l2SequentialOps);
  for (const reader of rotate(l2Readers, rep)) {
    // A pass first, not measured: a bus reset during the L1 runs above (their loops starve its timers) would
    // otherwise leave the versions to be learnt again inside the measured run.
    await strata.l1.clear();
    for (let i = 0; i < reads; i++) checkRecord(await cache.get(reader.keys[i]!), i, reader.id);
    await strata.l1.clear();
    await measureThroughput(ctx, site(arena, 'tagged-l2', reader.id, rep, true), () =>
      timeSequential(reads, async (i) => checkRecord(await cache.get(reader.keys[i]!), i, reader.id)),
    );
  }
}

async function invalidation(
  ctx: RunContext,
  arena: Arena,
  rep: number,
  strata: StrataStack,
  bento: BentoStack,
) {
  const cache = strata.cache;
  const small = ctx.config.tagSmallKeys;
  const large = ctx.config.tagLargeKeys;
  const fill = async (tag: string, count: number, withBento: boolean) => {
    const items: Array<[string, unknown]> = Array.from({ length: count }, (_, i) => [
      `${tag}:${i}`,
      makeRecord(i),
    ]);
    for (let at = 0; at < count; at += 10_000)
      await cache.setMany(new Map(items.slice(at, at + 10_000)), { ttl: TTL_SECONDS, tags: [tag] });
    if (withBento)
      await timeConcurrent(count, ctx.config.inFlight, async (i) => {
        await bento.bento.set({ key: `${tag}:${i}`, value: makeRecord(i), tags: [tag] });
      });
  };
  const smallTag = `small:${rep}`;
  const largeTag = `large:${rep}`;
  await fill(smallTag, small, true);
  await fill(largeTag, large, true);
  const subjects = [
    { id: 'strata-small', run: () => cache.invalidateTags([smallTag]) },
    { id: 'strata', run: () => cache.invalidateTags([largeTag]) },
    { id: 'bentocache-small', run: async () => void (await bento.bento.deleteByTag({ tags: [smallTag] })) },
    { id: 'bentocache', run: async () => void (await bento.bento.deleteByTag({ tags: [largeTag] })) },
  ];
  for (const subject of rotate(subjects, rep)) {
    const { ms } = await timeOnce(subject.run);
    if (rep >= 0) ctx.results.add(arena.topology, 'invalidate-tags', subject.id, rep, ms);
  }
  // What it did: a key of each tag reads as gone.
  if ((await cache.get(`${largeTag}:7`)) !== undefined || (await cache.get(`${smallTag}:7`)) !== undefined)
    throw new Error('invalidateTags left a tagged value readable');
  if ((await bento.bento.get({ key: `${largeTag}:7` })) !== undefined)
    throw new Error('BentoCache deleteByTag left a tagged value readable');
  await cache.deletePattern(`${smallTag}:*`);
  await cache.deletePattern(`${largeTag}:*`);
  await bento.bento.clear();
}
