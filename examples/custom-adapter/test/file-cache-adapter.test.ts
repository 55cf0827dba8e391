import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeCacheProtocol, describeCacheStore } from '@strata-cache/core/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { FileCacheAdapter, FileStore } from '../src/file-cache-adapter.js';

const directory = await mkdtemp(join(tmpdir(), 'strata-file-cache-'));
afterAll(() => rm(directory, { recursive: true, force: true }));

// #region laws
// The store's own laws, then every law of the contract on the adapter, as property tests. Both take the suite's
// clock, so TTL laws are exact.
describeCacheStore('FileStore', {
  create: ({ namespace, now }) => new FileStore(directory, namespace, now),
  clock: 'manual',
});

describeCacheProtocol('FileCacheAdapter', {
  create: ({ namespace, now }) => new FileCacheAdapter({ directory, namespace, now }),
  clock: 'manual',
});
// #endregion laws

// #region specifics
// Only what is particular to this backend: entries outlive the adapter that wrote them.
describe('FileCacheAdapter specifics', () => {
  it('a new adapter on the same directory reads what an earlier one wrote', async () => {
    const first = new FileCacheAdapter({ directory, namespace: 'restart' });
    await first.set('build:42', { ok: true, at: new Date(0) }, 3600);
    await first.close();
    const second = new FileCacheAdapter({ directory, namespace: 'restart' });
    expect(await second.get('build:42')).toEqual({ ok: true, at: new Date(0) });
    expect(await second.ttl('build:42')).toBe(3600);
  });

  it('refuses unknown options at construction', () => {
    expect(() => new FileCacheAdapter({ directory, nameSpace: 'x' } as never)).toThrow(TypeError);
  });
});
// #endregion specifics
