import { LocalBus, LocalBusChannel } from '@strata-cache/core';
import { MemoryCacheAdapter } from '@strata-cache/memory';
import { TieredCache } from '@strata-cache/tiered';
import { HeldReplyTier } from './held-reply-tier.js';
import { NaiveTieredCache } from './naive-tiered-cache.js';
import { act, type Checks, cyan, dim, heading, say, show, table, yellow } from './terminal.js';

/** Where the last read of a cache was answered, from its `hit` and `miss` events. */
function traced(cache: TieredCache): <T>(key: string) => Promise<{ value: T | undefined; from: string }> {
  let from = 'miss';
  cache.on('hit', ({ tier }) => {
    from = `L${tier + 1}`;
  });
  cache.on('miss', () => {
    from = 'miss';
  });
  return async <T>(key: string) => {
    from = 'miss';
    const value = await cache.get<T>(key);
    return { value, from };
  };
}

/** Resolves when `cache` next applies an invalidation from another instance. */
function nextInvalidation(cache: TieredCache): Promise<string> {
  return new Promise((resolve) => {
    cache.once('invalidation-received', (message) => {
      if (message.kind === 'keys') resolve(`keys [${message.keys.join(', ')}]`);
      else resolve(message.kind === 'pattern' ? `pattern ${message.pattern}` : 'clear');
    });
  });
}

function statsRows(caches: ReadonlyArray<readonly [string, TieredCache]>): string[][] {
  return caches.map(([name, cache]) => {
    const s = cache.stats();
    return [
      name,
      String(s.hits[0]),
      String(s.hits[1]),
      String(s.misses),
      String(s.invalidationsSent),
      String(s.invalidationsReceived),
      String(s.fenceRejections),
      String(s.loads),
    ];
  });
}

/**
 * Part 1: two `TieredCache` instances in one process, each with its own L1, sharing one L2 and one in-process bus:
 * what two processes sharing a Redis look like, with nothing to install or configure.
 */
