import { createHash } from 'node:crypto';
import { type Redis, ReplyError } from 'ioredis';

/** What a server says when it will not run a script at all: no EVAL in the ACL, or Redis before 7 (shebang, flags). */
const REFUSED = /NOPERM|unknown command|compiling script|shebang|flag/i;

/** A Lua script run by its SHA, loaded on first use by each server. */
export class LuaScript {
  readonly source: string;
  readonly sha: string;

  constructor(source: string) {
    this.source = source;
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  /** EVALSHA on `node`; when the server does not hold the script yet, EVAL (which also caches it there). */
  async run(node: Redis, numKeys: number, args: readonly string[]): Promise<unknown> {
    try {
      return await node.evalsha(this.sha, numKeys, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return node.eval(this.source, numKeys, ...args);
    }
  }
}

/** True when `error` says the server refused to run the script: nothing of it ran, and plain commands must do. */
export function isScriptRefused(error: unknown): boolean {
  return error instanceof Error && REFUSED.test(error.message);
}

/** ioredis's class of the errors Redis replies with (declared `any` by ioredis). */
const RedisReplyError = ReplyError as new (message: string) => Error;

/**
 * The error a script met running one of its commands (caught with `redis.pcall`, and returned as its message), as
 * the `ReplyError` that command would have rejected with had it been sent alone.
 */
export function replyError(message: unknown): Error {
  return new RedisReplyError(String(message));
}
