export {
  findRedisCliBinary,
  findRedisServerBinary,
  REDIS_IMAGE,
  RedisUnavailableError,
} from './binaries.js';
export type { RedisFixtureInfo } from './fixture-info.js';
export { default as globalSetup } from './global-setup.js';
export { type ProvidedRedis, provideRedis } from './provide-redis.js';
export {
  type RedisClusterHandle,
  type RedisClusterOptions,
  type RedisNodeAddress,
  startRedisCluster,
} from './redis-cluster.js';
export { type RedisSentinelHandle, type RedisSentinelOptions, startRedisSentinel } from './redis-sentinel.js';
export { type RedisServerHandle, type RedisServerOptions, startRedisServer } from './redis-server.js';
export { startTcpProxy, type TcpProxyHandle } from './tcp-proxy.js';
