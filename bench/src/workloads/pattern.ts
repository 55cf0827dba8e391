import calculateSlot from 'cluster-key-slot';
import type { Cluster, Redis } from 'ioredis';
import { commandStats, perOperation } from '../commandstats.js';
import { bulkWrite, type Fixtures, flushAll, keyCount, newClient } from '../fixtures.js';
import { type RunContext, rotate } from '../harness.js';
import { recordText, WrongAnswerError } from '../record.js';
import { L1_ENTRIES, TTL_SECONDS, type Where } from '../subject.js';
import { strataRedis, strataStack } from '../subjects/strata.js';

const NAMESPACE = 'dp';
const SCAN_COUNT = 1_000;

/**
 * The hand-written baseline: SCAN MATCH (COUNT 1000) on each master in turn, UNLINK of each batch (on a Cluster,
 * one UNLINK per hash slot in one pipeline per batch). Resolves to how many keys were deleted.
 */
async function rawScanUnlink(client: Redis | Cluster, match: string): Promise<number> {
  const nodes = client.isCluster ? (client as Cluster).nodes('master') : [client as Redis];
  let deleted = 0;
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', match, 'COUNT', SCAN_COUNT);
      cursor = next;
      if (keys.length === 0) continue;
      if (!client.isCluster) {
        deleted += await node.unlink(...keys);
        continue;
      }
      const bySlot = new Map<number, string[]>();
      for (const key of keys) {
        const slot = calculateSlot(key);
        const group = bySlot.get(slot);
        if (group === undefined) bySlot.set(slot, [key]);
        else group.push(key);
      }
      const pipeline = node.pipeline();
      for (const group of bySlot.values()) pipeline.unlink(...group);
      for (const [error, count] of (await pipeline.exec()) ?? []) {
        if (error) throw error;
        deleted += count as number;
      }
    } while (cursor !== '0');
  }
  return deleted;
}

/** Sends PINGs one after another to every master until stopped; resolves to the slowest answer in ms. */
function probe(masters: readonly Redis[]): { stop(): Promise<number> } {
  let running = true;
  let slowest = 0;
  const loop = (async () => {
    for (let i = 0; running; i++) {
      const start = performance.now();
      await masters[i % masters.length]!.ping();
      slowest = Math.max(slowest, performance.now() - start);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return slowest;
    },
  };
}

/**
 * The deletePattern workload on `where`, all repetitions: the database holds exactly `patternTotalKeys` keys, of
 * which `patternMatchingKeys` match, before each run; each run must delete exactly those (counted by the library
 * and by DBSIZE). Another client's slowest PING during the run shows whether Redis was blocked.
 */
export async function runDeletePattern(
  ctx: RunContext,
  fixtures: Fixtures,
  where: Where,
  reps: readonly number[],
): Promise<void> {
  const { config, results } = ctx;
  const { topology } = where;
  const total = config.patternTotalKeys;
  const matching = config.patternMatchingKeys;
  await flushAll(fixtures, where);
  const fillers = Array.from({ length: total - matching }, (_, i) => `${NAMESPACE}:f:${i}`);
  await bulkWrite(
    where,
    fillers,
    fillers.map((_, i) => recordText(i)),
    TTL_SECONDS,
  );
  const targets = Array.from({ length: matching }, (_, i) => `${NAMESPACE}:t:${i}`);
  const targetTexts = targets.map((_, i) => recordText(i));
  const stack = await strataStack(where, NAMESPACE);
  const adapter = strataRedis(where, NAMESPACE);
  const raw = newClient(where);
  await raw.ping();
  const masters = await fixtures.masters(where);
  // The TieredCache's L1 is full, as it is in a service that has run a while: the pattern's keys and others.
  const l1Keys = [
    ...targets.map((key) => key.slice(NAMESPACE.length + 1)),
    ...fillers.slice(0, L1_ENTRIES - matching).map((key) => key.slice(NAMESPACE.length + 1)),
  ];
  const fillL1 = (): void => {
    for (const [i, key] of l1Keys.entries()) stack.l1.store.set(key, { text: recordText(i), ttlMs: 60_000 });
  };
  const subjects: Array<{ id: string; run: () => Promise<number>; prepare?: () => void }> = [
    { id: 'raw', run: () => rawScanUnlink(raw, `${NAMESPACE}:t:*`) },
    { id: 'strata', run: () => stack.cache.deletePattern('t:*'), prepare: fillL1 },
    { id: 'strata-redis', run: () => adapter.adapter.deletePattern('t:*') },
  ];
  try {
    for (const rep of reps) {
      for (const subject of rotate(subjects, rep)) {
        await bulkWrite(where, targets, targetTexts, TTL_SECONDS);
        subject.prepare?.();
        // The setup's garbage (filling an L1 allocates) is collected before, not during, the timed run.
        (globalThis as { gc?: () => void }).gc?.();
        const present = await keyCount(fixtures, where);
        if (present !== total) throw new Error(`deletePattern setup: ${present} keys, expected ${total}`);
        const before = rep === 0 ? await commandStats(masters) : undefined;
        const pinger = probe(masters);
        const start = performance.now();
        const deleted = await subject.run();
        const ms = performance.now() - start;
        const slowestPing = await pinger.stop();
        if (before !== undefined) {
          results.setCommands(
            topology,
            'delete-pattern',
            subject.id,
            perOperation(before, await commandStats(masters), 1),
          );
        }
        const left = await keyCount(fixtures, where);
        if (subject.prepare !== undefined && stack.l1.size !== l1Keys.length - matching)
          throw new WrongAnswerError(`${subject.id} deletePattern left ${stack.l1.size} entries in L1`);
        if (deleted !== matching || left !== total - matching) {
          throw new WrongAnswerError(
            `${subject.id} deletePattern: reported ${deleted}, left ${left} keys; expected ${matching} and ${total - matching}`,
          );
        }
        if (rep < 0) continue;
        results.add(topology, 'delete-pattern', subject.id, rep, ms);
        results.add(topology, 'delete-pattern-ping', subject.id, rep, slowestPing);
      }
    }
  } finally {
    raw.disconnect();
    await Promise.allSettled([stack.close(), adapter.close()]);
  }
  for (const peer of ['bentocache', 'cacheable', 'cache-manager']) {
    results.note(topology, 'delete-pattern', peer, 'no pattern delete');
  }
}
