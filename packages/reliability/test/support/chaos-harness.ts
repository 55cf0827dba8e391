import { compileGlob } from '@strata-cache/core';
import { MemoryCacheAdapter } from '@strata-cache/memory';
import { RedisCacheAdapter, type RedisConnectionOptions, RedisPubSubBus } from '@strata-cache/redis';
import { TieredCache } from '@strata-cache/tiered';
import { percentile, seededRandom, sleep } from './figures.js';
import { History, type OpRecord } from './history.js';
import { RecordingL1 } from './recording-l1.js';

/** The settings every chaos instance runs with (shorter than the defaults, so that an outage yields many samples). */
export const CHAOS_SETTINGS = {
  /** RedisCacheAdapter `commandTimeoutMs`. */
  commandTimeoutMs: 300,
  /** RedisPubSubBus `publishTimeoutMs`. */
  publishTimeoutMs: 300,
  /** TieredCache `timeoutMs` (its own limit on each L2 call; the adapter's usually answers first). */
  timeoutMs: 500,
  /** RedisPubSubBus heartbeats. */
  heartbeatMs: 250,
  heartbeatTimeoutMs: 1_000,
  /** TieredCache `maxTtl`, in seconds: short, so that it is exercised within a scenario. */
  maxTtl: 2,
} as const;

/** Once Redis is back, both instances must serve from L2 and read nothing stale within this. */
export const RECOVERY_MS = 1_000;

/** A read that returned a value replaced longer ago than this is stale beyond the bus's delivery lag. */
export const STALE_AFTER_MS = 100;

const HOT_KEYS = Array.from({ length: 24 }, (_, i) => `hot:${i}`);
const PATTERNS = ['hot:1*', 'hot:?', 'hot:2[0-3]'];
const WORKERS_PER_INSTANCE = 4;
const PAUSE_MS = 3;
const MAX_OPS_PER_WORKER = 50_000;
const PROBE_EVERY_MS = 30;

/** One TieredCache (memory over Redis, RedisPubSubBus) and what it reported. */
export interface ChaosInstance {
  readonly index: number;
  readonly cache: TieredCache;
  readonly l1: RecordingL1;
  readonly l2: RedisCacheAdapter;
  readonly bus: RedisPubSubBus;
  /** `error` events by operation. */
  readonly errors: Map<string, number>;
  /** `reset` events by reason. */
  readonly resets: Map<string, number>;
  /** When each `reset` happened (performance.now()). */
  readonly resetTimes: number[];
}

