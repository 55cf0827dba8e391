import { defineConfig } from 'vitest/config';

/** Resolve workspace packages to their TypeScript sources, as the root config does: tests need no build. */
const SOURCE_CONDITION = '@strata-cache/source';

/** Standalone config, for `pnpm vitest run --root packages/redis-testkit`; the root config has its own project. */
export default defineConfig({
  resolve: { conditions: [SOURCE_CONDITION, 'module', 'node', 'import', 'default'] },
  ssr: { resolve: { conditions: [SOURCE_CONDITION, 'node', 'import', 'default'] } },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
