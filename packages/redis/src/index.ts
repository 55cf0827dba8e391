export type { Announcer } from './internal/write-gatherer.js';
export {
  RedisCacheAdapter,
  type RedisCacheAdapterEvents,
  type RedisCacheAdapterOptions,
} from './redis-cache-adapter.js';
export { CLIENT_DEFAULTS, type RedisConnectionOptions } from './redis-connection.js';
export { busChannel, RedisPubSubBus, type RedisPubSubBusOptions } from './redis-pubsub-bus.js';
export { RedisStore, type RedisStoreSettings } from './redis-store.js';
