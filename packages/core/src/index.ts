export {
  BUS_WIRE_VERSION,
  type BusListener,
  type BusMessage,
  type BusResetReason,
  type BusSubscribeOptions,
  type BusSuspendReason,
  busInUseError,
  decodeBusMessage,
  encodeBusMessage,
  type Invalidation,
  type InvalidationBus,
  invalidationsOfKeys,
  isOrderedBus,
  MAX_BUS_MESSAGE_LENGTH,
  MalformedBusMessageError,
  type OrderedBus,
  SequenceTracker,
} from './bus.js';
export {
  CODEC_FORMAT_VERSION,
  type Codec,
  decodeFor,
  defaultCodec,
  encodeFor,
  StrataCodec,
} from './codec.js';
export { DeadlineSweeper } from './deadline.js';
export {
  CacheError,
  type CacheErrorCode,
  type CacheErrorOptions,
  CacheUnavailableError,
  CacheValidationError,
  closedError,
  SerializationError,
  type SerializationErrorOptions,
  toUnavailableError,
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
export {
  LocalBus,
  LocalBusChannel,
  type LocalBusChannelOptions,
  type LocalBusDisconnectOptions,
  type LocalBusOptions,
} from './local-bus.js';
export { assertOptionNames, positiveIntegerOption } from './options.js';
export {
  type BoundedCalls,
  type CacheCapabilities,
  type CacheEntry,
  type CacheItems,
  CacheProtocol,
  type ClosableCache,
  callBoundMs,
  type EncodedWriter,
  type EntryReader,
  readsEntries,
  readsSync,
  type SyncReader,
  type TextWriter,
  writesEncoded,
  writesText,
} from './protocol.js';
export { MAX_TTL_MS, msToTtlSeconds, ttlToMs } from './ttl.js';
