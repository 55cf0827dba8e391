import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, inject, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The demo must finish on its own well within this; a hang fails the test. */
const DEMO_TIMEOUT_MS = 45_000;

interface DemoRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `pnpm demo ARGS` from the repository root, exactly as the README says, and collects its output. */
function runDemo(args: readonly string[], env: NodeJS.ProcessEnv): Promise<DemoRun> {
  return new Promise((resolve, reject) => {
    const child = spawn('pnpm', ['--silent', 'demo', ...args], {
      cwd: ROOT,
      env: { ...env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `pnpm demo ${args.join(' ')} did not exit within ${DEMO_TIMEOUT_MS} ms:\n${stdout}\n${stderr}`,
        ),
      );
    }, DEMO_TIMEOUT_MS);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function withoutRedisUrl(): NodeJS.ProcessEnv {
  const { REDIS_URL: _, ...env } = process.env;
  return env;
}

/** Nothing went wrong on stderr (warnings of the environment, such as a deprecation notice, are not ours). */
function expectNoErrors(run: DemoRun): void {
  expect(run.stderr).not.toMatch(/error|fail|✘/i);
}

/** The parts of the embedded demo every run must show. */
function expectEmbeddedPart(stdout: string): void {
  expect(stdout).toContain('Part 1 · two instances in one process');
  expect(stdout).toMatch(/B\s+get user:42 → Ada from L2, now filled into B’s L1/);
  expect(stdout).toMatch(/B\s+get user:42 → Ada from L1/);
  expect(stdout).toMatch(/B\s+← invalidation from A: keys \[user:42\] \(dropped from B’s L1\)/);
  expect(stdout).toContain('✔ the fill fence refused to put 100 in B’s L1 (stats().fenceRejections: 1)');
  expect(stdout).toContain('✔ the replayed race is real: without the fence, the stale 100 stays in L1');
  expect(stdout).not.toContain('✘');
  expect(stdout).toContain('Every check held.');
}

/** The parts of the Redis demo every run must show. */
function expectRedisPart(stdout: string, rounds: number): void {
  expect(stdout).toMatch(/reader get product:1 → .* from L2\n.*reader get product:1 → .* from L1/);
  expect(stdout).toContain('✔ the reader serves the new price right after the invalidation');
  expect(stdout).toMatch(/set\(\) call → reader’s L1 dropped(\s+[\d.]+ ms){4}/);
  expect(stdout).toContain(`✔ fresh reads after each invalidation: ${rounds}/${rounds}`);
  // Long steps say what they are doing before they finish.
  expect(stdout).toMatch(/starting two Node processes \(writer, reader\), subscribing …\n/);
  expect(stdout).toMatch(/measuring \d+\/\d+\n/);
}

describe('pnpm demo', () => {
  it('runs with no configuration on memory tiers and a LocalBus, and exits 0 by itself', async () => {
    const run = await runDemo(['--embedded'], withoutRedisUrl());
    expectNoErrors(run);
    expect(run.code).toBe(0);
    expectEmbeddedPart(run.stdout);
    expect(run.stdout).not.toContain('Part 2 · two Node processes over Redis');
  });

  it('starts its own redis-server when one is on PATH and runs two processes over it', async () => {
    const run = await runDemo(['--redis', '--rounds=40'], withoutRedisUrl());
    expectNoErrors(run);
    expect(run.code).toBe(0);
    expectEmbeddedPart(run.stdout);
    expect(run.stdout).toMatch(/starting redis-server .*: done/);
    expectRedisPart(run.stdout, 40);
    expect(run.stdout).toMatch(/stopping redis-server: done/);
  });

  it('uses REDIS_URL when it is set, and starts no server', async () => {
    const { url } = inject('redis');
    const run = await runDemo(['--rounds=40'], { ...withoutRedisUrl(), REDIS_URL: url });
    expectNoErrors(run);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`Redis: ${url} from REDIS_URL`);
    expect(run.stdout).not.toContain('starting redis-server');
    expectRedisPart(run.stdout, 40);
  });
});
