import { randomFillSync } from 'node:crypto';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const UUID7_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

let lastMs = -1;
let counter = 0;

/**
 * Random bytes are drawn from the CSPRNG a pool at a time (one call per RANDOM_POOL_BYTES / 9 ids instead of one per
 * id); each byte is used once and the pool is refilled when what is left cannot make a whole id.
 */
const RANDOM_POOL_BYTES = 4096;
const RANDOM_BYTES_PER_ID = 9;
const pool = new Uint8Array(RANDOM_POOL_BYTES);
let poolOffset = RANDOM_POOL_BYTES;

function takeRandom(): number {
  if (poolOffset + RANDOM_BYTES_PER_ID > RANDOM_POOL_BYTES) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const at = poolOffset;
  poolOffset += RANDOM_BYTES_PER_ID;
  return at;
}

/** The id is written as ASCII into one reused buffer, dashes in place, and read out as one flat string. */
const HEX = Buffer.from('0123456789abcdef', 'latin1');
const text = Buffer.from('00000000-0000-7000-8000-000000000000', 'latin1');
/** Where byte i of the id goes in the text: two hex digits from here. */
const HEX_AT = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];

function putByte(i: number, byte: number): void {
  const at = HEX_AT[i]!;
  text[at] = HEX[byte >>> 4]!;
  text[at + 1] = HEX[byte & 0x0f]!;
}

/**
 * UUIDv7 (RFC 9562): 48-bit Unix milliseconds, then 12 bits that count up within one millisecond (so ids made by
 * one process sort in creation order), then 62 random bits.
 */
export function uuidv7(nowMs: number = Date.now()): string {
  const r = takeRandom();
  if (nowMs <= lastMs) {
    counter += 1;
    if (counter > 0xfff) {
      // The 12-bit counter ran out inside one millisecond: borrow the next millisecond to keep ids ordered.
      lastMs += 1;
      counter = 0;
    }
    nowMs = lastMs;
  } else {
    lastMs = nowMs;
    counter = pool[r]! & 0x07; // random start, low enough to leave room to count
  }
  // 48 bits of milliseconds: the high 16 and the low 32 (>>> 0 keeps the low 32 bits of any safe integer).
  const high = Math.floor(nowMs / 0x1_0000_0000);
  const low = nowMs >>> 0;
  putByte(0, (high >>> 8) & 0xff);
  putByte(1, high & 0xff);
  putByte(2, low >>> 24);
  putByte(3, (low >>> 16) & 0xff);
  putByte(4, (low >>> 8) & 0xff);
  putByte(5, low & 0xff);
  putByte(6, 0x70 | ((counter >> 8) & 0x0f));
  putByte(7, counter & 0xff);
  putByte(8, 0x80 | (pool[r + 1]! & 0x3f));
  for (let i = 9; i < 16; i++) putByte(i, pool[r + i - 7]!);
  return text.toString('latin1', 0, 36);
}

export function isUuid(value: string): boolean {
  return UUID_RE.test(value);
}

export function isUuidv7(value: string): boolean {
  return UUID7_RE.test(value);
}

/** The millisecond timestamp a UUIDv7 was made at. */
export function uuidv7Time(id: string): number {
  return parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}
