// One "instance" of the Redis part of the demo: a Node process with its own TieredCache (memory L1 over Redis L2,
// RedisPubSubBus), driven by the demo's parent over the IPC channel of `fork`.
import type { BusMessage } from '@strata-cache/core';
import { MemoryCacheAdapter } from '@strata-cache/memory';
import { RedisCacheAdapter, RedisPubSubBus } from '@strata-cache/redis';
import { TieredCache } from '@strata-cache/tiered';
import {
  type Envelope,
  preciseNow,
  type Read,
  type ReplyEnvelope,
  type Request,
} from './instance-protocol.js';

const url = process.env.STRATA_DEMO_REDIS_URL;
const namespace = process.env.STRATA_DEMO_NAMESPACE;
if (url === undefined || namespace === undefined || process.send === undefined) {
  throw new Error('redis-instance.ts is started by the demo (pnpm demo), not by hand');
}

const l1 = new MemoryCacheAdapter();
const l2 = new RedisCacheAdapter({ url, namespace });
// Built on the adapter: its writes carry their invalidations (one command each), and it shares the connection.
const bus = new RedisPubSubBus({ adapter: l2 });
const cache = new TieredCache({ tiers: [l1, l2], bus });

let lastTier: Read['from'] = 'miss';
cache.on('hit', ({ tier }) => {
  lastTier = tier === 0 ? 'L1' : 'L2';
});
cache.on('error', ({ operation, error }) => {
  process.stderr.write(`[${process.pid}] cache error during ${operation}: ${error.message}\n`);
});

async function read(key: string): Promise<Read> {
  lastTier = 'miss';
  const value = await cache.get(key);
  return { value, from: value === undefined ? 'miss' : lastTier };
}

let armed: Promise<{ at: number; read: Read }> | undefined;

function arm(key: string): void {
  armed = new Promise((resolve) => {
    const listener = (message: BusMessage): void => {
      if (message.kind !== 'keys' || !message.keys.includes(key)) return;
      const at = preciseNow();
      cache.off('invalidation-received', listener);
      void read(key).then((r) => resolve({ at, read: r }));
    };
    cache.on('invalidation-received', listener);
  });
}

async function handle(request: Request): Promise<unknown> {
  switch (request.op) {
    case 'set': {
      const start = preciseNow();
      await cache.set(request.key, request.value, 300);
      return { start, end: preciseNow() };
    }
    case 'get':
      return read(request.key);
    case 'arm':
      arm(request.key);
      return null;
    case 'awaitInvalidation':
      if (armed === undefined) throw new Error('awaitInvalidation before arm');
      return armed;
    case 'stats':
      return cache.stats();
    case 'close':
      if (request.clear) await cache.clear();
      await cache.close();
      await Promise.all([bus.close(), l2.close(), l1.close()]);
      return null;
  }
}

process.on('message', (message: Envelope) => {
  handle(message).then(
    (result) => {
      const reply: ReplyEnvelope = { id: message.id, ok: true, result };
      process.send?.(reply, () => {
        // Everything is closed; exiting now skips the up-to-2 s linger of ioredis's disconnect timer.
        if (message.op === 'close') process.exit(0);
      });
    },
    (error: unknown) => {
      const reply: ReplyEnvelope = { id: message.id, ok: false, error: String(error) };
      process.send?.(reply);
    },
  );
});

await cache.ready();
process.send({ ready: true });
