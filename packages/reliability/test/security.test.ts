import { TLSSocket } from 'node:tls';
import { CacheUnavailableError, type ClosableCache, escapeGlob } from '@strata-cache/core';
import { describeCacheProtocol, keyArb, patternArb, uniqueNamespace } from '@strata-cache/core/testing';
import { MemoryCacheAdapter } from '@strata-cache/memory';
import {
  busChannel,
  RedisCacheAdapter,
  type RedisConnectionOptions,
  RedisPubSubBus,
} from '@strata-cache/redis';
import { type RedisServerHandle, startRedisServer } from '@strata-cache/redis-testkit';
import { TieredCache } from '@strata-cache/tiered';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { eventually, printFigures, sleep } from './support/figures.js';
import { redisSnapshot } from './support/targets.js';
import { freePort, makeCertificates, type TestCertificates } from './support/tls.js';

const redis = inject('redis');

/** A TieredCache (memory over Redis, RedisPubSubBus) and what to close with it. */
interface Stack {
  readonly cache: TieredCache;
  readonly l1: MemoryCacheAdapter;
  readonly l2: RedisCacheAdapter;
  readonly bus: RedisPubSubBus;
  close(): Promise<void>;
}

function stack(connection: RedisConnectionOptions, namespace: string, busOptions: object = {}): Stack {
  const l1 = new MemoryCacheAdapter({ namespace });
  const l2 = new RedisCacheAdapter({ ...connection, namespace });
  const bus = new RedisPubSubBus({ ...connection, ...busOptions, namespace });
  const cache = new TieredCache({ tiers: [l1, l2], bus });
  return {
    cache,
    l1,
    l2,
    bus,
    close: async () => {
      await cache.close();
      await bus.close();
      await l2.close();
      await l1.close();
    },
  };
}

describe('deserializing never pollutes a prototype', () => {
  const PAYLOADS: ReadonlyArray<[string, string]> = [
    ['a top-level __proto__ key', '{"__proto__":{"polluted":"yes"},"a":1}'],
    ['a nested __proto__ key', '{"a":{"b":[{"__proto__":{"polluted":"yes"}}]}}'],
    ['constructor.prototype', '{"constructor":{"prototype":{"polluted":"yes"}}}'],
    [
      'an escaped object (own $t key) with __proto__',
      '{"$t":"Object","v":[["__proto__",{"polluted":"yes"}],["$t","x"]]}',
    ],
    ['a Map tag with a __proto__ key', '{"$t":"Map","v":[["__proto__",{"polluted":"yes"}]]}'],
    ['a Set tag holding a __proto__ object', '{"$t":"Set","v":[{"__proto__":{"polluted":"yes"}}]}'],
  ];
  const namespace = uniqueNamespace('proto');
  let raw: Redis;
  let memory: MemoryCacheAdapter;
  let adapter: RedisCacheAdapter;
  let tiered: Stack;
  const prototypes = [Object.prototype, Array.prototype, Map.prototype, Set.prototype, Function.prototype];
  const before = prototypes.map((p) => Object.getOwnPropertyNames(p).sort());
  beforeAll(async () => {
    raw = new Redis(redis.url);
    memory = new MemoryCacheAdapter({ namespace });
    adapter = new RedisCacheAdapter({ url: redis.url, namespace });
    tiered = stack({ url: redis.url }, `${namespace}t`);
    await tiered.cache.ready();
  });
  afterAll(async () => {
    await tiered.close();
    await adapter.close();
    await memory.close();
    raw.disconnect();
  });

  function expectUntouched(): void {
    expect(prototypes.map((p) => Object.getOwnPropertyNames(p).sort())).toEqual(before);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(([] as unknown as Record<string, unknown>).polluted).toBeUndefined();
  }

  it.each(PAYLOADS)('%s: written through set on every adapter, read back as own data', async (_, text) => {
    const payload = JSON.parse(text) as unknown;
    // What a user sets may itself come from JSON.parse of untrusted input.
    for (const cache of [memory, adapter, tiered.cache]) {
      await cache.set('payload', payload);
      const back = await cache.get<Record<string, unknown>>('payload');
      expect(back).toEqual(payload);
      if (back !== null && typeof back === 'object' && !(back instanceof Map) && !(back instanceof Set)) {
        expect(Object.getPrototypeOf(back)).toBe(Object.prototype);
      }
      expectUntouched();
    }
  });

  it.each(PAYLOADS)(
    '%s: foreign bytes in Redis, read by the adapter and by TieredCache',
    async (what, text) => {
      // A key per payload: bytes written behind TieredCache's back are not invalidated in its L1.
      const key = `foreign ${what}`;
      await raw.set(`${namespace}:${key}`, text);
      await raw.set(`${namespace}t:${key}`, text);
      const viaAdapter = await adapter.get<Record<string, unknown>>(key);
      const viaTiered = await tiered.cache.get<Record<string, unknown>>(key);
      for (const value of [viaAdapter, viaTiered]) {
        expect(value).toBeDefined();
        if (!(value instanceof Map) && !(value instanceof Set)) {
          expect(Object.getPrototypeOf(value)).toBe(Object.prototype);
        }
      }
      expect(viaTiered).toEqual(viaAdapter);
      expectUntouched();
    },
  );

  it('keys named __proto__ and constructor are keys like any other, also in setMany items and getMany results', async () => {
    const items = JSON.parse('{"__proto__":{"polluted":"yes"},"constructor":1,"prototype":2}') as Record<
      string,
      unknown
    >;
    for (const cache of [memory, adapter, tiered.cache]) {
      await cache.setMany(items);
      const found = await cache.getMany(['__proto__', 'constructor', 'prototype']);
      expect([...found.keys()]).toEqual(['__proto__', 'constructor', 'prototype']);
      expect(found.get('__proto__')).toEqual({ polluted: 'yes' });
      expect(await cache.get('constructor')).toBe(1);
      expect(await cache.deletePattern('__proto__')).toBe(1);
      expectUntouched();
    }
  });
});

