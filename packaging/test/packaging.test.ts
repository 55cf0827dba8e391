import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type RedisServerHandle, startRedisServer } from '@strata-cache/redis-testkit';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));
const ATTW = fileURLToPath(new URL('../node_modules/.bin/attw', import.meta.url));
const TSC = join(ROOT, 'node_modules/.bin/tsc');

/** Every package users install: the public ones, each packed as `pnpm publish` would. */
const PUBLIC = ['core', 'memory', 'redis', 'tiered'] as const;
type PublicPackage = (typeof PUBLIC)[number];
/** What users add next to them, at the versions the workspace tests. */
const IOREDIS = 'ioredis@6.0.0';
const TYPES_NODE = '@types/node@20.19.43';

interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  files?: string[];
  exports?: Record<string, unknown>;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

let work: string;
let redis: RedisServerHandle | undefined;
const tarballs = new Map<PublicPackage, string>();

async function sh(file: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = {}) {
  try {
    return await run(file, args, { cwd, env: { ...process.env, ...env }, maxBuffer: 32 * 1024 * 1024 });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`${file} ${args.join(' ')} failed in ${cwd}:\n${stdout ?? ''}\n${stderr ?? ''}`, {
      cause: error,
    });
  }
}

/** The files a tarball holds, and its package.json. */
async function unpack(tarball: string): Promise<{ files: string[]; manifest: Manifest }> {
  const { stdout } = await sh('tar', ['-tzf', tarball], work);
  const { stdout: json } = await sh('tar', ['-xzOf', tarball, 'package/package.json'], work);
  return { files: stdout.trim().split('\n'), manifest: JSON.parse(json) as Manifest };
}

/** A new npm project outside the workspace, with `packages` installed from the tarballs (and the registry). */
async function freshProject(name: string, specs: readonly string[]): Promise<string> {
  const dir = join(work, name);
  await mkdir(dir);
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name, private: true, type: 'module' }));
  await sh(
    'npm',
    ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', ...specs],
    dir,
  );
  return dir;
}

beforeAll(async () => {
  // The tarballs ship dist/: build it (incremental, so a few seconds when .ci/run has just run `pnpm build`).
  await sh(TSC, ['-b', ...PUBLIC.map((name) => `packages/${name}`)], ROOT);
  work = await mkdtemp(join(tmpdir(), 'strata-packaging-'));
  const dest = join(work, 'tarballs');
  for (const name of PUBLIC) {
    await sh('pnpm', ['pack', '--pack-destination', dest], join(ROOT, 'packages', name));
  }
  for (const file of await readdir(dest)) {
    const name = PUBLIC.find(
      (n) => file === `strata-cache-${n}-0.1.0.tgz` || file.startsWith(`strata-cache-${n}-`),
    );
    if (name !== undefined) tarballs.set(name, join(dest, file));
  }
}, 120_000);

