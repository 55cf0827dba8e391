import { CacheError } from '../errors.js';
import { escapeGlob } from '../glob.js';

/** The version of the bus wire format; it is part of the channel name, so a rolling upgrade never mis-parses. */
export const BUS_WIRE_VERSION = 1;

/** Messages longer than this (in UTF-16 code units) are dropped as malformed: 1 MiB. */
export const MAX_BUS_MESSAGE_LENGTH: number = 1024 * 1024;

/** What an invalidation says: these keys, the keys matching this Redis glob, or every key, may have changed. */
export type Invalidation =
  | {
      /** These keys may have changed. */ readonly kind: 'keys';
      /** The keys (none: a heartbeat). */ readonly keys: readonly string[];
    }
  | {
      /** The keys matching a Redis glob may have changed. */ readonly kind: 'pattern';
      /** The glob. */ readonly pattern: string;
    }
  | {
      /** Every key may have changed. */
      readonly kind: 'clear';
    }
  | {
      /** Tags were invalidated: values written with an older version of one of them are no longer valid. */
      readonly kind: 'tags';
      /** The tags. */
      readonly tags: readonly string[];
      /** Each tag's new version, in order; absent: they changed, to versions the sender does not know. */
      readonly versions?: readonly number[];
    };

/** An invalidation as it travels: the wire version, the sender's id, and the sender's sequence number. */
export type BusMessage = Invalidation & {
  /** The wire format version. */
  readonly v: typeof BUS_WIRE_VERSION;
  /** The id of the sending bus endpoint; an endpoint never receives its own messages. */
  readonly origin: string;
  /** 1, 2, 3… per origin and stream; a gap means a message was lost. */
  readonly seq: number;
  /**
   * Which of the sender's streams the message belongs to, when it has several: messages of one stream reach every
   * receiver in the order they were sent (on a Redis Cluster, each node a sender writes through publishes a stream
   * of its own). Absent: the sender's main stream.
   */
  readonly stream?: string;
};

/** The longest `stream` name a message may carry. */
const MAX_STREAM_LENGTH = 256;

/**
 * Why a bus tells its listeners that messages may have been missed: its subscription came back after a loss
 * (`reconnect`, `heartbeat`), a sender's sequence skipped a number (`gap`), or a message on its channel could not
 * be read (`malformed`: it may have been an invalidation).
 */
export type BusResetReason = 'reconnect' | 'gap' | 'heartbeat' | 'subscribe' | 'malformed';

/**
 * Why a bus's subscription stopped being live: its connection was lost (`disconnect`), or its own heartbeat did not
 * come back in time (`heartbeat`: a half-open connection looks alive).
 */
export type BusSuspendReason = 'disconnect' | 'heartbeat';

/** Receives what a bus delivers. */
export interface BusListener {
  /** Another endpoint's invalidation. */
  invalidate(message: BusMessage): void;
  /**
   * The subscription is not live: from now on messages may be missed, until {@link BusListener.reset} says it is
   * live again. Nothing derived from messages (an L1) may be trusted meanwhile.
   */
  suspend(reason: BusSuspendReason): void;
  /**
   * Messages may have been missed, and the subscription is live (again): whatever was derived from them (an L1) must
   * be dropped before it is served.
   */
  reset(reason: BusResetReason): void;
  /** A malformed message was dropped, or the transport failed; informational. */
  error(error: Error): void;
}

/** Options of {@link InvalidationBus.subscribe}. */
export interface BusSubscribeOptions {
  /**
   * Aborting it while the subscription is still being set up unregisters the listener at once, and the returned
   * promise rejects (a cache closed before it was ready leaves nothing behind on its bus).
   */
  readonly signal?: AbortSignal;
}

/**
 * Carries invalidations between cache instances (processes). Delivery is at most once; a bus that may have lost
 * messages says so with `reset`, and one whose subscription is not live says so with `suspend`. A bus serves one
 * listener (one cache) at a time: Strata's buses refuse a second one, since a cache never hears the messages of
 * another cache publishing through the same bus.
 */
export interface InvalidationBus {
  /** This endpoint's origin id, unique per instance: messages carrying it are its own. */
  readonly id: string;
  /** Broadcasts `invalidation` to every other endpoint; resolves once the transport accepted it. */
  publish(invalidation: Invalidation): Promise<void>;
  /**
   * Registers `listener`; resolves, to a function that unregisters it, once the subscription is live (deliveries
   * to it have started).
   */
  subscribe(listener: BusListener, options?: BusSubscribeOptions): Promise<() => void>;
  /** Stops delivering and releases what the bus opened. */
  close(): Promise<void>;
}

/** How many characters of a too-long key the pattern that replaces it keeps (see {@link invalidationsOfKeys}). */
const LONG_KEY_PREFIX_CHARS = 256;

/**
 * The invalidations that announce `keys` in messages of bounded size, for a bus whose messages have a size limit:
 * the keys in order, split into lists whose JSON forms (escapes included) take at most `maxKeyChars` characters
 * together; a key longer than that on its own becomes a pattern matching every key that begins as it does (a
 * broader invalidation, never a dropped one).
 */