describe('namespace isolation: nothing given to one namespace reads, deletes or invalidates anything in another', () => {
  // One namespace is a glob that matches the other's name: unescaped, its SCAN MATCH would reach the other.
  const base = uniqueNamespace('iso');
  const NAMESPACES = [`${base}a`, `${base}[ab]`] as const;
  const VICTIM_KEYS = ['k', '*', '?', 'x:y', '[ab]', 'a\\*', 'é', `${base}a:k`];
  let raw: Redis;
  const stacks = new Map<string, Stack[]>();
  beforeAll(async () => {
    raw = new Redis(redis.url);
    for (const namespace of NAMESPACES) {
      const pair = [stack({ url: redis.url }, namespace), stack({ url: redis.url }, namespace)];
      await Promise.all(pair.map((s) => s.cache.ready()));
      stacks.set(namespace, pair);
    }
  });
  afterAll(async () => {
    for (const pair of stacks.values()) for (const s of pair) await s.close();
    raw.disconnect();
  });

  type Op =
    | { m: 'set' | 'delete' | 'get' | 'exists' | 'ttl'; key: string }
    | { m: 'setMany' | 'getMany'; keys: string[] }
    | { m: 'deletePattern'; pattern: string }
    | { m: 'clear' };
  const hostileKey = fc.oneof(
    keyArb,
    fc.constantFrom(...VICTIM_KEYS, ...NAMESPACES, ...NAMESPACES.map((n) => `${n}:k`), ':k', '../k'),
  );
  const hostilePattern = fc.oneof(
    patternArb,
    fc.constantFrom(
      '*',
      '*k*',
      `${base}*`,
      `*${base}*`,
      '[ab]*',
      ':*',
      '*:*',
      '\\*',
      `${escapeGlob(base)}a:*`,
    ),
  );
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    fc.record({
      m: fc.constantFrom(
        'set' as const,
        'delete' as const,
        'get' as const,
        'exists' as const,
        'ttl' as const,
      ),
      key: hostileKey,
    }),
    fc.record({
      m: fc.constantFrom('setMany' as const, 'getMany' as const),
      keys: fc.uniqueArray(hostileKey, { maxLength: 4 }),
    }),
    {
      weight: 2,
      arbitrary: fc.record({ m: fc.constant('deletePattern' as const), pattern: hostilePattern }),
    },
    fc.record({ m: fc.constant('clear' as const) }),
  );

  async function apply(cache: TieredCache, op: Op): Promise<void> {
    switch (op.m) {
      case 'set':
        return cache.set(op.key, 'hostile');
      case 'delete':
      case 'get':
      case 'exists':
      case 'ttl':
        await cache[op.m](op.key);
        return;
      case 'setMany':
        return cache.setMany(new Map(op.keys.map((k) => [k, 'hostile'])));
      case 'getMany':
        await cache.getMany(op.keys);
        return;
      case 'deletePattern':
        await cache.deletePattern(op.pattern);
        return;
      case 'clear':
        return cache.clear();
    }
  }

  it('holds for any sequence of calls on either namespace (fast-check, two namespaces on one Redis)', async () => {
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(0, 1),
        fc.array(opArb, { minLength: 1, maxLength: 8 }),
        async (attacker, ops) => {
          runs++;
          const victimNs = NAMESPACES[1 - attacker]!;
          const attackerNs = NAMESPACES[attacker]!;
          const [victim] = stacks.get(victimNs)!;
          const [hostile, hostilePeer] = stacks.get(attackerNs)!;
          const tag = (key: string) => `${victimNs}|${key}`;
          await hostile!.cache.clear();
          await victim!.cache.clear();
          await victim!.cache.setMany(Object.fromEntries(VICTIM_KEYS.map((k) => [k, tag(k)])));
          // Read twice: the first read of a key just written may race the write's own invalidation.
          for (let i = 0; i < 2; i++) await victim!.cache.getMany(VICTIM_KEYS);
          for (const key of VICTIM_KEYS) expect(await victim!.l1.get(key)).toBe(tag(key));
          const l2Before = await redisSnapshot(raw, victimNs);
          const statsBefore = victim!.cache.stats();
          for (const op of ops) await apply(hostile!.cache, op);
          // A marker on the attacker's channel: once its peer hears it, anything cross-talk would have arrived too.
          const heard = new Promise<void>((resolve) =>
            hostilePeer!.cache.once('invalidation-received', () => resolve()),
          );
          await hostile!.cache.delete('marker');
          await heard;
          await sleep(10);
          expect(await redisSnapshot(raw, victimNs)).toEqual(l2Before);
          for (const key of VICTIM_KEYS) {
            expect(await victim!.l1.get(key)).toBe(tag(key));
            expect(await victim!.cache.get(key)).toBe(tag(key));
          }
          const statsAfter = victim!.cache.stats();
          expect(statsAfter.invalidationsReceived).toBe(statsBefore.invalidationsReceived);
          expect(statsAfter.resets).toBe(statsBefore.resets);
          // Reading the attacker's own keys never yields the victim's values.
          const hostileRead = await hostile!.cache.getMany(VICTIM_KEYS);
          for (const value of hostileRead.values())
            expect(String(value).startsWith(`${victimNs}|`)).toBe(false);
        },
      ),
      { numRuns: 30 },
    );
    // The check can fail: the victim's own peer does invalidate it.
    const [victim, peer] = stacks.get(NAMESPACES[1])!;
    await peer!.cache.set('k', 'changed by a peer');
    await eventually(
      'the victim hears its own namespace',
      async () => (await victim!.l1.get('k')) === undefined,
      2_000,
    );
    printFigures('security: namespace isolation', [
      `namespaces ${NAMESPACES.join(' and ')}: ${runs} random call sequences, each checked for L2 keys, L1 entries, reads and invalidations of the other`,
    ]);
  }, 120_000);
});