export async function runEmbeddedDemo(checks: Checks): Promise<void> {
  heading('Part 1 · two instances in one process (no configuration)');
  say(
    `  A and B each have an L1 (${cyan('MemoryCacheAdapter')}) over one shared L2 (a MemoryCacheAdapter standing in`,
  );
  say(
    `  for Redis), and hear each other on a ${cyan('LocalBus')}: the shape of two processes sharing a Redis.`,
  );

  const l2 = new MemoryCacheAdapter({ namespace: 'demo' });
  const channel = new LocalBusChannel();
  const heldL2 = new HeldReplyTier(l2);
  const a = new TieredCache({
    tiers: [new MemoryCacheAdapter(), l2],
    bus: new LocalBus({ channel, id: 'A' }),
  });
  const b = new TieredCache({
    tiers: [new MemoryCacheAdapter(), heldL2],
    bus: new LocalBus({ channel, id: 'B' }),
  });
  // C shares the L2 but has no bus: nobody tells it about writes.
  const c = new TieredCache({ tiers: [new MemoryCacheAdapter(), l2] });
  await Promise.all([a.ready(), b.ready(), c.ready()]);
  const getA = traced(a);
  const getB = traced(b);
  const getC = traced(c);

  say();
  say(`  ${yellow('1.')} Hits per tier`);
  const ada = { name: 'Ada', langs: new Set(['en', 'fr']), joined: new Date('1833-06-05T00:00:00Z') };
  let invalidated = nextInvalidation(b);
  await a.set('user:42', ada, 300);
  act('A', `set user:42 = ${show(ada)} ${dim('(TTL 300 s: L2 first, then A’s L1)')}`);
  act('B', `← invalidation from A: ${await invalidated} ${dim('(nothing cached in B yet)')}`);
  for (let i = 0; i < 2; i++) {
    const read = await getB<typeof ada>('user:42');
    act(
      'B',
      `get user:42 → ${read.value?.name} from ${read.from}${i === 0 ? dim(', now filled into B’s L1') : ''}`,
    );
  }
  const readA = await getA<typeof ada>('user:42');
  act('A', `get user:42 → ${readA.value?.name} from ${readA.from}`);
  const fromB = await b.get<typeof ada>('user:42');
  checks.expect(
    fromB?.langs instanceof Set && fromB.joined instanceof Date,
    'a Set and a Date come back as a Set and a Date, through both tiers',
  );
  await getC('user:42');

  say();
  say(`  ${yellow('2.')} An invalidation crosses instances`);
  invalidated = nextInvalidation(b);
  await a.set('user:42', { ...ada, name: 'Ada Lovelace' }, 300);
  act('A', `set user:42 = { name: "Ada Lovelace", … }`);
  act('B', `← invalidation from A: ${await invalidated} ${dim('(dropped from B’s L1)')}`);
  const fresh = await getB<typeof ada>('user:42');
  act('B', `get user:42 → ${fresh.value?.name} from ${fresh.from}`);
  checks.expect(fresh.value?.name === 'Ada Lovelace', 'B reads the new value right after the write');
  const stale = await getC<typeof ada>('user:42');
  act(
    'C',
    `get user:42 → ${stale.value?.name} from ${stale.from} ${dim('(C has no bus: stale until its maxTtl, 60 s)')}`,
  );

  say();
  say(`  ${yellow('3.')} The coherence guarantee: a stale refill, refused`);
  say(
    `  ${dim('B misses its L1 and asks L2; the reply leaves L2 before A’s write but arrives after A’s invalidation.')}`,
  );
  invalidated = nextInvalidation(b);
  await a.set('price:7', 100);
  await invalidated;
  act('A', 'set price:7 = 100');
  const hold = heldL2.holdNextRead();
  const reading = b.get<number>('price:7');
  act(
    'B',
    `get price:7 → L1 miss; L2 answers ${show(await hold.answered)} ${dim('… reply still in flight')}`,
  );
  invalidated = nextInvalidation(b);
  await a.set('price:7', 120);
  act('A', 'set price:7 = 120 → L2 holds 120, invalidation published');
  act('B', `← invalidation from A: ${await invalidated} ${dim('(nothing in B’s L1 to drop yet)')}`);
  hold.release();
  act(
    'B',
    `the held reply arrives: get returned ${show(await reading)} ${dim('(a read concurrent with a write may return either)')}`,
  );
  checks.expect(
    b.stats().fenceRejections === 1,
    'the fill fence refused to put 100 in B’s L1 (stats().fenceRejections: 1)',
  );
  const after = await getB<number>('price:7');
  act('B', `get price:7 → ${after.value} from ${after.from}`);
  checks.expect(after.value === 120, 'B serves 120, what L2 holds');

  const naiveL2 = new MemoryCacheAdapter({ namespace: 'naive' });
  const naiveHeld = new HeldReplyTier(naiveL2);
  const naiveChannel = new LocalBusChannel();
  const naiveA = new NaiveTieredCache(
    new MemoryCacheAdapter(),
    naiveL2,
    new LocalBus({ channel: naiveChannel }),
  );
  const naiveB = new NaiveTieredCache(
    new MemoryCacheAdapter(),
    naiveHeld,
    new LocalBus({ channel: naiveChannel }),
  );
  let heard: () => void = () => {};
  await naiveA.start(() => {});
  await naiveB.start(() => heard());
  const naiveHeard = (): Promise<void> =>
    new Promise((resolve) => {
      heard = resolve;
    });
  await naiveA.set('price:7', 100);
  const naiveHold = naiveHeld.holdNextRead();
  const naiveReading = naiveB.get<number>('price:7');
  await naiveHold.answered;
  const naiveInvalidated = naiveHeard();
  await naiveA.set('price:7', 120);
  await naiveInvalidated;
  naiveHold.release();
  await naiveReading;
  const naiveAfter = await naiveB.get<number>('price:7');
  say(
    `  ${dim('For contrast, a read-through that fills L1 unconditionally (the usual way), same schedule:')}`,
  );
  act(
    'B′',
    `get price:7 → ${naiveAfter.value} from ${naiveAfter.from} ${dim('while L2 holds 120: stale until its L1 TTL')}`,
  );
  checks.expect(
    naiveAfter.value === 100 && naiveAfter.from === 'L1',
    'the replayed race is real: without the fence, the stale 100 stays in L1',
  );

  say();
  say(`  ${yellow('4.')} Pattern deletes cross instances too`);
  invalidated = nextInvalidation(b);
  const count = await a.deletePattern('user:*');
  act('A', `deletePattern('user:*') → ${count} key deleted (Redis glob, in every tier)`);
  act('B', `← invalidation from A: ${await invalidated}`);
  const gone = await getB('user:42');
  act('B', `get user:42 → ${show(gone.value)}`);
  checks.expect(gone.value === undefined, 'B no longer serves a deleted key');

  say();
  say(`  ${yellow('5.')} Read-through: one load for a stampede, and no stale set`);
  const database = new Map<string, number>([['stock:9', 5]]);
  let loads = 0;
  const loadStock = async () => {
    loads++;
    const row = database.get('stock:9');
    await new Promise((resolve) => setTimeout(resolve, 20));
    return row;
  };
  const stampede = await Promise.all(
    Array.from({ length: 100 }, (_, i) => (i % 2 === 0 ? a : b).getOrSet('stock:9', loadStock, { ttl: 300 })),
  );
  act(
    'A, B',
    `100 concurrent getOrSet('stock:9') → ${show(stampede[0])} for all; the loader ran ${loads} time`,
  );
  checks.expect(
    loads === 1 && stampede.every((v) => v === 5),
    'one loader run for 100 callers in two instances',
  );
  await a.delete('stock:9');
  let release!: () => void;
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  const racing = a.getOrSet(
    'stock:9',
    async () => {
      const row = database.get('stock:9');
      await held;
      return row;
    },
    { ttl: 300 },
  );
  await new Promise((resolve) => setTimeout(resolve, 5));
  act('A', `getOrSet('stock:9'): its loader read the row (${database.get('stock:9')}) and is still running…`);
  database.set('stock:9', 4);
  await b.delete('stock:9');
  act('B', 'a sale: the row becomes 4, then delete(stock:9)');
  release();
  act('A', `…the load returns ${show(await racing)} to its caller, who asked before the sale`);
  const afterSale = await b.getOrSet('stock:9', loadStock, { ttl: 300 });
  act(
    'B',
    `getOrSet('stock:9') → ${show(afterSale)} ${dim('(the old row was never cached: its lease was voided)')}`,
  );
  checks.expect(afterSale === 4, 'a load racing a delete leaves nothing stale behind');

  say();
  say('  Counters (cache.stats()):');
  table(
    ['instance', 'L1 hits', 'L2 hits', 'misses', 'sent', 'received', 'fence refusals', 'loads'],
    statsRows([
      ['A', a],
      ['B', b],
      ['C (no bus)', c],
    ]),
  );

  for (const cache of [a, b, c]) await cache.close();
}
