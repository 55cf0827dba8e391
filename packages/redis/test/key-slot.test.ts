import fc from 'fast-check';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { keySlot } from '../src/internal/key-slot.js';

const redis = inject('redis');
let node: Redis;
beforeAll(() => {
  node = new Redis(redis.cluster.nodes[0]!);
});
afterAll(async () => {
  await node.quit();
});

it('keySlot follows the Redis Cluster spec examples', () => {
  expect(keySlot('123456789')).toBe(0x31c3 & 0x3fff);
  expect(keySlot('{user1000}.following')).toBe(keySlot('{user1000}.followers'));
  expect(keySlot('foo{}{bar}')).not.toBe(keySlot('bar'));
  expect(keySlot('foo{{bar}}zap')).toBe(keySlot('{bar'));
  expect(keySlot('foo{bar}{zap}')).toBe(keySlot('bar'));
});

it('keySlot answers as CLUSTER KEYSLOT does, braces and multi-byte characters included', async () => {
  const unit = fc.constantFrom('{', '}', 'a', 'b', '{}', ':', 'é', '😀', '\t');
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.string({ unit, maxLength: 10 }), { minLength: 50, maxLength: 50 }),
      async (keys) => {
        const pipeline = node.pipeline();
        for (const key of keys) pipeline.call('CLUSTER', 'KEYSLOT', key);
        const replies = (await pipeline.exec()) ?? [];
        for (const [i, key] of keys.entries()) expect(keySlot(key), JSON.stringify(key)).toBe(replies[i]![1]);
      },
    ),
    { numRuns: 40 },
  );
  // The key that cluster-key-slot 1.1.1 (ioredis's own) gets wrong.
  expect(keySlot('ns:{}aaa}\t')).toBe(await node.call('CLUSTER', 'KEYSLOT', 'ns:{}aaa}\t'));
});