/**
 * The ACL a Strata user needs, for a namespace: its keys, its bus channel, and these commands (found by running the
 * whole protocol and the bus with `-@all` and reading ACL LOG; each one is shown to be needed below). INFO is only
 * for ioredis' ready check: without it ioredis warns and skips the check.
 */
const STRATA_COMMANDS = [
  'get',
  'set',
  'mget',
  'unlink',
  'scan',
  'publish',
  'subscribe',
  'info',
  'evalsha',
  'eval',
  'time',
  'incr',
] as const;

/** The ACL SETUSER rules (also a users.acl line after `user <name>`) of a Strata user for `namespace`. */
function strataAclRules(
  namespace: string,
  password: string,
  commands: readonly string[] = STRATA_COMMANDS,
): string[] {
  return [
    'reset',
    'on',
    `>${password}`,
    `~${escapeGlob(namespace)}:*`,
    // Tags' version counters, outside the namespace's keys.
    `~${escapeGlob(namespace)}#tag#*`,
    'resetchannels',
    `&${escapeGlob(busChannel(namespace))}`,
    '-@all',
    ...commands.map((command) => `+${command}`),
  ];
}

describe('a Redis ACL user limited to one namespace and its bus channel can do everything Strata needs', () => {
  let server: RedisServerHandle;
  let admin: Redis;
  const password = 'strata-acl-test';
  const made = new WeakMap<object, Stack>();
  const users = new Map<string, string>();
  // Law namespaces hold glob characters ('?', '[', '*'): the user name is a plain counter instead.
  const userOf = (namespace: string) => {
    if (!users.has(namespace)) users.set(namespace, `strata${users.size}`);
    return users.get(namespace)!;
  };
  const as = (namespace: string): RedisConnectionOptions => ({
    url: server.url,
    redisOptions: { username: userOf(namespace), password },
  });
  async function grant(namespace: string, commands?: readonly string[]): Promise<void> {
    await admin.call('ACL', 'SETUSER', userOf(namespace), ...strataAclRules(namespace, password, commands));
  }
  async function denials(): Promise<string[]> {
    const log = (await admin.call('ACL', 'LOG')) as unknown[][];
    return log.map((entry) => {
      const fields = new Map<string, unknown>();
      for (let i = 0; i + 1 < entry.length; i += 2) fields.set(String(entry[i]), entry[i + 1]);
      return `${String(fields.get('username'))}: ${String(fields.get('reason'))} ${String(fields.get('object'))}`;
    });
  }
  beforeAll(async () => {
    // Our own server: the shared fixtures' ACLs are never touched.
    server = await startRedisServer();
    admin = new Redis(server.url);
    await admin.call('ACL', 'LOG', 'RESET');
  });
  afterAll(async () => {
    admin.disconnect();
    await server.stop();
  });

  describeCacheProtocol('TieredCache (memory over Redis, RedisPubSubBus) through a per-namespace ACL user', {
    create: async ({ namespace }) => {
      await grant(namespace);
      const s = stack(as(namespace), namespace);
      made.set(s.cache, s);
      await s.cache.ready();
      return s.cache;
    },
    destroy: async (cache) => {
      await made.get(cache)?.close();
    },
  });

  it('two instances through the ACL user see each other’s invalidations', async () => {
    const namespace = uniqueNamespace('acl');
    await grant(namespace);
    const a = stack(as(namespace), namespace);
    const b = stack(as(namespace), namespace);
    try {
      await Promise.all([a.cache.ready(), b.cache.ready()]);
      await a.cache.set('k', 1);
      for (let i = 0; i < 2; i++) expect(await b.cache.get('k')).toBe(1);
      await a.cache.set('k', 2);
      await eventually('B hears A', async () => (await b.cache.get('k')) === 2, 2_000);
      await a.cache.deletePattern('*');
      await eventually('B hears the pattern', async () => (await b.cache.get('k')) === undefined, 2_000);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('the ACL user can reach no other namespace and no other channel', async () => {
    const namespace = uniqueNamespace('acl');
    await grant(namespace);
    await admin.set('other:k', 'secret');
    const user = new Redis(server.url, { username: userOf(namespace), password });
    try {
      for (const attempt of [
        () => user.mget('other:k'),
        () => user.set('other:k', 'x'),
        () => user.unlink('other:k'),
        () => user.publish(busChannel('other'), '{}'),
        () => user.call('FLUSHDB'),
        () => user.call('KEYS', '*'),
        () => user.call('CONFIG', 'GET', '*'),
      ]) {
        await expect(attempt()).rejects.toThrow(/NOPERM/);
      }
      expect(await admin.get('other:k')).toBe('secret');
    } finally {
      user.disconnect();
    }
  });

  it('ACL LOG recorded no denial of what Strata does', async () => {
    // The previous test provoked NOPERMs on purpose, with raw commands: only those may be in the log.
    const unexpected = (await denials()).filter((line) => !/other|flushdb|keys|config/.test(line));
    expect(unexpected).toEqual([]);
  });

  it('every command of the line is needed: without any one of them, something Strata does is denied', async () => {
    const missing: string[] = [];
    for (const command of STRATA_COMMANDS) {
      const namespace = uniqueNamespace('acl-minus');
      await grant(
        namespace,
        STRATA_COMMANDS.filter((c) => c !== command),
      );
      await admin.call('ACL', 'LOG', 'RESET');
      // A cached script would let EVALSHA succeed and hide a missing EVAL.
      await admin.call('SCRIPT', 'FLUSH');
      const [a, b] = [
        stack(as(namespace), namespace, { heartbeatMs: 50, heartbeatTimeoutMs: 200 }),
        stack(as(namespace), namespace, { heartbeatMs: 50, heartbeatTimeoutMs: 200 }),
      ];
      for (const s of [a, b]) s.cache.on('error', () => {});
      try {
        await Promise.race([Promise.all([a.cache.ready(), b.cache.ready()]), sleep(1_000)]);
        const calls = [
          () => a.l2.set('k', 1, 10),
          () => a.l2.get('k'),
          () => a.l2.exists('k'),
          () => a.l2.getMany(['k']),
          () => a.cache.set('k', 1, 10),
          () => a.cache.setMany({ x: 1, y: 2 }),
          () => b.cache.get('k'),
          () => b.cache.getMany(['x', 'y']),
          () => a.cache.exists('k'),
          () => a.cache.ttl('k'),
          () => a.cache.delete('k'),
          () => a.cache.deletePattern('x*'),
          () => a.cache.clear(),
          () => a.cache.set('t', 1, { ttl: 10, tags: ['tag'] }),
          () => b.cache.get('t'),
          () => a.cache.invalidateTags(['tag']),
        ];
        for (const call of calls) await call().catch(() => undefined);
        await sleep(150);
      } finally {
        await a.close();
        await b.close();
      }
      if (!(await denials()).some((line) => line.includes(command))) missing.push(command);
    }
    printFigures('security: the ACL line', [
      `user <name> on ><password> ${strataAclRules('<namespace>', 'x').slice(3).join(' ')}`,
      `commands whose removal went unnoticed (should be none): ${missing.length === 0 ? 'none' : missing.join(', ')}`,
    ]);
    expect(missing).toEqual([]);
  }, 60_000);
});

describe('TLS: the adapter and the bus over rediss://, to a redis-server started with tls-port and openssl certificates', () => {
  let certs: TestCertificates;
  let server: RedisServerHandle;
  let tlsPort: number;
  beforeAll(async () => {
    certs = await makeCertificates();
    tlsPort = await freePort();
    server = await startRedisServer({
      extraArgs: [
        ...[
          '--tls-port',
          String(tlsPort),
          '--tls-cert-file',
          certs.certFile,
          '--tls-key-file',
          certs.keyFile,
        ],
        ...['--tls-ca-cert-file', certs.caFile, '--tls-auth-clients', 'yes'],
      ],
    });
  });
  afterAll(async () => {
    await server?.stop();
    await certs?.remove();
  });

  const tlsUrl = () => `rediss://127.0.0.1:${tlsPort}`;
  const trusted = () => ({ tls: { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey } });

  it('runs every call and the bus over TLS (server verified by the client, client by its certificate)', async () => {
    const namespace = uniqueNamespace('tls');
    const connection = { url: tlsUrl(), redisOptions: trusted() };
    const a = stack(connection, namespace);
    const b = stack(connection, namespace);
    try {
      await Promise.all([a.cache.ready(), b.cache.ready()]);
      const cache: ClosableCache = a.cache;
      await cache.set('k', { when: new Date(0), n: 1n }, 60);
      expect(await b.cache.get('k')).toEqual({ when: new Date(0), n: 1n });
      await cache.setMany({ x: 1, y: 2 });
      expect(await b.cache.getMany(['x', 'y', 'z'])).toEqual(
        new Map([
          ['x', 1],
          ['y', 2],
        ]),
      );
      expect(await cache.exists('x')).toBe(true);
      expect(await cache.ttl('k')).toBe(60);
      await a.cache.set('x', 3);
      await eventually('B hears A over TLS', async () => (await b.cache.get('x')) === 3, 2_000);
      expect(await cache.deletePattern('?')).toBe(3);
      await cache.delete('k');
      await cache.clear();
      expect(await b.cache.getMany(['k', 'x', 'y'])).toEqual(new Map());
      const socket = (a.l2.client as Redis).stream;
      expect(socket).toBeInstanceOf(TLSSocket);
      const tls = socket as TLSSocket;
      expect(tls.authorized).toBe(true);
      printFigures('security: TLS', [
        `redis-server ${server.port} with --tls-port ${tlsPort}: protocol ${tls.getProtocol()}, cipher ${tls.getCipher().name}, server certificate verified: ${tls.authorized}`,
      ]);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it.each([
    ['an untrusted CA', () => ({ tls: { ca: certs.otherCa, cert: certs.clientCert, key: certs.clientKey } })],
    ['no client certificate', () => ({ tls: { ca: certs.ca } })],
    ['plain TCP to the TLS port', () => ({})],
  ])('refuses %s: calls reject with CacheUnavailableError within the timeout', async (_, options) => {
    const url = _ === 'plain TCP to the TLS port' ? `redis://127.0.0.1:${tlsPort}` : tlsUrl();
    const cache = new RedisCacheAdapter({ url, redisOptions: options(), commandTimeoutMs: 500 });
    const errors: Error[] = [];
    cache.on('error', (e) => errors.push(e));
    try {
      const started = performance.now();
      await expect(cache.set('k', 1)).rejects.toBeInstanceOf(CacheUnavailableError);
      expect(performance.now() - started).toBeLessThan(1_000);
    } finally {
      await cache.close();
    }
  });
});