afterAll(async () => {
  await redis?.stop();
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

describe.each(PUBLIC)('@strata-cache/%s as packed', (name) => {
  const tarball = (): string => {
    const file = tarballs.get(name);
    if (file === undefined) throw new Error(`pnpm pack made no tarball for ${name}`);
    return file;
  };

  it('ships its build, declarations and README, and nothing of the workspace', async () => {
    const { files, manifest } = await unpack(tarball());
    expect(files).toContain('package/dist/index.js');
    expect(files).toContain('package/dist/index.d.ts');
    expect(files).toContain('package/README.md');
    expect(files.filter((f) => /\.tsbuildinfo$|\/test\/|\.test\.ts$/.test(f))).toEqual([]);
    expect(manifest.private).toBeUndefined();
    const specs = { ...manifest.dependencies, ...manifest.peerDependencies };
    expect(Object.values(specs).filter((spec) => spec.startsWith('workspace:'))).toEqual([]);
    // Runtime dependencies are pinned exactly (a cache must not change under a user by a transitive update)…
    for (const [dep, spec] of Object.entries(manifest.dependencies ?? {})) {
      expect(spec, `${name} → ${dep}`).toMatch(/^\d+\.\d+\.\d+$/);
    }
    // …except what the user brings: the Redis client is a peer, never a dependency.
    expect(manifest.dependencies?.ioredis).toBeUndefined();
    if (name === 'redis') expect(manifest.peerDependencies?.ioredis).toBe('^6.0.0');
  });

  it('publint reports nothing, suggestions included', async () => {
    const { messages, pkg } = await publint({
      pack: { tarball: (await readFile(tarball())).buffer as ArrayBuffer },
      level: 'suggestion',
      strict: true,
    });
    expect(messages.map((m) => formatMessage(m, pkg, { color: false }))).toEqual([]);
  });

  it('arethetypeswrong reports nothing for ESM consumers (node16 from ESM, bundler)', async () => {
    // ESM only, by design (STYLE.md): the CommonJS resolutions (node10, node16 from CJS) are out of scope.
    const { stdout } = await sh(ATTW, [tarball(), '--profile', 'esm-only', '--format', 'json'], work);
    const { analysis } = JSON.parse(stdout) as {
      analysis: { problems: Array<{ kind: string; entrypoint: string; resolutionKind?: string }> };
    };
    const ignored = new Set(['node10', 'node16-cjs']);
    expect(analysis.problems.filter((p) => !ignored.has(p.resolutionKind ?? ''))).toEqual([]);
  });
});

describe('installed from the tarballs into a fresh npm project', () => {
  it('@strata-cache/memory installs and runs on its own (with core), without ioredis', async () => {
    const dir = await freshProject('memory-only', [tarballs.get('core')!, tarballs.get('memory')!]);
    await copyFile(join(FIXTURES, 'memory-only.mjs'), join(dir, 'memory-only.mjs'));
    const { stdout } = await sh(process.execPath, ['memory-only.mjs'], dir);
    expect(JSON.parse(stdout)).toEqual({ keys: ['b', 'a'], date: true, ttl: 30 });
    await expect(readdir(join(dir, 'node_modules', 'ioredis'))).rejects.toThrow();
  });

  it('composes TieredCache from memory over Redis with RedisPubSubBus, and type-checks for users', async () => {
    redis = await startRedisServer();
    const dir = await freshProject('full', [...PUBLIC.map((n) => tarballs.get(n)!), IOREDIS, TYPES_NODE]);
    // One copy of core for everyone, or `instanceof CacheError` would break between packages.
    const { stdout: tree } = await sh('npm', ['ls', '@strata-cache/core', '--all', '--parseable'], dir);
    expect(tree.trim().split('\n')).toEqual([join(dir, 'node_modules/@strata-cache/core')]);

    await copyFile(join(FIXTURES, 'compose.mjs'), join(dir, 'compose.mjs'));
    const { stdout } = await sh(process.execPath, ['compose.mjs'], dir, { REDIS_URL: redis.url });
    const report = JSON.parse(stdout) as Record<string, unknown> & { resolved: string[] };
    // Plain Node, no source condition: every import resolves to the installed build.
    for (const url of report.resolved) {
      expect(url).toMatch(new RegExp(`^file://${dir}/node_modules/@strata-cache/[a-z]+/dist/index\\.js$`));
    }
    const coherent = { typesKept: true, fresh: 'Grace', hitsB: [1, 2] };
    expect(report).toMatchObject({
      memory: coherent,
      redis: coherent,
      validation: 'CACHE_INVALID_KEY',
      codec: '{"n":{"$t":"BigInt","v":"1"}}',
    });

    await copyFile(join(FIXTURES, 'consumer.ts'), join(dir, 'consumer.ts'));
    const tsconfig = {
      compilerOptions: {
        target: 'ES2022',
        lib: ['ES2022'],
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        types: ['node'],
        strict: true,
        exactOptionalPropertyTypes: true,
        noEmit: true,
        skipLibCheck: false,
      },
      files: ['consumer.ts'],
    };
    await writeFile(join(dir, 'tsconfig.json'), JSON.stringify(tsconfig));
    await sh(TSC, ['-p', 'tsconfig.json'], dir);
  });
});
