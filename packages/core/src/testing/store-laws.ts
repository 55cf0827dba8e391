import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { EntryWrite } from '../entry.js';
import { matchGlob } from '../glob.js';
import type { CacheStore } from '../store.js';
import { deleteMatching } from '../store-cache.js';
import { keyArb, patternArb } from './arbitraries.js';
import { defaultNumRuns, ManualClock, seedFromEnv } from './harness.js';

/** What a store factory is given: its namespace, and the suite's clock for stores that take one. */
export interface StoreFactoryContext {
  /** A namespace unique to this law's run; a second one is passed for the namespace law. */
  readonly namespace: string;
  /** The clock the suite controls (epoch ms): pass it to the store when `clock` is `'manual'`. */
  readonly now: () => number;
}

/** How `describeCacheStore` builds and tears down the store under test. */
export interface CacheStoreSuiteOptions<S extends CacheStore = CacheStore> {
  /** Makes a store in `context.namespace`. */
  create(context: StoreFactoryContext): S | Promise<S>;
  /** Releases a store the suite made. @default its `close()` */
  destroy?(store: S): void | Promise<void>;
  /**
   * `'manual'`: the store reads time from `context.now`, and the suite moves it (exact, instant). `'real'`: real
   * time passes (a server); expiry laws use short TTLs and sleep.
   * @default 'real'
   */
  clock?: 'manual' | 'real';
  /** Runs per property. @default STRATA_FC_RUNS from the environment, else 50 */
  numRuns?: number;
}

/** Any text a codec could produce, and some that look like Strata's own formats. */
const textArb: fc.Arbitrary<string> = fc.oneof(
  fc.json(),
  fc.string(),
  fc.constantFrom(
    '{"$s":1,"exp":5,"v":1}',
    '{"$s":2,"exp":null,"ml":2,"m":{},"v":2}',
    '{"$t":"Date","v":null}',
  ),
);

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A lease's placeholder entry, as read-through writes it: no value, the holder's token as its version. */
const leaseOf = (token: string, ttlMs: number): EntryWrite => ({
  text: 'null',
  ttlMs,
  meta: { placeholder: true, version: token, lease: { token, ttlMs } },
});

/** A loaded value's entry, with its own version stamp. */
const loadedEntry = (text: string, version: string): EntryWrite => ({
  text,
  ttlMs: undefined,
  meta: { version },
});
let suiteRun = 0;

/**
 * Registers the laws every {@link CacheStore} keeps as Vitest tests (fast-check properties): what a store author
 * runs to prove a backend, before `describeCacheProtocol` proves the adapter built on it with `StoreCache`.
 *
 * @example
 * describeCacheStore('MyStore', { create: ({ namespace }) => new MyStore({ namespace }) });
 */
