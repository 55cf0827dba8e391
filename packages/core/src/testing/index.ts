import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { UnsupportedOperationError } from '../errors.js';
import type { CacheCapabilities, CacheProtocol } from '../protocol.js';
import {
  type CacheProtocolSuiteOptions,
  createLawContext,
  defaultNumRuns,
  type Law,
  type LawGroup,
  ManualClock,
} from './harness.js';
import { basicLaws } from './laws/basic.js';
import { batchLaws } from './laws/batch.js';
import { codecLaws } from './laws/codec.js';
import { keyLaws } from './laws/keys.js';
import { lifecycleLaws } from './laws/lifecycle.js';
import { modelLaws } from './laws/model.js';
import { namespaceLaws } from './laws/namespace.js';
import { patternLaws } from './laws/pattern.js';
import { tagLaws } from './laws/tags.js';
import { ttlLaws } from './laws/ttl.js';

export {
  circular,
  invalidKeyStringArb,
  invalidTtlArb,
  jsonValueArb,
  keyArb,
  longTtlArb,
  nonStringArb,
  patternArb,
  smallKeyArb,
  unserializableArb,
  valueArb,
} from './arbitraries.js';
export { type ReadEntry, readEntries, readEntry } from './entries.js';
export { expectSerializationError, expectValidationError } from './expect-error.js';
export type { CacheFactoryContext, CacheProtocolSuiteOptions, Law, LawContext, LawGroup } from './harness.js';
export { defaultNumRuns, ManualClock, seedFromEnv } from './harness.js';
export {
  type CacheCommand,
  type CacheCommandsOptions,
  CacheModel,
  cacheCommands,
  type ModelEntry,
} from './model.js';
export { type CacheStoreSuiteOptions, describeCacheStore, type StoreFactoryContext } from './store-laws.js';

const FULL_CAPABILITIES: CacheCapabilities = { patternDelete: true, ttlPrecision: 'milliseconds' };

/** Every law group of the contract (the laws page of the documentation), in the order the suite registers them. */
export function cacheProtocolLaws(): LawGroup[] {
  return [
    basicLaws(),
    codecLaws(),
    ttlLaws(),
    batchLaws(),
    keyLaws(),
    patternLaws(),
    namespaceLaws(),
    lifecycleLaws(),
    modelLaws(),
    tagLaws(),
  ];
}

/** A namespace no other run uses, so suites can share one Redis. */
export function uniqueNamespace(prefix = 'strata-law'): string {
  return `${prefix}-${randomBytes(5).toString('hex')}`;
}

async function destroyCache<C extends CacheProtocol>(
  options: CacheProtocolSuiteOptions<C>,
  cache: C,
): Promise<void> {
  if (options.destroy !== undefined) await options.destroy(cache);
  else {
    const close = (cache as { close?: () => Promise<void> }).close;
    if (typeof close === 'function') await close.call(cache);
  }
}

/**
 * Runs one law against a fresh cache made by `options.create` (and closes every cache it made).
 * @throws the law's assertion error, with fast-check's seed and counterexample in its message.
 */
export async function runLaw<C extends CacheProtocol>(
  law: Law,
  options: CacheProtocolSuiteOptions<C>,
): Promise<void> {
  const clock = options.clock === 'manual' ? new ManualClock() : undefined;
  const base = uniqueNamespace();
  const made: C[] = [];
  const make = async (namespace: string): Promise<C> => {
    const cache = await options.create({ namespace, now: clock?.now ?? Date.now });
    made.push(cache);
    return cache;
  };
  try {
    const cache = await make(base);
    const capabilities =
      options.capabilities ??
      (cache as { capabilities?: CacheCapabilities }).capabilities ??
      FULL_CAPABILITIES;
    if (law.requires !== undefined && !capabilities[law.requires]) {
      await expect(cache.deletePattern('*')).rejects.toBeInstanceOf(UnsupportedOperationError);
      return;
    }
    const numRuns = options.numRuns ?? defaultNumRuns();
    await law.run(
      createLawContext({
        cache,
        clock,
        capabilities,
        numRuns,
        timedRuns: options.timedRuns ?? 4,
        createSibling: (suffix) => make(base + suffix),
      }),
    );
  } finally {
    for (const cache of made) await destroyCache(options, cache);
  }
}

/** The outcome of one law in {@link runCacheProtocolLaws}. */
export interface LawOutcome {
  /** The law group's name. */
  readonly group: string;
  /** The law's name (the fact it states). */
  readonly law: string;
  /** The failure, if the law did not hold. */
  readonly error?: unknown;
}

/** Runs every law outside of Vitest's registration and reports each outcome (used to prove the suite can fail). */
export async function runCacheProtocolLaws<C extends CacheProtocol>(
  options: CacheProtocolSuiteOptions<C>,
): Promise<LawOutcome[]> {
  const outcomes: LawOutcome[] = [];
  for (const group of cacheProtocolLaws()) {
    for (const law of group.laws) {
      try {
        await runLaw(law, options);
        outcomes.push({ group: group.name, law: law.name });
      } catch (error) {
        outcomes.push({ group: group.name, law: law.name, error });
      }
    }
  }
  return outcomes;
}

/**
 * Registers every CacheProtocol law as Vitest tests (fast-check properties, one test per law),
 * run against caches made by `options.create`. Runs per property come from `STRATA_FC_RUNS`; a failure prints
 * its seed, which `STRATA_FC_SEED` replays.
 *
 * @example
 * describeCacheProtocol('MyCacheAdapter', { create: ({ namespace }) => new MyCacheAdapter({ namespace }) });
 */
export function describeCacheProtocol<C extends CacheProtocol>(
  name: string,
  options: CacheProtocolSuiteOptions<C>,
): void {
  describe(`${name} keeps the CacheProtocol laws`, () => {
    for (const group of cacheProtocolLaws()) {
      describe(group.name, () => {
        for (const law of group.laws) it(law.name, () => runLaw(law, options));
      });
    }
  });
}
