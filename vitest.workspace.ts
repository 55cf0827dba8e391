import type { TestProjectInlineConfiguration } from 'vitest/config';

/** One Vitest project per package; `vitest.config.ts` passes this list to `test.projects`. */
const PACKAGES = ['core', 'memory', 'redis', 'tiered'] as const;

export const projects: TestProjectInlineConfiguration[] = PACKAGES.map((name) => ({
  extends: true,
  test: {
    name,
    root: `packages/${name}`,
    include: ['test/**/*.test.ts'],
  },
}));
