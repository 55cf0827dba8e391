import { fileURLToPath } from 'node:url';
import type { TestProjectInlineConfiguration } from 'vitest/config';

/** Provides a standalone Redis, a 3-master Cluster and a Sentinel to the projects that need Redis. */
const REDIS_SETUP = fileURLToPath(new URL('./packages/redis-testkit/src/global-setup.ts', import.meta.url));

/** One Vitest project per package; `vitest.config.ts` passes this list to `test.projects`. */
const PACKAGES: ReadonlyArray<{ name: string; redis?: boolean }> = [
  { name: 'core' },
  { name: 'memory' },
  { name: 'redis-testkit' },
  { name: 'redis', redis: true },
  { name: 'tiered', redis: true },
  { name: 'reliability', redis: true },
];

/** Projects outside packages/: the demo, the examples, and the packaging check (`root` is their folder). */
const OTHERS: ReadonlyArray<{ name: string; root: string; redis?: boolean }> = [
  { name: 'demo', root: 'demo', redis: true },
  { name: 'example-http-service', root: 'examples/http-service' },
  { name: 'example-custom-adapter', root: 'examples/custom-adapter' },
  { name: 'packaging', root: 'packaging' },
  // The quick benchmark run checks the harness's answers (not timing); it starts its own redis-server.
  { name: 'bench', root: 'bench' },
];

export const projects: TestProjectInlineConfiguration[] = [
  ...PACKAGES.map(({ name, redis }) => ({ name, root: `packages/${name}`, redis })),
  ...OTHERS,
].map(({ name, root, redis }) => ({
  extends: true,
  test: {
    name,
    root,
    include: ['test/**/*.test.ts'],
    ...(redis ? { globalSetup: [REDIS_SETUP] } : {}),
  },
}));