function count(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

/** Opens an instance and waits until its bus subscription is live. */
export async function openInstance(
  index: number,
  connection: RedisConnectionOptions,
  namespace: string,
): Promise<ChaosInstance> {
  const s = CHAOS_SETTINGS;
  const l1 = new RecordingL1(new MemoryCacheAdapter({ namespace, maxEntries: 5_000 }));
  const l2 = new RedisCacheAdapter({ ...connection, namespace, commandTimeoutMs: s.commandTimeoutMs });
  const bus = new RedisPubSubBus({
    ...connection,
    namespace,
    heartbeatMs: s.heartbeatMs,
    heartbeatTimeoutMs: s.heartbeatTimeoutMs,
    publishTimeoutMs: s.publishTimeoutMs,
  });
  const cache = new TieredCache({ tiers: [l1, l2], bus, maxTtl: s.maxTtl, timeoutMs: s.timeoutMs });
  const instance: ChaosInstance = {
    index,
    cache,
    l1,
    l2,
    bus,
    errors: new Map(),
    resets: new Map(),
    resetTimes: [],
  };
  cache.on('error', ({ operation }) => count(instance.errors, operation));
  cache.on('reset', ({ reason }) => {
    count(instance.resets, reason);
    instance.resetTimes.push(performance.now());
  });
  l2.on('error', () => count(instance.errors, 'l2-client'));
  await cache.ready();
  return instance;
}

/** Closes the cache, its bus and both tiers. */
export async function closeInstance(instance: ChaosInstance): Promise<void> {
  await instance.cache.close();
  await instance.bus.close();
  await instance.l2.close();
  await instance.l1.inner.close();
}

/** A failed write, and what the L1 of its instance held for the key right after the call rejected. */
export interface FailedWriteCheck {
  readonly key: string;
  readonly l1Value: unknown;
}

/** A read of a key that only L2 holds, made to tell when an instance serves from L2 again. */
export interface ProbeRecord {
  readonly instance: number;
  readonly start: number;
  readonly end: number;
  readonly ok: boolean;
}

/**
 * A steady, bounded mixed load on two instances: reads, writes, deletes, getMany and deletePattern on a small set
 * of hot keys, plus writes of keys written once (the ledger of acknowledged writes), and a probe per instance
 * reading keys only L2 holds. Every call is recorded in {@link Load.history}.
 */
export class Load {
  readonly history: History = new History();
  readonly probes: ProbeRecord[] = [];
  readonly failedWrites: FailedWriteCheck[] = [];
  readonly seed: number;
  readonly #instances: readonly ChaosInstance[];
  readonly #probeKeys: ReadonlyArray<readonly string[]>;
  #running: Promise<unknown> | undefined;
  #stopped = false;

  /** `probeKeys[i]`: keys instance `i` may probe, each holding `"pre:<key>"` in L2 and in no L1. */
  constructor(
    instances: readonly ChaosInstance[],
    probeKeys: ReadonlyArray<readonly string[]>,
    seed: number,
  ) {
    this.#instances = instances;
    this.#probeKeys = probeKeys;
    this.seed = seed;
  }

  start(): void {
    const tasks: Array<Promise<void>> = [];
    for (const instance of this.#instances) {
      for (let w = 0; w < WORKERS_PER_INSTANCE; w++) tasks.push(this.#worker(instance, w));
      tasks.push(this.#probe(instance));
    }
    this.#running = Promise.all(tasks);
  }

  /** Stops the load and waits for every call in flight to return. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#running;
  }

  async #worker(instance: ChaosInstance, worker: number): Promise<void> {
    const random = seededRandom(this.seed * 31 + instance.index * 7 + worker);
    const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
    for (let n = 0; n < MAX_OPS_PER_WORKER && !this.#stopped; n++) {
      const unique = `${instance.index}.${worker}.${n}`;
      const r = random();
      if (r < 0.35) await this.#read(instance, 'get', [pick(HOT_KEYS)]);
      else if (r < 0.45)
        await this.#read(instance, 'getMany', [pick(HOT_KEYS), pick(HOT_KEYS), pick(HOT_KEYS)]);
      else if (r < 0.63) {
        const ttl = random() < 0.3 ? 120 : undefined;
        await this.#write(
          instance,
          { kind: 'set', keys: [pick(HOT_KEYS)], values: [`v${unique}`] },
          (c, op) => c.set(op.keys[0]!, op.values![0], ttl),
        );
      } else if (r < 0.68) {
        const a = pick(HOT_KEYS);
        const b = pick(HOT_KEYS.filter((k) => k !== a));
        await this.#write(
          instance,
          { kind: 'setMany', keys: [a, b], values: [`v${unique}a`, `v${unique}b`] },
          (c, op) => c.setMany({ [a]: op.values![0], [b]: op.values![1] }),
        );
      } else if (r < 0.76) {
        await this.#write(instance, { kind: 'delete', keys: [pick(HOT_KEYS)] }, (c, op) =>
          c.delete(op.keys[0]!),
        );
      } else if (r < 0.78) {
        const pattern = pick(PATTERNS);
        await this.#write(instance, { kind: 'deletePattern', keys: [], pattern }, (c) =>
          c.deletePattern(pattern),
        );
      } else {
        await this.#write(
          instance,
          { kind: 'set', keys: [`once:${unique}`], values: [`o${unique}`] },
          (c, op) => c.set(op.keys[0]!, op.values![0]),
        );
      }
      await sleep(PAUSE_MS);
    }
  }

  async #read(instance: ChaosInstance, kind: 'get' | 'getMany', keys: string[]): Promise<void> {
    const op = this.history.begin({ instance: instance.index, kind, keys });
    try {
      if (kind === 'get') {
        const value = await instance.cache.get(keys[0]!);
        op.reads = new Map([[keys[0]!, value]]);
      } else {
        const found = await instance.cache.getMany(keys);
        op.reads = new Map(keys.map((key) => [key, found.get(key)]));
      }
      this.history.settle(op, true);
    } catch (error) {
      this.history.settle(op, false, error);
    }
  }

  async #write(
    instance: ChaosInstance,
    record: Omit<OpRecord, 'start' | 'end' | 'ok' | 'instance'>,
    call: (cache: TieredCache, op: OpRecord) => Promise<unknown>,
  ): Promise<void> {
    const op = this.history.begin({ ...record, instance: instance.index });
    try {
      await call(instance.cache, op);
      this.history.settle(op, true);
    } catch (error) {
      this.history.settle(op, false, error);
      // Right after the rejection, before any other I/O: a failed write must leave no L1 copy of what it touched.
      const touched =
        op.pattern === undefined ? op.keys : HOT_KEYS.filter((key) => compileGlob(op.pattern!)(key));
      for (const key of touched) {
        this.failedWrites.push({ key, l1Value: await instance.l1.peek(key) });
      }
    }
  }

  async #probe(instance: ChaosInstance): Promise<void> {
    const keys = this.#probeKeys[instance.index] ?? [];
    for (let i = 0; i < keys.length && !this.#stopped; i++) {
      const key = keys[i]!;
      const start = performance.now();
      const value = await instance.cache.get(key).catch(() => undefined);
      this.probes.push({
        instance: instance.index,
        start,
        end: performance.now(),
        ok: value === `pre:${key}`,
      });
      await sleep(PROBE_EVERY_MS);
    }
  }
}

/** When the fault began and when Redis was back (answering again), in performance.now() time. */
export interface FaultMarks {
  readonly faultAt: number;
  readonly backAt: number;
  /** What was done, for the report. */
  readonly description: string;
}

/** Every figure a scenario reports. */
export interface ScenarioFigures {
  readonly name: string;
  readonly seed: number;
  readonly marks: FaultMarks;
  readonly calls: number;
  readonly failedCalls: number;
  readonly callsDuringOutage: number;
  /** Latencies of the calls made while Redis was out (load and probes). */
  readonly outageLatencies: number[];
  readonly outageP99Ms: number;
  readonly outageMaxMs: number;
  readonly ackedOnceWrites: number;
  /** Acknowledged writes of write-once keys that L2 no longer holds, with when they were acknowledged. */
  readonly lostOnceWrites: Array<{ key: string; ackedAt: number }>;
  /** Hot keys whose final L2 value no history explains, with when the change L2 lost was acknowledged. */
  readonly finalStateProblems: Array<{ message: string; lostAckedAt: number }>;
  readonly failedWrites: number;
  /** Failed writes that left an L1 copy behind. */
  readonly failedWriteL1Copies: FailedWriteCheck[];
  readonly maxL1AgeMs: number;
  readonly maxStalenessMs: number;
  readonly maxStalenessBeforeFaultMs: number;
  readonly phantomReads: number;
  /** How long after Redis was back the last read staler than STALE_AFTER_MS began (0: none after it was back). */
  readonly lastStaleReadAfterBackMs: number;
  /** Per instance: how long after Redis was back it first answered a read from L2. */
  readonly servedFromL2AfterMs: number[];
  /** Keys where an instance's L1 or its answer differed from L2 once everything settled. */
  readonly incoherent: string[];
  readonly errors: string;
  readonly resets: string;
  /** Bus resets (each empties an L1) before the fault, on a healthy Redis: there should be none. */
  readonly resetsBeforeFault: number;
  /** Bus resets later than RECOVERY_MS after Redis was back: there should be none either. */
  readonly resetsAfterRecovery: number;
  /** When the lost acknowledged writes were acknowledged, relative to the fault: [first, last] in ms. */
  readonly lostWindowMs: [number, number] | undefined;
}

/**
 * Runs one scenario: two instances under the load, the fault, then checks. `fault` does the damage and resolves
 * once Redis is back; the load goes on for `afterBackMs` more before it stops.
 */
export async function runScenario(options: {
  name: string;
  connection: RedisConnectionOptions;
  namespace: string;
  /** Chooses the probe keys among candidates (on a Cluster: those in the slots of the master about to die). */
  probeKeys?: (candidates: readonly string[]) => Promise<string[]>;
  warmupMs?: number;
  afterBackMs?: number;
  seed?: number;
  fault: () => Promise<FaultMarks>;
}): Promise<ScenarioFigures> {
  const { name, connection, namespace } = options;
  const seed = options.seed ?? Math.floor(Math.random() * 1e9);
  const admin = new RedisCacheAdapter({ ...connection, namespace, commandTimeoutMs: 5_000 });
  const instances: ChaosInstance[] = [];
  try {
    instances.push(
      await openInstance(0, connection, namespace),
      await openInstance(1, connection, namespace),
    );
    const all = Array.from({ length: options.probeKeys ? 2_400 : 800 }, (_, i) => `pre:${i}`);
    const candidates = options.probeKeys ? await options.probeKeys(all) : all;
    await admin.setMany(Object.fromEntries(candidates.map((key) => [key, `pre:${key}`])));
    const half = Math.floor(candidates.length / 2);
    const load = new Load(instances, [candidates.slice(0, half), candidates.slice(half)], seed);
    load.start();
    await sleep(options.warmupMs ?? 1_500);
    let marks: FaultMarks;
    try {
      marks = await options.fault();
      await sleep(options.afterBackMs ?? 2_000);
    } finally {
      await load.stop();
    }
    // Let the last invalidations arrive, and the heartbeats tell of any gap.
    await sleep(2 * CHAOS_SETTINGS.heartbeatMs + 100);
    return await judge(name, seed, marks, load, instances, admin);
  } finally {
    for (const instance of instances) await closeInstance(instance);
    await admin.close();
  }
}

async function readAll(admin: RedisCacheAdapter, keys: readonly string[]): Promise<Map<string, unknown>> {
  const found = new Map<string, unknown>();
  for (let i = 0; i < keys.length; i += 500) {
    for (const [key, value] of await admin.getMany(keys.slice(i, i + 500))) found.set(key, value);
  }
  return found;
}

async function judge(
  name: string,
  seed: number,
  marks: FaultMarks,
  load: Load,
  instances: readonly ChaosInstance[],
  admin: RedisCacheAdapter,
): Promise<ScenarioFigures> {
  const { history } = load;
  const ops = history.ops;
  const keys = [...history.keys()];
  const l2 = await readAll(admin, keys);

  const onceWrites = ops.filter((op) => op.ok && op.kind === 'set' && op.keys[0]!.startsWith('once:'));
  const lostOnceWrites = onceWrites
    .filter((op) => l2.get(op.keys[0]!) !== op.values![0])
    .map((op) => ({ key: op.keys[0]!, ackedAt: op.end }));
  const finalStateProblems = HOT_KEYS.flatMap((key) => history.finalStateProblem(key, l2.get(key)) ?? []);

  let maxStaleness = 0;
  let maxStalenessBeforeFault = 0;
  let phantomReads = 0;
  let lastStaleAfterBack = 0;
  for (const op of ops) {
    if (!op.ok || op.reads === undefined) continue;
    for (const [key, value] of op.reads) {
      const staleness = history.staleness(op, key, value);
      if (staleness === undefined) continue;
      if (staleness === Number.POSITIVE_INFINITY) {
        phantomReads++;
        continue;
      }
      maxStaleness = Math.max(maxStaleness, staleness);
      if (op.start < marks.faultAt) maxStalenessBeforeFault = Math.max(maxStalenessBeforeFault, staleness);
      if (staleness > STALE_AFTER_MS && op.start >= marks.backAt)
        lastStaleAfterBack = Math.max(lastStaleAfterBack, op.start - marks.backAt);
    }
  }

  const during = (start: number) => start >= marks.faultAt && start <= marks.backAt;
  const outageLatencies = [
    ...ops.filter((op) => during(op.start)).map((op) => op.end - op.start),
    ...load.probes.filter((p) => during(p.start)).map((p) => p.end - p.start),
  ];

  const servedFromL2AfterMs = instances.map((instance) => {
    const first = load.probes.find((p) => p.instance === instance.index && p.ok && p.end >= marks.backAt);
    return first === undefined ? Number.POSITIVE_INFINITY : first.end - marks.backAt;
  });

  const incoherent: string[] = [];
  for (const instance of instances) {
    for (const key of keys) {
      const cached = await instance.l1.peek(key);
      if (cached !== undefined && cached !== l2.get(key))
        incoherent.push(`instance ${instance.index} L1 ${key}=${String(cached)}, L2 ${String(l2.get(key))}`);
    }
    for (const key of HOT_KEYS) {
      const answer = await instance.cache.get(key);
      if (answer !== l2.get(key))
        incoherent.push(
          `instance ${instance.index} reads ${key}=${String(answer)}, L2 ${String(l2.get(key))}`,
        );
    }
  }

  const describe = (pick: (i: ChaosInstance) => Map<string, number>) =>
    instances.map((i) => `#${i.index} {${[...pick(i)].map(([k, v]) => `${k}: ${v}`).join(', ')}}`).join(' ');
  return {
    name,
    seed,
    marks,
    calls: ops.length,
    failedCalls: ops.filter((op) => !op.ok).length,
    callsDuringOutage: outageLatencies.length,
    outageLatencies,
    outageP99Ms: percentile(outageLatencies, 0.99),
    outageMaxMs: outageLatencies.reduce((a, b) => Math.max(a, b), Number.NEGATIVE_INFINITY),
    ackedOnceWrites: onceWrites.length,
    lostOnceWrites,
    finalStateProblems,
    failedWrites: ops.filter((op) => !op.ok && op.kind !== 'get' && op.kind !== 'getMany').length,
    failedWriteL1Copies: load.failedWrites.filter((check) => check.l1Value !== undefined),
    maxL1AgeMs: instances.flatMap((i) => i.l1.servedAges).reduce((a, b) => Math.max(a, b), 0),
    maxStalenessMs: maxStaleness,
    maxStalenessBeforeFaultMs: maxStalenessBeforeFault,
    phantomReads,
    lastStaleReadAfterBackMs: lastStaleAfterBack,
    servedFromL2AfterMs,
    incoherent,
    errors: describe((i) => i.errors),
    resets: describe((i) => i.resets),
    resetsBeforeFault: instances.flatMap((i) => i.resetTimes).filter((t) => t < marks.faultAt).length,
    resetsAfterRecovery: instances.flatMap((i) => i.resetTimes).filter((t) => t > marks.backAt + RECOVERY_MS)
      .length,
    lostWindowMs: window([
      ...lostOnceWrites.map((w) => w.ackedAt - marks.faultAt),
      ...finalStateProblems.map((p) => p.lostAckedAt - marks.faultAt),
    ]),
  };
}

function window(times: readonly number[]): [number, number] | undefined {
  if (times.length === 0) return undefined;
  return [times.reduce((a, b) => Math.min(a, b)), times.reduce((a, b) => Math.max(a, b))];
}