export function describeCacheStore<S extends CacheStore>(
  name: string,
  options: CacheStoreSuiteOptions<S>,
): void {
  const manual = options.clock === 'manual';
  const numRuns = options.numRuns ?? defaultNumRuns();
  const seed = seedFromEnv();
  const assertOptions = (runs: number) => ({ numRuns: runs, ...(seed === undefined ? {} : { seed }) });

  /** Runs `law` on a fresh store (and a clock), then releases it. */
  const withStore =
    (law: (store: S, clock: ManualClock | undefined, open: (ns: string) => Promise<S>) => Promise<void>) =>
    async () => {
      const clock = manual ? new ManualClock() : undefined;
      const now = clock?.now ?? Date.now;
      const opened: S[] = [];
      const open = async (namespace: string): Promise<S> => {
        const store = await options.create({ namespace, now });
        opened.push(store);
        return store;
      };
      try {
        await law(await open(`store-law-${process.pid}-${++suiteRun}`), clock, open);
      } finally {
        for (const store of opened) await (options.destroy?.(store) ?? store.close());
      }
    };

  const clear = async (store: CacheStore): Promise<void> => {
    for await (const batch of store.scan('*')) await store.delete(batch);
  };

  describe(`${name} keeps the CacheStore laws`, () => {
    it(
      'an entry written is read back: the same text, an expiry no later than its TTL allows, its metadata',
      withStore(async (store) => {
        await fc.assert(
          fc.asyncProperty(
            keyArb,
            textArb,
            // Under a real clock a TTL of a few ms may run out before the read (a loaded machine): such an entry
            // is rightly gone. The expiry laws themselves are checked apart.
            fc.option(fc.integer({ min: manual ? 1 : 2_000, max: 3_600_000 }), { nil: undefined }),
            async (key, text, ttlMs) => {
              await clear(store);
              const before = store.now();
              await store.set(key, { text, ttlMs, meta: { version: 'v1', tags: { t: 3 }, freshMs: 500 } });
              const after = store.now();
              const entry = await store.get(key);
              expect(entry?.text).toBe(text);
              expect(entry?.meta?.version).toBe('v1');
              expect(entry?.meta?.tags).toEqual({ t: 3 });
              if (ttlMs === undefined) expect(entry?.expiresAt).toBeUndefined();
              else {
                expect(entry!.expiresAt!).toBeLessThanOrEqual(after + ttlMs);
                expect(entry!.expiresAt!).toBeGreaterThan(before + ttlMs - 1_000);
              }
              expect(entry!.meta!.freshUntil!).toBeLessThanOrEqual(after + 500);
              const [many] = await store.getMany([key]);
              expect(many?.text).toBe(text);
            },
          ),
          assertOptions(numRuns),
        );
      }),
    );

    it(
      "a tag's version is stable until bumped; bumpTags raises each tag it names, and no other, above every version it had",
      withStore(async (store, _clock, open) => {
        const tag = (name: string): string => `${name}-${process.pid}-${++suiteRun}`;
        const [a, b, c] = [tag('a'), tag('b'), tag('c:{x}\u00e9 *')];
        const first = await store.tagVersions([a, b, c]);
        expect(first).toHaveLength(3);
        for (const v of first) expect(Number.isSafeInteger(v)).toBe(true);
        expect(await store.tagVersions([c, a])).toEqual([first[2], first[0]]);
        const bumped = await store.bumpTags([a, c]);
        expect(bumped[0]).toBeGreaterThan(first[0]!);
        expect(bumped[1]).toBeGreaterThan(first[2]!);
        expect(await store.tagVersions([a, b, c])).toEqual([bumped[0], first[1], bumped[1]]);
        const again = await store.bumpTags([a]);
        expect(again[0]).toBeGreaterThan(bumped[0]!);
        // Concurrent bumps of one tag each raise it: none is lost.
        const together = await Promise.all([store.bumpTags([b]), store.bumpTags([b]), store.bumpTags([b])]);
        const seen = new Set(together.map(([v]) => v));
        expect(seen.size).toBe(3);
        expect((await store.tagVersions([b]))[0]).toBe(Math.max(...(seen as Set<number>)));
        // Deleting every entry (clear) does not lower a tag's version: invalidated entries never come back.
        await store.clear();
        expect(await store.tagVersions([a])).toEqual(again);
        // Another namespace's tags are its own.
        const other = await open(`store-law-other-${process.pid}-${++suiteRun}`);
        const before = await other.tagVersions([a]);
        await store.bumpTags([a]);
        expect(await other.tagVersions([a])).toEqual(before);
        expect(await store.tagVersions([])).toEqual([]);
      }),
    );

    it(
      'a key never written, or deleted, reads as undefined; getMany answers by position',
      withStore(async (store) => {
        await fc.assert(
          fc.asyncProperty(fc.uniqueArray(keyArb, { minLength: 2, maxLength: 6 }), async (keys) => {
            await clear(store);
            const [present, ...absent] = keys;
            await store.set(present!, { text: '"here"', ttlMs: undefined });
            expect(await store.get(absent[0]!)).toBeUndefined();
            const entries = await store.getMany(keys);
            expect(entries.map((e) => e?.text)).toEqual(
              keys.map((k) => (k === present ? '"here"' : undefined)),
            );
            expect(await store.delete([present!])).toBe(1);
            expect(await store.get(present!)).toBeUndefined();
            expect(await store.delete([present!, ...absent])).toBe(0);
          }),
          assertOptions(numRuns),
        );
      }),
    );

    it(
      'a write replaces the entry and its expiry; setMany writes each',
      withStore(async (store) => {
        await store.set('k', { text: '1', ttlMs: 60_000 });
        await store.set('k', { text: '2', ttlMs: undefined });
        expect(await store.get('k')).toMatchObject({ text: '2', expiresAt: undefined });
        await store.setMany([
          ['a', { text: '"a"', ttlMs: undefined }],
          ['b', { text: '"b"', ttlMs: 60_000 }],
        ]);
        const [a, b] = await store.getMany(['a', 'b']);
        expect([a?.text, b?.text]).toEqual(['"a"', '"b"']);
        expect(b?.expiresAt).toBeGreaterThan(store.now());
      }),
    );

    it(
      'an entry lives through its TTL and is gone after it',
      withStore(async (store, clock) => {
        const ttlMs = clock === undefined ? 300 : 1_000;
        await store.set('short', { text: '1', ttlMs });
        await store.set('long', { text: '2', ttlMs: 3_600_000 });
        if (clock !== undefined) clock.advance(ttlMs);
        expect((await store.get('short'))?.text).toBe('1');
        if (clock === undefined) await sleep(ttlMs + 150);
        else clock.advance(1);
        expect(await store.get('short')).toBeUndefined();
        expect(await store.delete(['short'])).toBe(0);
        expect((await store.get('long'))?.text).toBe('2');
      }),
    );

    it(
      'scan yields exactly the live keys matching a Redis glob',
      withStore(async (store) => {
        await fc.assert(
          fc.asyncProperty(fc.uniqueArray(keyArb, { maxLength: 8 }), patternArb, async (keys, pattern) => {
            await clear(store);
            for (const key of keys) await store.set(key, { text: '0', ttlMs: undefined });
            const seen = new Set<string>();
            for await (const batch of store.scan(pattern)) for (const key of batch) seen.add(key);
            expect([...seen].sort()).toEqual(keys.filter((k) => matchGlob(pattern, k)).sort());
          }),
          assertOptions(numRuns),
        );
      }),
    );

    it(
      'compareAndSet writes only over the version it was told, atomically, or over nothing',
      withStore(async (store) => {
        expect(await store.compareAndSet('k', 'v0', { text: '0', ttlMs: undefined })).toBe(false);
        expect(await store.get('k')).toBeUndefined();
        expect(
          await store.compareAndSet('k', null, { text: '1', ttlMs: undefined, meta: { version: 'v1' } }),
        ).toBe(true);
        expect(await store.compareAndSet('k', null, { text: 'x', ttlMs: undefined })).toBe(false);
        expect(await store.compareAndSet('k', 'v0', { text: 'x', ttlMs: undefined })).toBe(false);
        expect((await store.get('k'))?.text).toBe('1');
        expect(
          await store.compareAndSet('k', 'v1', { text: '2', ttlMs: undefined, meta: { version: 'v2' } }),
        ).toBe(true);
        expect(await store.get('k')).toMatchObject({ text: '2', meta: { version: 'v2' } });
        // Any plain write replaces the version: a holder of the old one writes nothing.
        await store.set('k', { text: '3', ttlMs: undefined });
        expect(await store.compareAndSet('k', 'v2', { text: 'x', ttlMs: undefined })).toBe(false);
        expect((await store.get('k'))?.text).toBe('3');
        await store.set('k', { text: '4', ttlMs: undefined, meta: { version: 'v4' } });
        expect(await store.compareAndSet('k', 'v4', null)).toBe(true);
        expect(await store.get('k')).toBeUndefined();
      }),
    );

    it(
      'compareAndSet treats an expired entry as none',
      withStore(async (store, clock) => {
        const ttlMs = clock === undefined ? 200 : 1_000;
        await store.set('k', { text: '1', ttlMs, meta: { version: 'old' } });
        if (clock === undefined) await sleep(ttlMs + 150);
        else clock.advance(ttlMs + 1);
        expect(await store.compareAndSet('k', 'old', { text: 'x', ttlMs: undefined })).toBe(false);
        expect(await store.compareAndSet('k', null, { text: '2', ttlMs: undefined })).toBe(true);
        expect((await store.get('k'))?.text).toBe('2');
      }),
    );

    it(
      "a lease lives in the key's entry: of concurrent takers of a missing key, exactly one holds it",
      withStore(async (store) => {
        await fc.assert(
          fc.asyncProperty(keyArb, fc.integer({ min: 2, max: 8 }), async (key, takers) => {
            await clear(store);
            const before = store.now();
            const taken = await Promise.all(
              Array.from({ length: takers }, (_, i) =>
                store.compareAndSet(key, null, leaseOf(`t${i}`, 60_000)),
              ),
            );
            expect(taken.filter(Boolean)).toHaveLength(1);
            const holder = `t${taken.indexOf(true)}`;
            const entry = await store.get(key);
            expect(entry?.meta).toMatchObject({
              placeholder: true,
              version: holder,
              lease: { token: holder },
            });
            expect(entry!.meta!.lease!.until).toBeGreaterThanOrEqual(before + 60_000 - 1_000);
            expect(entry!.meta!.lease!.until).toBeLessThanOrEqual(store.now() + 60_000);
            // The holder's write lands; a second one (the lease is gone with it) does not.
            expect(await store.compareAndSet(key, holder, loadedEntry('"loaded"', 'w1'))).toBe(true);
            expect(await store.compareAndSet(key, holder, loadedEntry('"again"', 'w2'))).toBe(false);
            expect((await store.get(key))?.text).toBe('"loaded"');
          }),
          assertOptions(numRuns),
        );
      }),
    );

    it(
      'any write of the key voids its lease: the holder then writes nothing (set, delete, a pattern, clear)',
      withStore(async (store) => {
        const voiders: Array<[string, (key: string) => Promise<unknown>]> = [
          ['set', async (key) => store.set(key, { text: '"other"', ttlMs: undefined })],
          ['delete', async (key) => store.delete([key])],
          ['a pattern', (key) => deleteMatching(store, `${key.slice(0, 1)}*`)],
          ['clear', async () => store.clear()],
        ];
        for (const [name, voidLease] of voiders) {
          await clear(store);
          expect(await store.compareAndSet('key', null, leaseOf('held', 60_000)), name).toBe(true);
          await voidLease('key');
          expect(await store.compareAndSet('key', 'held', loadedEntry('"stale"', 'w')), name).toBe(false);
          expect((await store.get('key'))?.text, name).not.toBe('"stale"');
        }
      }),
    );

    it(
      'a lease taken over a value keeps the value readable; an expired lease is free',
      withStore(async (store, clock) => {
        await store.set('k', loadedEntry('"v1"', 'w1'));
        const over: EntryWrite = {
          text: '"v1"',
          ttlMs: undefined,
          meta: { version: 'l1', lease: { token: 'l1', ttlMs: 60_000 } },
        };
        expect(await store.compareAndSet('k', 'w1', over)).toBe(true);
        expect(await store.get('k')).toMatchObject({
          text: '"v1"',
          meta: { version: 'l1', lease: { token: 'l1' } },
        });
        const ttlMs = clock === undefined ? 200 : 1_000;
        expect(await store.compareAndSet('p', null, leaseOf('gone', ttlMs))).toBe(true);
        if (clock === undefined) await sleep(ttlMs + 150);
        else clock.advance(ttlMs + 1);
        expect(await store.compareAndSet('p', 'gone', loadedEntry('"late"', 'w'))).toBe(false);
        expect(await store.compareAndSet('p', null, leaseOf('next', 60_000))).toBe(true);
      }),
    );

    it(
      'a store sees nothing of another namespace',
      withStore(async (store, _clock, open) => {
        const other = await open(`store-law-other-${process.pid}-${++suiteRun}`);
        await store.set('k', { text: '1', ttlMs: undefined });
        expect(await other.get('k')).toBeUndefined();
        for await (const batch of other.scan('*')) expect(batch).toEqual([]);
        expect(await other.delete(['k'])).toBe(0);
        expect((await store.get('k'))?.text).toBe('1');
        // clear empties its own namespace, and only it.
        await other.set('o', { text: '2', ttlMs: undefined });
        await store.set('j', { text: '3', ttlMs: 60_000 });
        await store.clear();
        expect(await store.getMany(['k', 'j'])).toEqual([undefined, undefined]);
        expect((await other.get('o'))?.text).toBe('2');
      }),
    );
  });
}
