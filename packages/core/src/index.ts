export {
  BUS_WIRE_VERSION,
  type BusListener,
  type BusMessage,
  type BusResetReason,
  type BusSubscribeOptions,
  type BusSuspendReason,
  decodeBusMessage,
  encodeBusMessage,
  type Invalidation,
  type InvalidationBus,
  invalidationsOfKeys,
  invalidationsOfTags,
  MAX_BUS_MESSAGE_LENGTH,
  MAX_TAG_LENGTH,
  MalformedBusMessageError,
} from './bus/bus.js';
export {
  LocalBus,
  LocalBusChannel,
  type LocalBusChannelOptions,
  type LocalBusDisconnectOptions,
  type LocalBusOptions,
} from './bus/local-bus.js';
export {
  CODEC_FORMAT_VERSION,
  type Codec,
  decodeFor,
  defaultCodec,
  encodeFor,
  StrataCodec,
} from './codec/codec.js';
export {
  type Entry,
  type EntryLease,
  type EntryMeta,
  type EntryWrite,
  type EntryWriteMeta,
  stampMeta,
} from './entry.js';
export { ENVELOPE_PREFIX, META_ENVELOPE_PREFIX, type Unwrapped, unwrapEntry, wrapEntry } from './envelope.js';
export {
  CacheError,
  type CacheErrorCode,
  type CacheErrorOptions,
  CacheLoaderTimeoutError,
  CacheUnavailableError,
  CacheValidationError,
  SerializationError,
  type SerializationErrorOptions,
  UnsupportedOperationError,
} from './errors.js';
export { compileGlob, escapeGlob, matchGlob } from './glob.js';
export {
  assertKey,
  assertKeys,
  assertPattern,
  DEFAULT_NAMESPACE,
  NAMESPACE_SEPARATOR,
  prefixKey,
  resolveNamespace,
  toItemEntries,
} from './keys.js';
export { type CacheCapabilities, type CacheItems, CacheProtocol, type ClosableCache } from './protocol.js';
export type { CacheStore, MaybePromise, StoreWriteOptions } from './store.js';
export { deleteMatching, StoreCache, type StoreCacheOptions, writtenTtl } from './store-cache.js';
export {
  checkedTags,
  plainWrite,
  type ResolvedSetOptions,
  resolveSetOptions,
  type SetOptions,
  tagsCurrent,
  tagVersionsOf,
} from './tags.js';
export { MAX_TTL_MS, msToTtlSeconds, ttlToMs } from './ttl.js';
export { ValueReader, type ValueReading } from './value-reader.js';
