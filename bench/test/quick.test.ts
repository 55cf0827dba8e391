import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const BENCH = fileURLToPath(new URL('..', import.meta.url));

interface Outcome {
  readonly code: number;
  readonly stderr: string;
}

/** Runs `pnpm bench`'s entry point in quick mode as a child process (it needs `--expose-gc` and its own exit). */
function runBench(args: readonly string[]): Promise<Outcome> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [
        '--conditions=@strata-cache/source',
        '--import',
        'tsx',
        '--expose-gc',
        'src/main.ts',
        '--quick',
        ...args,
      ],
      { cwd: BENCH, timeout: 110_000, maxBuffer: 16 * 1024 * 1024 },
      (error, _stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
        resolve({ code, stderr });
      },
    );
  });
}

describe('pnpm bench --quick', () => {
  it('runs every workload for every library on Redis and the Cluster, and every answer checks out', async () => {
    const { code, stderr } = await runBench([]);
    expect(stderr, stderr).toMatch(/every answer checked/);
    expect(code).toBe(0);
    expect(stderr).toMatch(/cluster repetition 1/);
  }, 120_000);

  it('fails the run when a library answers a wrong record', async () => {
    const { code, stderr } = await runBench(['--sabotage', '--no-cluster']);
    expect(stderr).toMatch(/WrongAnswerError: strata: expected record \d+, got \{"id":-1/);
    expect(code).toBe(1);
  }, 120_000);
});
