import { expect } from 'vitest';
import { CacheUnavailableError } from '../../errors.js';
import type { CacheProtocol } from '../../protocol.js';
import type { LawGroup } from '../harness.js';

type Closable = CacheProtocol & { close(): Promise<void>; [Symbol.asyncDispose]?: () => Promise<void> };

function isClosable(cache: CacheProtocol): cache is Closable {
  return typeof (cache as Partial<Closable>).close === 'function';
}

/** Closing: a closed cache rejects every call, and closing twice is harmless. */
export function lifecycleLaws(): LawGroup {
  return {
    name: 'lifecycle',
    laws: [
      {
        name: 'a closed cache rejects every call with CacheUnavailableError, and close is idempotent',
        run: async (ctx) => {
          const cache = await ctx.createSibling('closing');
          if (!isClosable(cache)) return;
          expect(typeof cache[Symbol.asyncDispose]).toBe('function');
          await cache.set('k', 1);
          await cache.close();
          await cache.close();
          const calls: Array<Promise<unknown>> = [
            cache.get('k'),
            cache.set('k', 2),
            cache.delete('k'),
            cache.exists('k'),
            cache.getMany(['k']),
            cache.setMany({ k: 3 }),
            cache.deletePattern('*'),
            cache.ttl('k'),
            cache.clear(),
          ];
          for (const call of calls) await expect(call).rejects.toBeInstanceOf(CacheUnavailableError);
        },
      },
    ],
  };
}
