// `pnpm demo`: Strata in two minutes of reading. Part 1 needs nothing; part 2 runs when REDIS_URL is set or
// `redis-server` is on PATH. Flags: --embedded (part 1 only), --redis (part 2 is required), --rounds=N.
import { parseArgs } from 'node:util';
import { runEmbeddedDemo } from './embedded-demo.js';
import { redisAvailable, runRedisDemo } from './redis-demo.js';
import { bold, Checks, dim, green, heading, red, say } from './terminal.js';

const { values } = parseArgs({
  options: {
    embedded: { type: 'boolean', default: false },
    redis: { type: 'boolean', default: false },
    rounds: { type: 'string', default: '200' },
  },
});
const rounds = Number(values.rounds);
if (!Number.isSafeInteger(rounds) || rounds < 1) throw new RangeError('--rounds must be a positive integer');

const checks = new Checks();
say(bold('Strata demo'));
say(
  'A TieredCache keeps hot keys in an in-process L1 over a shared L2 (Redis), and keeps every instance’s L1',
);
say('coherent by sending invalidations, never values, over a bus.');

try {
  await runEmbeddedDemo(checks);
  if (values.embedded) {
    say();
    say(dim('Part 2 (two processes over Redis) skipped: --embedded.'));
  } else if (values.redis || redisAvailable()) {
    await runRedisDemo(checks, rounds);
  } else {
    heading('Part 2 · two Node processes over Redis: skipped');
    say(
      '  No Redis here: set REDIS_URL=redis://HOST:PORT, or install redis-server (apt-get install redis-server)',
    );
    say('  and run `pnpm demo` again: it starts its own on a free port and stops it at the end.');
  }
} catch (error) {
  say();
  say(red(`The demo failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`));
  process.exitCode = 1;
}

say();
if (checks.failed > 0 || process.exitCode === 1) {
  say(red(`${checks.failed} check(s) failed.`));
  process.exitCode = 1;
} else {
  say(green('Every check held.'));
  say(`Next: ${bold('docs/getting-started.md')}, or run the tests with ${bold('pnpm test')}.`);
}