export function invalidationsOfKeys(keys: readonly string[], maxKeyChars: number): Invalidation[] {
  const out: Invalidation[] = [];
  let chunk: string[] = [];
  let chars = 0;
  for (const key of keys) {
    // The key as JSON, plus its comma: what it adds to the message.
    const cost = JSON.stringify(key).length + 1;
    if (cost > maxKeyChars) {
      out.push({ kind: 'pattern', pattern: `${escapeGlob(wholePrefix(key, LONG_KEY_PREFIX_CHARS))}*` });
      continue;
    }
    if (chars + cost > maxKeyChars) {
      out.push({ kind: 'keys', keys: chunk });
      chunk = [];
      chars = 0;
    }
    chunk.push(key);
    chars += cost;
  }
  if (chunk.length > 0) out.push({ kind: 'keys', keys: chunk });
  return out;
}

/**
 * The invalidations that announce `tags` bumped to `versions` (`undefined`: unknown), in messages whose tags take
 * at most `maxChars` characters as JSON; tags are short (at most {@link MAX_TAG_LENGTH} characters), so every tag fits.
 */
export function invalidationsOfTags(
  tags: readonly string[],
  versions: readonly number[] | undefined,
  maxChars: number,
): Invalidation[] {
  const out: Invalidation[] = [];
  let start = 0;
  let chars = 0;
  const flush = (end: number): void => {
    if (end === start) return;
    const chunk = tags.slice(start, end);
    out.push(
      versions === undefined
        ? { kind: 'tags', tags: chunk }
        : { kind: 'tags', tags: chunk, versions: versions.slice(start, end) },
    );
    start = end;
    chars = 0;
  };
  for (let i = 0; i < tags.length; i++) {
    const cost = JSON.stringify(tags[i]).length + 18;
    if (chars + cost > maxChars) flush(i);
    chars += cost;
  }
  flush(tags.length);
  return out;
}

/** The longest tag accepted, in UTF-16 code units: any tag fits in a bus message. */
export const MAX_TAG_LENGTH = 1024;

/** The first `length` UTF-16 units of `text`, one fewer if that would split a surrogate pair. */
function wholePrefix(text: string, length: number): string {
  const code = text.charCodeAt(length - 1);
  return text.slice(0, code >= 0xd800 && code <= 0xdbff ? length - 1 : length);
}

/** The error a bus that already serves a listener gives a second one. */
export function busInUseError(bus: string): TypeError {
  return new TypeError(
    `This ${bus} already serves a cache: give each cache a bus of its own (a cache never hears messages published ` +
      'through its own bus, so two caches sharing one would never hear each other)',
  );
}

/** Serializes a bus message to its wire form (JSON). */
export function encodeBusMessage(message: BusMessage): string {
  return JSON.stringify(message);
}

/** A bus message that could not be parsed; it is dropped, reported as an `error`, and its receiver resets. */
export class MalformedBusMessageError extends CacheError {
  /** The class name, kept literal so it survives minifying. */
  override name = 'MalformedBusMessageError';

  constructor(reason: string, options?: { cause?: unknown }) {
    super(`Malformed bus message dropped: ${reason}`, 'CACHE_MALFORMED_MESSAGE', options);
  }
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((k) => typeof k === 'string');
}

/**
 * Parses and validates a wire message.
 * @throws {MalformedBusMessageError} for anything that is not a well-formed message of this wire version.
 */
export function decodeBusMessage(text: unknown): BusMessage {
  if (typeof text !== 'string') throw new MalformedBusMessageError('not a string');
  if (text.length > MAX_BUS_MESSAGE_LENGTH)
    throw new MalformedBusMessageError(`longer than ${MAX_BUS_MESSAGE_LENGTH}`);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (cause) {
    throw new MalformedBusMessageError('not JSON', { cause });
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    throw new MalformedBusMessageError('not an object');
  const m = raw as Record<string, unknown>;
  if (m.v !== BUS_WIRE_VERSION) throw new MalformedBusMessageError(`unknown version ${String(m.v)}`);
  if (typeof m.origin !== 'string' || m.origin.length === 0) throw new MalformedBusMessageError('bad origin');
  if (typeof m.seq !== 'number' || !Number.isSafeInteger(m.seq) || m.seq < 1)
    throw new MalformedBusMessageError('bad seq');
  if (
    m.stream !== undefined &&
    (typeof m.stream !== 'string' || m.stream.length === 0 || m.stream.length > MAX_STREAM_LENGTH)
  )
    throw new MalformedBusMessageError('bad stream');
  const head =
    m.stream === undefined
      ? ({ v: BUS_WIRE_VERSION, origin: m.origin, seq: m.seq } as const)
      : ({ v: BUS_WIRE_VERSION, origin: m.origin, seq: m.seq, stream: m.stream } as const);
  switch (m.kind) {
    case 'keys':
      if (!isStringArray(m.keys)) throw new MalformedBusMessageError('keys is not a list of strings');
      return { ...head, kind: 'keys', keys: m.keys };
    case 'pattern':
      if (typeof m.pattern !== 'string') throw new MalformedBusMessageError('pattern is not a string');
      return { ...head, kind: 'pattern', pattern: m.pattern };
    case 'clear':
      return { ...head, kind: 'clear' };
    case 'tags': {
      if (!isStringArray(m.tags)) throw new MalformedBusMessageError('tags is not a list of strings');
      if (m.versions === undefined) return { ...head, kind: 'tags', tags: m.tags };
      if (
        !Array.isArray(m.versions) ||
        m.versions.length !== m.tags.length ||
        !m.versions.every((v) => typeof v === 'number' && Number.isSafeInteger(v))
      )
        throw new MalformedBusMessageError('versions is not a list of integers, one per tag');
      return { ...head, kind: 'tags', tags: m.tags, versions: m.versions as number[] };
    }
    default:
      throw new MalformedBusMessageError(`unknown kind ${String(m.kind)}`);
  }
}
