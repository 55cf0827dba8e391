/**
 * Redis Cluster hash slots, exactly as `redis-server` computes them (cluster.c keyHashSlot): CRC16/XMODEM of the
 * key's UTF-8 bytes, modulo 16384, hashing only the hash tag when there is one.
 *
 * Not the `cluster-key-slot` package (ioredis's own): for a key whose first `{…}` is empty but which has another
 * `}` later, such as `a{}b}`, it hashes `b` where Redis hashes the whole key. ioredis survives that for single
 * commands by following MOVED; per-slot pipelines routed with it would fail every time.
 */

const CRC16_TABLE: Uint16Array = (() => {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let bit = 0; bit < 8; bit++)
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    table[i] = crc;
  }
  return table;
})();

function crc16(bytes: Uint8Array, start: number, end: number): number {
  let crc = 0;
  for (let i = start; i < end; i++)
    crc = ((crc << 8) & 0xffff) ^ CRC16_TABLE[((crc >> 8) ^ bytes[i]!) & 0xff]!;
  return crc;
}

const OPEN = 0x7b; // {
const CLOSE = 0x7d; // }

/** The hash slot (0–16383) of `key` in a Redis Cluster. */
export function keySlot(key: string): number {
  const ascii = asciiSlot(key);
  if (ascii !== undefined) return ascii;
  const bytes = Buffer.from(key, 'utf8');
  const open = bytes.indexOf(OPEN);
  if (open !== -1) {
    const close = bytes.indexOf(CLOSE, open + 1);
    // Only the first `{` counts, and only if something stands before the first `}` after it.
    if (close > open + 1) return crc16(bytes, open + 1, close) & 0x3fff;
  }
  return crc16(bytes, 0, bytes.length) & 0x3fff;
}

/** The slot of an ASCII key, hashed straight from its characters (they are its bytes); `undefined` otherwise. */
function asciiSlot(key: string): number | undefined {
  let start = 0;
  let end = key.length;
  const open = key.indexOf('{');
  if (open !== -1) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) {
      start = open + 1;
      end = close;
    }
  }
  // Every character must be ASCII, not only the hashed ones: the tag's place is counted in characters here.
  for (let i = 0; i < key.length; i++) if (key.charCodeAt(i) > 0x7f) return undefined;
  let crc = 0;
  for (let i = start; i < end; i++)
    crc = ((crc << 8) & 0xffff) ^ CRC16_TABLE[((crc >> 8) ^ key.charCodeAt(i)) & 0xff]!;
  return crc & 0x3fff;
}
