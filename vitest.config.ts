import { defineConfig } from 'vitest/config';
// Vitest 4 no longer reads vitest.workspace.ts by itself, so the projects it lists are imported here.
import { projects } from './vitest.workspace.ts';

/** Workspace packages resolve to their TypeScript sources through this export condition: tests need no build. */
const SOURCE_CONDITION = '@strata-cache/source';

export default defineConfig({
  resolve: { conditions: [SOURCE_CONDITION, 'module', 'node', 'import', 'default'] },
  ssr: { resolve: { conditions: [SOURCE_CONDITION, 'node', 'import', 'default'] } },
  test: {
    projects,
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
