import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { cacheProtocolLaws } from '../src/testing/index.js';

const PAGE = fileURLToPath(new URL('../../../docs/laws.md', import.meta.url));

const SPEC_LAWS: Record<string, string> = {
  basic: 'Laws 1, 3, 4, 5, 12 — round trip, miss, `null` is a value, delete, no aliasing',
  codec: 'Law 2 — no silent change of type',
  ttl: 'Law 6 — TTLs',
  batch: 'Law 9 — batches',
  'keys and validation': 'Laws 7, 8 — bad input is refused whole; keys are opaque',
  pattern: 'Law 10 — patterns are Redis globs',
  namespaces: 'Law 11 — namespaces',
  lifecycle: 'Closing',
  model: 'Law 13 — substitutability (model-based)',
  tags: 'Tags and deleteMany',
};

function render(): string {
  const lines = [
    '# The laws',
    '',
    '<!-- Generated from @strata-cache/core/testing by packages/core/test/laws-doc.test.ts; run',
    '     `UPDATE_DOCS=1 pnpm vitest run --project core laws-doc` after changing a law. -->',
    '',
    'Every adapter runs these as property tests with `describeCacheProtocol` from `@strata-cache/core/testing`:',
    'each line is one test, named as the fact it checks, run with many generated inputs (`STRATA_FC_RUNS`,',
    'default 50). Strata runs them against MemoryCacheAdapter, RedisCacheAdapter (standalone, Cluster, Sentinel,',
    'and a namespace full of glob metacharacters) and TieredCache (over memory, over Redis, over a Cluster).',
    'Laws that depend on time are exact to the millisecond with an injected clock; against Redis they use',
    '0.3 s TTLs checked 150 ms after expiry.',
    '',
  ];
  for (const group of cacheProtocolLaws()) {
    lines.push(`## ${SPEC_LAWS[group.name] ?? group.name}`, '');
    for (const law of group.laws)
      lines.push(`- ${law.name}${law.requires ? ` (adapters with \`${law.requires}\`)` : ''}`);
    lines.push('');
  }
  return lines.join('\n');
}

it('docs/laws.md lists exactly the laws the suite checks', () => {
  const expected = render();
  if (process.env.UPDATE_DOCS === '1') writeFileSync(PAGE, expected);
  expect(readFileSync(PAGE, 'utf8')).toBe(expected);
});
