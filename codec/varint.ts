/**
 * Variable Byte Integer (3.1.1 §2.2.3 Remaining Length, 5.0 §1.5.5): 7 bits
 * per byte, at most four bytes, smallest encoding only [MQTT-1.5.5-1].
 */
import { MAX_VARINT } from './constants.js';

/** Bytes needed to encode `n` (0 ≤ n ≤ MAX_VARINT). */
export function varintSize(n: number): number {
  return n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : 4;
}

/** Writes `n` at `offset`; returns the new offset. Caller checks the range. */
export function writeVarint(buf: Buffer, offset: number, n: number): number {
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n > 0) b |= 0x80;
    buf[offset++] = b;
  } while (n > 0);
  return offset;
}

export function isVarintInRange(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= MAX_VARINT;
}

/**
 * Outcome of reading a Variable Byte Integer from [offset, end):
 * value ≥ 0 with its size, NEED_MORE when the bytes end mid-integer,
 * TOO_LONG after a fourth byte with the continuation bit,
 * NOT_MINIMAL when the last byte is 0x00 after a continuation (a longer
 * encoding than needed).
 */
export const NEED_MORE = -1;
export const TOO_LONG = -2;
export const NOT_MINIMAL = -3;

/** Reads a varint; returns the value (or a negative status) and stores the byte count in `out[0]`. */
export function readVarint(buf: Buffer, offset: number, end: number, out: Int32Array): number {
  let value = 0;
  let mult = 1;
  for (let i = 0; i < 4; i++) {
    if (offset + i >= end) return NEED_MORE;
    const b = buf[offset + i]!;
    value += (b & 0x7f) * mult;
    if ((b & 0x80) === 0) {
      if (i > 0 && b === 0) return NOT_MINIMAL;
      out[0] = i + 1;
      return value;
    }
    mult *= 128;
  }
  return TOO_LONG;
}
