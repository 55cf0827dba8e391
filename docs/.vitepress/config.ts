import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type DefaultTheme, defineConfig } from 'vitepress';
import { brokenLinks } from './link-check.js';

/** The API reference's sidebar, written by `pnpm docs:api` (TypeDoc); absent until it has run. */
function apiSidebar(): DefaultTheme.SidebarItem[] {
  const file = fileURLToPath(new URL('../api/typedoc-sidebar.json', import.meta.url));
  if (!existsSync(file)) return [{ text: 'Run pnpm docs:api first', link: '/api/' }];
  return JSON.parse(readFileSync(file, 'utf8')) as DefaultTheme.SidebarItem[];
}

const guide: DefaultTheme.SidebarItem[] = [
  {
    text: 'Start here',
    items: [
      { text: 'Overview', link: '/' },
      { text: 'Getting started', link: '/getting-started' },
      { text: 'Concepts', link: '/concepts' },
      { text: 'Read-through: getOrSet', link: '/read-through' },
      { text: 'Tags', link: '/tags' },
      { text: 'The demo and the examples', link: '/examples' },
    ],
  },
  {
    text: 'Guarantees',
    items: [
      { text: 'The laws', link: '/laws' },
      { text: 'The coherence guarantee', link: '/coherence' },
      { text: 'The codec', link: '/codec' },
      { text: 'Decisions', link: '/decisions' },
    ],
  },
  {
    text: 'Packages',
    items: [
      { text: '@strata-cache/core', link: '/packages/core' },
      { text: '@strata-cache/memory', link: '/packages/memory' },
      { text: '@strata-cache/redis', link: '/packages/redis' },
      { text: '@strata-cache/tiered', link: '/packages/tiered' },
      { text: 'Redis: topologies and costs', link: '/redis' },
    ],
  },
  {
    text: 'Guides',
    items: [
      { text: 'Writing your own adapter', link: '/custom-adapter' },
      { text: 'How Strata is built', link: '/architecture' },
      { text: 'Production', link: '/production' },
      { text: 'Coming from BentoCache, cache-manager, keyv', link: '/migrating' },
      { text: 'The seed’s Python names', link: '/seed-names' },
      { text: 'Benchmarks', link: '/benchmarks' },
    ],
  },
  { text: 'API reference', link: '/api/' },
];

export default defineConfig({
  title: 'Strata',
  description: 'Tiered caching for TypeScript: an in-process LRU over Redis, coherent across processes.',
  // docs/README.md is the index on GitHub; on the site it is the home page.
  rewrites: { 'README.md': 'index.md' },
  cleanUrls: true,
  lastUpdated: false,
  // A broken link fails `pnpm docs:build`, and so CI (this is VitePress's default; stated so nobody turns it off).
  ignoreDeadLinks: false,
  // Outside docs/, so that linters and git never see Vite's dependency cache.
  cacheDir: fileURLToPath(new URL('../../node_modules/.cache/vitepress', import.meta.url)),
  buildEnd(site) {
    const broken = brokenLinks(site.outDir);
    if (broken.length > 0) throw new Error(`${broken.length} broken link(s):\n${broken.join('\n')}`);
  },
  themeConfig: {
    nav: [
      { text: 'Guide', link: '/getting-started' },
      { text: 'Laws', link: '/laws' },
      { text: 'Packages', link: '/packages/core' },
      { text: 'API', link: '/api/' },
    ],
    sidebar: {
      '/api/': [
        { text: '← Guide', link: '/getting-started' },
        { text: 'API reference', link: '/api/', items: apiSidebar() },
      ],
      '/': guide,
    },
    search: { provider: 'local' },
    outline: { level: [2, 3] },
  },
});
