/**
 * Runs one of Strata's hot paths alone for a while, to be profiled:
 * `node --cpu-prof --cpu-prof-dir=DIR --conditions=@strata-cache/source --import tsx src/profile.ts <path> [seconds]`
 * where `<path>` is `l1` (TieredCache L1 hit), `l2` (L2 hit, sequential, L1 emptied each pass), `l2-64` (the same,
 * 64 in flight), `get-many` (100 keys from L2), `set` (sequential, bus included) or `set-64` (64 in flight;
 * `raw-set-64` is raw SET EX of JSON.stringify, 64 in flight); `adapter-l2-64` and
 * `raw-l2-64` run the 64-in-flight reads through `RedisCacheAdapter` alone and raw ioredis GET + JSON.parse, for
 * comparison. Then summarise the profile with `src/profile-summary.ts`. With `--alloc=FILE` it also samples every
 * allocation of the timed loop, collected or not (V8's sampling heap profiler through the inspector), into FILE:
 * `--heap-prof` would keep only what is still alive at exit.
 */
import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector';
import { startRedisServer } from '@strata-cache/redis-testkit';
import { Redis } from 'ioredis';
import { checkRecord, makeRecord } from './record.js';
import { L1_ENTRIES, TTL_SECONDS } from './subject.js';
import { populate, strataStack } from './subjects/strata.js';
import { timeConcurrent, timeSequential } from './timing.js';

const PATHS = [
  'l1',
  'l2',
  'l2-64',
  'get-many',
  'set',
  'set-64',
  'raw-set-64',
  'adapter-l2-64',
  'raw-l2-64',
] as const;
type HotPath = (typeof PATHS)[number];

/** `session.post` as a promise. */
function post(session: Session, method: string, params: object): Promise<unknown> {
  return new Promise((resolve, reject) => {
    session.post(method, params, (error, result) => (error === null ? resolve(result) : reject(error)));
  });
}

async function main(): Promise<void> {
  const path = process.argv[2] as HotPath;
  const seconds = Number(process.argv[3] ?? 8);
  const allocFile = process.argv.find((arg) => arg.startsWith('--alloc='))?.slice('--alloc='.length);
  if (!PATHS.includes(path)) throw new Error(`usage: profile.ts <${PATHS.join('|')}> [seconds]`);
  const server = await startRedisServer();
  const where = { topology: 'standalone', url: server.url } as const;
  const stack = await strataStack(where, 'prof');
  const keys = Array.from({ length: L1_ENTRIES }, (_, i) => `r:${i}`);
  await populate(where, 'prof')(
    keys,
    keys.map((_, i) => makeRecord(i)),
  );
  const { cache, l1, l2 } = stack;
  const raw = new Redis(server.url);
  const readers = {
    'raw-l2-64': async (key: string): Promise<unknown> => {
      const text = await raw.get(`prof:${key}`);
      return text === null ? undefined : JSON.parse(text);
    },
    'adapter-l2-64': (key: string) => l2.get(key),
  } as const;
  const get =
    path === 'raw-l2-64' || path === 'adapter-l2-64' ? readers[path] : (key: string) => cache.get(key);
  const read = async (i: number): Promise<void> => checkRecord(await get(keys[i]!), i, path);
  const session = allocFile === undefined ? undefined : new Session();
  if (session !== undefined) {
    session.connect();
    await post(session, 'HeapProfiler.startSampling', {
      samplingInterval: 1024,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
  }
  const deadline = performance.now() + seconds * 1000;
  let ops = 0;
  const started = performance.now();
  while (performance.now() < deadline) {
    if (path === 'l1') {
      for (let pass = 0; pass < 100; pass++) await timeSequential(1_000, read);
      ops += 100_000;
    } else if (path === 'l2' || path.endsWith('l2-64')) {
      await l1.clear();
      await (path === 'l2' ? timeSequential(keys.length, read) : timeConcurrent(keys.length, 64, read));
      ops += keys.length;
    } else if (path === 'get-many') {
      await l1.clear();
      for (let j = 0; j < keys.length / 100; j++) {
        const batch = keys.slice(j * 100, (j + 1) * 100);
        const found = await cache.getMany(batch);
        for (const [k, key] of batch.entries()) checkRecord(found.get(key), j * 100 + k, 'strata getMany');
      }
      ops += keys.length / 100;
    } else if (path === 'set-64') {
      await timeConcurrent(2_000, 64, (i) => cache.set(`w:${i}`, makeRecord(i), TTL_SECONDS));
      ops += 2_000;
    } else if (path === 'raw-set-64') {
      await timeConcurrent(2_000, 64, async (i) => {
        await raw.set(`prof:w:${i}`, JSON.stringify(makeRecord(i)), 'EX', TTL_SECONDS);
      });
      ops += 2_000;
    } else {
      await timeSequential(2_000, (i) => cache.set(`w:${i}`, makeRecord(i), TTL_SECONDS));
      ops += 2_000;
    }
  }
  const micros = ((performance.now() - started) * 1000) / ops;
  if (session !== undefined && allocFile !== undefined) {
    const { profile } = (await post(session, 'HeapProfiler.stopSampling', {})) as { profile: unknown };
    await writeFile(allocFile, JSON.stringify(profile));
    session.disconnect();
  }
  process.stderr.write(`profile ${path}: ${ops} operations, ${micros.toFixed(2)} µs each\n`);
  raw.disconnect();
  await stack.close();
  await server.stop();
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
