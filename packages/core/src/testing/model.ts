import fc from 'fast-check';
import { expect } from 'vitest';
import { matchGlob } from '../glob.js';
import type { CacheProtocol } from '../protocol.js';
import { ttlToMs } from '../ttl.js';
import { expectSameValue } from './same-value.js';

/** What the reference model holds for a key: the value as set, and its expiry (epoch ms, inclusive). */
export interface ModelEntry {
  /** The value as it was set. */
  readonly value: unknown;
  /** When it stops being live (epoch ms, inclusive); `undefined`: never. */
  readonly expiresAt: number | undefined;
}

/**
 * The reference model of a cache: a Map plus the clock. `nowBefore`/`nowAfter` bracket the call being checked,
 * so that under a real clock answers that depend on time are accepted within the call's duration.
 */
export class CacheModel {
  /** Every key set and not deleted (expired ones are dropped when read). */
  readonly entries: Map<string, ModelEntry> = new Map();

  /** @param now the clock, in epoch milliseconds (the adapter's). */
  constructor(readonly now: () => number) {}

  #alive(key: string, at: number): ModelEntry | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt !== undefined && at > entry.expiresAt) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  /** The live entry of `key`, if any. */
  get(key: string): ModelEntry | undefined {
    return this.#alive(key, this.now());
  }

  /** Records `set(key, value, ttl)` issued at `at` (epoch ms); `ttl` in seconds. */
  set(key: string, value: unknown, ttl: number | undefined, at: number): void {
    const ms = ttlToMs(ttl);
    this.entries.set(key, { value, expiresAt: ms === undefined ? undefined : at + ms });
  }

  /** Records `delete(key)`; true when the key was live. */
  delete(key: string): boolean {
    const present = this.get(key) !== undefined;
    this.entries.delete(key);
    return present;
  }

  /** Every live key. */
  live(): string[] {
    return [...this.entries.keys()].filter((k) => this.get(k) !== undefined);
  }
}

/** One call of the model-based run, checked against {@link CacheModel}. */
export type CacheCommand = fc.AsyncCommand<CacheModel, CacheProtocol, false>;
type Real = CacheProtocol;
type Cmd = CacheCommand;

class GetCommand implements Cmd {
  constructor(readonly key: string) {}
  check = (): boolean => true;
  async run(model: CacheModel, real: Real): Promise<void> {
    expectSameValue(await real.get(this.key), model.get(this.key)?.value);
  }
  toString = (): string => `get(${JSON.stringify(this.key)})`;
}

class SetCommand implements Cmd {
  constructor(
    readonly key: string,
    readonly value: unknown,
    readonly ttl: number | undefined,
  ) {}
  check = (): boolean => true;
  async run(model: CacheModel, real: Real): Promise<void> {
    const before = model.now();
    await real.set(this.key, this.value, this.ttl);
    model.set(this.key, this.value, this.ttl, before);
  }
  toString = (): string => `set(${JSON.stringify(this.key)}, …, ${this.ttl})`;
}

class DeleteCommand implements Cmd {
  constructor(readonly key: string) {}
  check = (): boolean => true;
  async run(model: CacheModel, real: Real): Promise<void> {
    await real.delete(this.key);
    model.delete(this.key);
  }
  toString = (): string => `delete(${JSON.stringify(this.key)})`;
}

class ExistsCommand implements Cmd {
  constructor(readonly key: string) {}
  check = (): boolean => true;
  async run(model: CacheModel, real: Real): Promise<void> {
    expect(await real.exists(this.key)).toBe(model.get(this.key) !== undefined);
  }
  toString = (): string => `exists(${JSON.stringify(this.key)})`;
}

class GetManyCommand implements Cmd {
  constructor(readonly keys: readonly string[]) {}
  check = (): boolean => true;
  async run(model: CacheModel, real: Real): Promise<void> {
    const expected = new Map<string, unknown>();
    for (const k of this.keys) {
      const entry = model.get(k);
      if (entry !== undefined && !expected.has(k)) expected.set(k, entry.value);
    }
    const actual = await real.getMany(this.keys);
    expectSameValue([...actual.entries()], [...expected.entries()]);
  }
  toString = (): string => `getMany(${JSON.stringify(this.keys)})`;
}

