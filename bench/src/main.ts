/**
 * `pnpm bench`: Strata's hot paths against raw lru-cache / ioredis baselines and the peers, in one process, on a
 * `redis-server` and a 3-master Cluster it starts itself. `--quick` checks the harness in seconds (exit 1 on any
 * wrong answer) without touching docs/; `--reps=N`, `--no-cluster`, `--out=DIR` adjust a run.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createArena, elapsed } from './arena.js';
import { parseArgs } from './config.js';
import { type Fixtures, startFixtures } from './fixtures.js';
import type { RunContext } from './harness.js';
import { cpuTicks, otherCores } from './machine.js';
import { makeRecord } from './record.js';
import { type RunInfo, renderMarkdown } from './report-markdown.js';
import { renderSvg } from './report-svg.js';
import { Results, type Topology } from './results.js';
import type { Contender, Where } from './subject.js';
import { checkTargets } from './targets.js';
import { runL1Hit, runMemory } from './workloads/l1.js';
import { runL2Workloads } from './workloads/l2.js';
import { createLagPairs, runLag } from './workloads/lag.js';
import { runDeletePattern } from './workloads/pattern.js';
import { runReadThrough } from './workloads/read-through.js';
import { measureClusterRoundTrips } from './workloads/round-trips.js';
import { runTags } from './workloads/tags.js';

const DOCS = fileURLToPath(new URL('../../docs/', import.meta.url));

/** The commit measured, with `+dirty` when tracked files differ from it: figures compare between commits. */
function gitRevision(): string {
  try {
    const git = (args: string[]): string =>
      execFileSync('git', args, { cwd: DOCS, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = git(['status', '--porcelain', '--untracked-files=no']) !== '';
    return `${git(['rev-parse', '--short', 'HEAD'])}${dirty ? '+dirty' : ''}`;
  } catch {
    return 'unknown (not a git checkout)';
  }
}

/**
 * Runs one repetition of a phase and records how many cores other processes used meanwhile, so that a run taken
 * while the machine was busy shows it.
 */
async function repetition(
  ctx: RunContext,
  fixtures: Fixtures,
  topology: Topology,
  rep: number,
  work: () => Promise<void>,
): Promise<void> {
  const pids = fixtures.pids();
  const ticks = cpuTicks(pids);
  const started = performance.now();
  await work();
  const other = otherCores(ticks, pids);
  if (rep >= 0 && other !== undefined) ctx.results.add(topology, 'other-cores', 'machine', rep, other);
  const busy = other === undefined ? '' : `, other processes ${other.toFixed(2)} cores`;
  ctx.log(`  ${topology} repetition ${rep < 0 ? 'warm-up' : rep + 1} (${elapsed(started)}${busy})`);
}

/** `--sabotage`: Strata answers one read with another record; the checks must fail the run. */
function sabotaged(contender: Contender): Contender {
  if (contender.id !== 'strata') return contender;
  let reads = 0;
  return { ...contender, get: async (key) => (++reads === 300 ? makeRecord(-1) : contender.get(key)) };
}

async function standalonePhase(ctx: RunContext, fixtures: Fixtures, reps: number[], sabotage: boolean) {
  const where = fixtures.standalone;
  const arena = await createArena(ctx, fixtures, where, sabotage ? sabotaged : undefined);
  const pairs = await createLagPairs(where.url);
  try {
    for (const rep of reps) {
      await repetition(ctx, fixtures, 'standalone', rep, async () => {
        await runL1Hit(ctx, arena, rep);
        await runL2Workloads(ctx, arena, rep);
        await runLag(ctx, pairs, rep);
        await runReadThrough(ctx, arena, rep);
        await runTags(ctx, arena, rep);
      });
    }
  } finally {
    await Promise.allSettled([arena.close(), ...pairs.map((pair) => pair.close())]);
  }
  await runMemory(ctx, reps);
  await runDeletePattern(ctx, fixtures, where, reps);
}

async function clusterPhase(ctx: RunContext, fixtures: Fixtures, reps: number[]) {
  const started = performance.now();
  const where: Where = await fixtures.cluster();
  ctx.log(`  cluster started (${elapsed(started)})`);
  const arena = await createArena(ctx, fixtures, where);
  try {
    for (const rep of reps)
      await repetition(ctx, fixtures, 'cluster', rep, async () => {
        await runL2Workloads(ctx, arena, rep);
        await runReadThrough(ctx, arena, rep);
      });
    await measureClusterRoundTrips(ctx, arena);
  } finally {
    await arena.close();
  }
  await runDeletePattern(ctx, fixtures, where, reps);
}

async function main(): Promise<number> {
  const { sabotage, outDir, ...config } = parseArgs(process.argv.slice(2));
  const log = (line: string): void => {
    process.stderr.write(`${line}\n`);
  };
  const ctx: RunContext = { config, results: new Results(), log };
  const started = performance.now();
  const ticks = cpuTicks();
  const loadBefore = loadavg();
  log(
    `bench: ${config.quick ? 'quick' : 'full'} run, load average ${loadBefore.map((v) => v.toFixed(2)).join(' ')}`,
  );
  if (!config.quick && loadBefore[0]! >= 1)
    log('bench: WARNING: the machine is busy (1-minute load ≥ 1): figures will be noisy');
  const fixtures = await startFixtures();
  let redis = 'unknown';
  try {
    const [master] = await fixtures.masters(fixtures.standalone);
    redis = /redis_version:(\S+)/.exec((await master?.info('server')) ?? '')?.[1] ?? redis;
    const reps = [...(config.warmup ? [-1] : []), ...Array.from({ length: config.reps }, (_, i) => i)];
    await standalonePhase(ctx, fixtures, reps, sabotage);
    if (config.cluster) await clusterPhase(ctx, fixtures, reps);
  } finally {
    await fixtures.stop();
  }
  const info: RunInfo = {
    date: new Date().toISOString(),
    revision: gitRevision(),
    node: process.version,
    redis,
    cpu: cpus()[0]?.model.trim() ?? 'unknown CPU',
    cores: cpus().length,
    loadBefore,
    loadAfter: loadavg(),
    otherCores: otherCores(ticks),
    reps: config.reps,
    warmup: config.warmup,
    quick: config.quick,
    seconds: (performance.now() - started) / 1000,
  };
  const targets = checkTargets(ctx.results);
  for (const check of targets) {
    const ratio = check.ratio === undefined ? '–' : `${check.ratio.toFixed(3)}×`;
    log(
      `  ${check.met === false ? 'MISS' : check.met ? 'met ' : '    '} ${check.topology} ${check.what}: ${ratio} (${check.target})`,
    );
  }
  const target = outDir !== undefined ? resolve(outDir) : config.quick ? undefined : DOCS;
  if (target !== undefined) {
    await mkdir(target, { recursive: true });
    const json = {
      info,
      config,
      targets,
      measurements: ctx.results.measurements,
      commands: Object.fromEntries(ctx.results.commands),
      notes: Object.fromEntries(ctx.results.notes),
    };
    await writeFile(join(target, 'benchmarks.json'), `${JSON.stringify(json, null, 2)}\n`);
    await writeFile(join(target, 'benchmarks.md'), renderMarkdown(ctx.results, info));
    await writeFile(join(target, 'benchmarks.svg'), renderSvg(ctx.results));
    log(`bench: wrote benchmarks.{md,svg,json} to ${target}`);
  }
  log(
    `bench: done in ${Math.round(info.seconds)} s, ${ctx.results.measurements.length} figures, every answer checked`,
  );
  return 0;
}

main().then(
  // Some peers keep timers and sockets alive after close: exit explicitly.
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(
      `bench: FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);
