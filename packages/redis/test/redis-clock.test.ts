import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { RedisClock } from '../src/internal/redis-clock.js';

const redis = inject('redis');

/** Redis's `TIME` reply in epoch ms. */
function redisNow([seconds, micros]: number[]): number {
  return Number(seconds) * 1000 + Number(micros) / 1000;
}

describe('RedisClock', () => {
  let client: Redis;
  beforeAll(() => {
    client = new Redis(redis.url);
  });
  afterAll(() => {
    client.disconnect();
  });

  it('bounds Redis time: earliest() is never later than TIME, latest() never earlier', async () => {
    const clock = new RedisClock(client, 1_000);
    expect(clock.known).toBe(false);
    clock.connected();
    expect(clock.gate).toBeInstanceOf(Promise);
    await clock.gate;
    expect(clock.gate).toBeUndefined();
    expect(clock.known).toBe(true);
    for (let i = 0; i < 50; i++) {
      const earliest = clock.earliest();
      const time = redisNow(await client.time());
      const latest = clock.latest();
      expect(earliest).toBeLessThanOrEqual(time);
      expect(latest).toBeGreaterThanOrEqual(time);
      // The bounds are tight: a round trip plus a couple of milliseconds of margin (a loaded CI machine's round trip
      // can take a few milliseconds).
      expect(latest - earliest).toBeLessThan(25);
    }
    clock.stop();
  });

  it('stays unknown, and opens its gate, when the server refuses TIME or never answers', async () => {
    const refusing = new Redis(redis.url);
    refusing.time = (() =>
      Promise.reject(new Error('NOPERM no permissions to run the time command'))) as never;
    const refused = new RedisClock(refusing, 1_000);
    refused.connected();
    await refused.gate;
    expect(refused.known).toBe(false);
    refused.stop();
    refusing.disconnect();

    const silent = new Redis(redis.url);
    silent.time = (() => new Promise(() => {})) as never;
    const hung = new RedisClock(silent, 100);
    const started = performance.now();
    hung.connected();
    await hung.gate;
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(hung.known).toBe(false);
    hung.stop();
    silent.disconnect();
  });
});
