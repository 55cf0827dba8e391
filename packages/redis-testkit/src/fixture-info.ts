// Loads Vitest's types, without which TypeScript rejects the augmentation below as naming an unknown module.
import type {} from 'vitest';
import type { RedisNodeAddress } from './redis-cluster.js';

/**
 * What the global setup hands to tests through `inject('redis')`: addresses only, since values crossing from the
 * Vitest main process to the test workers must be serializable.
 */
export interface RedisFixtureInfo {
  /** A standalone Redis: `redis://HOST:PORT`. */
  readonly url: string;
  /** Where it came from; with `env` it is someone else's server: write only keys under a prefix of your own. */
  readonly source: 'env' | 'container' | 'binary';
  /** A 3-master Redis Cluster without replicas: startup nodes for `new Cluster(nodes)`. */
  readonly cluster: { readonly nodes: RedisNodeAddress[] };
  /** A master, a replica and one Sentinel: options for `new Redis({ sentinels, name })`. */
  readonly sentinel: { readonly name: string; readonly sentinels: RedisNodeAddress[] };
}

declare module 'vitest' {
  export interface ProvidedContext {
    /** Provided by `@strata-cache/redis-testkit/global-setup`. */
    redis: RedisFixtureInfo;
  }
}
