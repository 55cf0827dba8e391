import { connect } from 'node:net';

/** A decoded RESP2 reply: simple and bulk strings, integers, nil and arrays of those. */
export type RespReply = string | number | null | RespReply[];

/** An error reply (`-ERR ...`) from Redis, as opposed to a failure to reach it. */
export class RespErrorReply extends Error {
  override readonly name: string = 'RespErrorReply';
}

interface Parsed {
  readonly value: RespReply | RespErrorReply;
  readonly next: number;
}

const CRLF = '\r\n';

/**
 * Sends one command on a fresh connection and resolves with its reply.
 *
 * The fixtures probe servers that may be starting, paused, killed or mid-failover. A throwaway socket with a hard
 * deadline gives each probe a clean yes/no, where a pooled client (ioredis) would queue, reconnect and retry behind
 * our back, and would emit error events nobody listens to.
 */
export function redisCommand(
  host: string,
  port: number,
  args: readonly string[],
  timeoutMs = 1_000,
): Promise<RespReply> {
  return new Promise<RespReply>((resolve, reject) => {
    const socket = connect({ host, port });
    let buffer: Buffer = Buffer.alloc(0);
    let settled = false;
    const finish = (error: Error | undefined, value?: RespReply): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(value ?? null);
    };
    const timer = setTimeout(() => {
      finish(new Error(`${args[0] ?? 'command'} to ${host}:${port} got no reply within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('connect', () => socket.write(encodeCommand(args)));
    socket.on('data', (chunk: Buffer) => {
      buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
      let parsed: Parsed | undefined;
      try {
        parsed = parseReply(buffer, 0);
      } catch (error) {
        finish(error instanceof Error ? error : new Error(String(error)));
        return;
      }
      if (parsed === undefined) return;
      if (parsed.value instanceof RespErrorReply) finish(parsed.value);
      else finish(undefined, parsed.value);
    });
    socket.on('error', (error) => finish(error));
    socket.on('close', () => finish(new Error(`${host}:${port} closed the connection before replying`)));
  });
}

function encodeCommand(args: readonly string[]): string {
  let out = `*${args.length}${CRLF}`;
  for (const arg of args) out += `$${Buffer.byteLength(arg)}${CRLF}${arg}${CRLF}`;
  return out;
}

/** Returns undefined while the reply is still incomplete, so the caller waits for more bytes. */
function parseReply(buffer: Buffer, offset: number): Parsed | undefined {
  const lineEnd = buffer.indexOf(CRLF, offset);
  if (lineEnd === -1) return undefined;
  const type = String.fromCharCode(buffer[offset] ?? 0);
  const line = buffer.toString('utf8', offset + 1, lineEnd);
  const afterLine = lineEnd + 2;
  switch (type) {
    case '+':
      return { value: line, next: afterLine };
    case '-':
      return { value: new RespErrorReply(line), next: afterLine };
    case ':':
      return { value: Number(line), next: afterLine };
    case '$': {
      const length = Number(line);
      if (length < 0) return { value: null, next: afterLine };
      if (buffer.length < afterLine + length + 2) return undefined;
      return { value: buffer.toString('utf8', afterLine, afterLine + length), next: afterLine + length + 2 };
    }
    case '*': {
      const count = Number(line);
      if (count < 0) return { value: null, next: afterLine };
      const items: RespReply[] = [];
      let next = afterLine;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buffer, next);
        if (item === undefined) return undefined;
        // An error inside an array (e.g. from EXEC) is kept as its message: the fixtures never send such commands.
        items.push(item.value instanceof RespErrorReply ? item.value.message : item.value);
        next = item.next;
      }
      return { value: items, next };
    }
    default:
      throw new Error(`unexpected RESP reply type ${JSON.stringify(type)}`);
  }
}

/** Parses `INFO`-style `key:value` lines into a map; section headers and blank lines are skipped. */
export function parseInfo(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0 || line.startsWith('#')) continue;
    fields.set(line.slice(0, colon), line.slice(colon + 1));
  }
  return fields;
}

/** Runs `INFO <section>` and parses it; throws if the reply is not text. */
export async function redisInfo(
  host: string,
  port: number,
  section: string,
  timeoutMs?: number,
): Promise<Map<string, string>> {
  const reply = await redisCommand(host, port, ['INFO', section], timeoutMs);
  if (typeof reply !== 'string') throw new Error(`INFO ${section} from ${host}:${port} was not text`);
  return parseInfo(reply);
}
