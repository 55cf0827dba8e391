import fc from 'fast-check';
import type { CacheCapabilities, CacheProtocol } from '../protocol.js';

/** What a factory is given: the namespace to use and, for adapters that take one, the suite's clock. */
export interface CacheFactoryContext {
  /** A namespace unique to this suite run; a second, distinct one is passed for the namespace laws. */
  readonly namespace: string;
  /** The clock the suite controls (epoch ms): pass it to the adapter's `now` option when `clock` is `'manual'`. */
  readonly now: () => number;
}

/** How `describeCacheProtocol` builds and tears down the cache under test. */
export interface CacheProtocolSuiteOptions<C extends CacheProtocol = CacheProtocol> {
  /** Makes a cache in `context.namespace`; called once per law (and twice for the namespace laws). */
  create(context: CacheFactoryContext): C | Promise<C>;
  /** Releases a cache the suite made. @default calls its `close()` when it has one */
  destroy?(cache: C): void | Promise<void>;
  /**
   * `'manual'`: the adapter reads time from `context.now`, and the suite moves it (exact TTL laws, instant).
   * `'real'`: the adapter keeps real time (Redis); TTL laws use short TTLs and sleep, with a tolerance.
   * @default 'real'
   */
  clock?: 'manual' | 'real';
  /** What the adapter claims to support. @default the cache's own `capabilities`, else everything */
  capabilities?: CacheCapabilities;
  /** Runs per property. @default STRATA_FC_RUNS from the environment, else 50 */
  numRuns?: number;
  /** Real-clock laws sleep; their runs are capped at this. @default 4 */
  timedRuns?: number;
}

/** A controllable clock in epoch milliseconds. */
export class ManualClock {
  #now: number;

  constructor(start: number = Date.UTC(2030, 0, 1)) {
    this.#now = start;
  }

  /** The current time (epoch ms). Bound, so it can be passed as `now` directly. */
  readonly now = (): number => this.#now;

  /** Moves the clock forward by `ms`. */
  advance(ms: number): void {
    this.#now += ms;
  }
}

/** What a law sees: the cache under test and ways to move time and run properties. */
export interface LawContext {
  /** The cache under test; it is emptied before every property run by {@link LawContext.fresh}. */
  readonly cache: CacheProtocol;
  /** Whether the suite moves the adapter's clock (`'manual'`) or real time passes (`'real'`). */
  readonly clock: 'manual' | 'real';
  /** What the adapter supports. */
  readonly capabilities: CacheCapabilities;
  /** Empties the cache (`clear()`) and returns it; call at the start of each property run. */
  fresh(): Promise<CacheProtocol>;
  /** Lets `ms` pass: moves the manual clock, or sleeps. */
  elapse(ms: number): Promise<void>;
  /** The current time as the adapter sees it (epoch ms). */
  now(): number;
  /** Makes a second cache on the same backend in another namespace (closed by the suite afterwards). */
  createSibling(namespace: string): Promise<CacheProtocol>;
  /** Runs `property` with the suite's run count (capped for `timed` properties under a real clock). */
  check<Ts extends [unknown, ...unknown[]]>(
    arbitraries: { [K in keyof Ts]: fc.Arbitrary<Ts[K]> },
    predicate: (...args: Ts) => Promise<void>,
    options?: { timed?: boolean; runs?: number },
  ): Promise<void>;
}

/** One law: a fact every adapter must make true. */
export interface Law {
  /** States the fact, for example "getMany omits missing keys". */
  readonly name: string;
  /** Only for adapters with this capability. */
  readonly requires?: keyof Pick<CacheCapabilities, 'patternDelete'>;
  /** Checks the law; rejects with an assertion error (carrying fast-check's seed) when it does not hold. */
  run(context: LawContext): Promise<void>;
}

/** A group of laws, as each file under `laws/` exports one. */
export interface LawGroup {
  /** The group's name, e.g. `'ttl'`. */
  readonly name: string;
  /** Its laws, in the order they run. */
  readonly laws: readonly Law[];
}

const DEFAULT_RUNS = 50;

/** The number of runs per property: `STRATA_FC_RUNS`, else 50. */
export function defaultNumRuns(): number {
  const raw = process.env.STRATA_FC_RUNS;
  const runs = raw === undefined ? DEFAULT_RUNS : Number(raw);
  if (!Number.isSafeInteger(runs) || runs < 1)
    throw new RangeError(`STRATA_FC_RUNS must be a positive integer, got ${raw}`);
  return runs;
}

/** The seed given in `STRATA_FC_SEED` (to replay a failure), if any. */
export function seedFromEnv(): number | undefined {
  const raw = process.env.STRATA_FC_SEED;
  if (raw === undefined || raw === '') return undefined;
  const seed = Number(raw);
  if (!Number.isSafeInteger(seed)) throw new RangeError(`STRATA_FC_SEED must be an integer, got ${raw}`);
  return seed;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The pieces {@link createLawContext} needs. */
export interface LawContextInit {
  readonly cache: CacheProtocol;
  readonly clock: ManualClock | undefined;
  readonly capabilities: CacheCapabilities;
  readonly numRuns: number;
  readonly timedRuns: number;
  readonly createSibling: (namespace: string) => Promise<CacheProtocol>;
}

/** Builds the context a law runs in. */
export function createLawContext(init: LawContextInit): LawContext {
  const { cache, clock, numRuns, timedRuns } = init;
  const seed = seedFromEnv();
  return {
    cache,
    clock: clock === undefined ? 'real' : 'manual',
    capabilities: init.capabilities,
    createSibling: init.createSibling,
    async fresh() {
      await cache.clear();
      return cache;
    },
    async elapse(ms) {
      if (clock === undefined) await sleep(ms);
      else clock.advance(ms);
    },
    now: () => (clock === undefined ? Date.now() : clock.now()),
    async check(arbitraries, predicate, options = {}) {
      const runs =
        options.runs ?? (options.timed && clock === undefined ? Math.min(timedRuns, numRuns) : numRuns);
      const property = fc.asyncProperty(
        ...(arbitraries as unknown as [fc.Arbitrary<unknown>]),
        predicate as never,
      );
      await fc.assert(property, { numRuns: runs, ...(seed === undefined ? {} : { seed }) });
    },
  };
}