class SetManyCommand implements Cmd {
  constructor(
    readonly items: ReadonlyArray<readonly [string, unknown]>,
    readonly ttl: number | undefined,
  ) {}
  check = (): boolean => true;
  async run(model: CacheModel, real: Real): Promise<void> {
    const before = model.now();
    await real.setMany(new Map(this.items), this.ttl);
    for (const [k, v] of this.items) model.set(k, v, this.ttl, before);
  }
  toString = (): string => `setMany(${JSON.stringify(this.items.map(([k]) => k))}, ${this.ttl})`;
}

class DeletePatternCommand implements Cmd {
  constructor(readonly pattern: string) {}
  check = (): boolean => true;
  async run(model: CacheModel, real: Real): Promise<void> {
    const doomed = model.live().filter((k) => matchGlob(this.pattern, k));
    expect(await real.deletePattern(this.pattern)).toBe(doomed.length);
    for (const k of doomed) model.delete(k);
  }
  toString = (): string => `deletePattern(${JSON.stringify(this.pattern)})`;
}

class TtlCommand implements Cmd {
  constructor(readonly key: string) {}
  check = (): boolean => true;
  async run(model: CacheModel, real: Real): Promise<void> {
    const before = model.now();
    const actual = await real.ttl(this.key);
    const after = model.now();
    const entry = model.get(this.key);
    if (entry?.expiresAt === undefined) {
      expect(actual).toBeUndefined();
      return;
    }
    // Under a real clock the answer may reflect any instant of the call: accept the whole bracket.
    const highest = Math.max(1, Math.ceil((entry.expiresAt - before) / 1000));
    const lowest = Math.max(1, Math.ceil((entry.expiresAt - after) / 1000));
    expect(actual).toBeGreaterThanOrEqual(lowest);
    expect(actual).toBeLessThanOrEqual(highest);
  }
  toString = (): string => `ttl(${JSON.stringify(this.key)})`;
}

class ClearCommand implements Cmd {
  check = (): boolean => true;
  async run(model: CacheModel, real: Real): Promise<void> {
    await real.clear();
    model.entries.clear();
  }
  toString = (): string => 'clear()';
}

class ElapseCommand implements Cmd {
  constructor(
    readonly ms: number,
    readonly elapse: (ms: number) => Promise<void>,
  ) {}
  check = (): boolean => true;
  async run(): Promise<void> {
    await this.elapse(this.ms);
  }
  toString = (): string => `elapse(${this.ms}ms)`;
}

/** How {@link cacheCommands} builds its command mix. */
export interface CacheCommandsOptions {
  /** The keys calls use (a small set makes calls collide). */
  readonly keys: fc.Arbitrary<string>;
  /** The values `set` and `setMany` write. */
  readonly values: fc.Arbitrary<unknown>;
  /** The globs `deletePattern` uses. */
  readonly patterns: fc.Arbitrary<string>;
  /** TTLs in seconds (undefined: none). */
  readonly ttls: fc.Arbitrary<number | undefined>;
  /** Include deletePattern. */
  readonly patternDelete: boolean;
  /** Moves time (manual clocks only); omitted under a real clock. */
  readonly elapse?: (ms: number) => Promise<void>;
  /** The most calls in one run. @default 40 */
  readonly maxCommands?: number;
}

/** Random sequences of all nine methods (and clock moves), checked against {@link CacheModel}. */
export function cacheCommands(options: CacheCommandsOptions): fc.Arbitrary<Iterable<Cmd>> {
  const { keys, values, patterns, ttls, elapse } = options;
  const commands: Array<fc.Arbitrary<Cmd>> = [
    keys.map((k) => new GetCommand(k)),
    fc.tuple(keys, values, ttls).map(([k, v, t]) => new SetCommand(k, v, t)),
    keys.map((k) => new DeleteCommand(k)),
    keys.map((k) => new ExistsCommand(k)),
    fc.array(keys, { maxLength: 5 }).map((ks) => new GetManyCommand(ks)),
    fc
      .uniqueArray(fc.tuple(keys, values), { selector: ([k]) => k, maxLength: 4 })
      .chain((items) => ttls.map((t) => new SetManyCommand(items, t))),
    keys.map((k) => new TtlCommand(k)),
    fc.constant(new ClearCommand()),
  ];
  if (options.patternDelete) commands.push(patterns.map((p) => new DeletePatternCommand(p)));
  if (elapse !== undefined) {
    commands.push(fc.integer({ min: 1, max: 5_000 }).map((ms) => new ElapseCommand(ms, elapse)));
  }
  return fc.commands(commands, { maxCommands: options.maxCommands ?? 40 });
}
