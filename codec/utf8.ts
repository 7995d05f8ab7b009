/**
 * UTF-8 Encoded String rules (3.1.1 §1.5.3, 5.0 §1.5.4): well-formed UTF-8,
 * no surrogate code points, no U+0000; a BOM is kept as U+FEFF.
 * ASCII takes a JS fast path; anything else goes through a fatal TextDecoder,
 * which rejects overlong forms, encoded surrogates and truncated sequences.
 */
import type { ProtocolVersion } from './constants.js';
import { MqttCodecError, stmt } from './errors.js';

/** Buffer's native latin1 slice (public on Buffer in Node, missing from @types/node). */
type LatinSlicer = Buffer & { latin1Slice(start: number, end: number): string };

const fatalDecoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export interface StringContext {
  version: ProtocolVersion | undefined;
  packetType: string;
  field: string;
}

/** Decodes bytes [start, end) of `buf` as an MQTT UTF-8 string. */
export function decodeUtf8(buf: Buffer, start: number, end: number, ctx: StringContext): string {
  let ascii = true;
  for (let i = start; i < end; i++) {
    const b = buf[i]!;
    if (b === 0) throw nullChar(ctx);
    if (b >= 0x80) { ascii = false; break; }
  }
  // Short strings: a JS loop beats the native call; longer ones: the native slice, which also
  // yields a flat string (concatenated ones are flattened later, at the first lookup).
  if (ascii) return end - start < 10 ? asciiSlice(buf, start, end) : (buf as LatinSlicer).latin1Slice(start, end);
  let s: string;
  try {
    s = fatalDecoder.decode(buf.subarray(start, end));
  } catch {
    throw new MqttCodecError('INVALID_UTF8', 'ill-formed UTF-8', {
      ...ctx, statement: stmt(ctx.version, 'MQTT-1.5.3-1', 'MQTT-1.5.4-1'),
    });
  }
  // In UTF-8 a 0x00 byte only ever encodes U+0000.
  if (buf.subarray(start, end).includes(0)) throw nullChar(ctx);
  return s;
}

function asciiSlice(buf: Buffer, start: number, end: number): string {
  let s = '';
  for (let i = start; i < end; i++) s += String.fromCharCode(buf[i]!);
  return s;
}

function nullChar(ctx: StringContext): MqttCodecError {
  return new MqttCodecError('UTF8_NULL_CHAR', 'string contains U+0000', {
    ...ctx, statement: stmt(ctx.version, 'MQTT-1.5.3-2', 'MQTT-1.5.4-2'),
  });
}

/**
 * Byte length of `s` in UTF-8, validating it on the way: throws on U+0000 and
 * on lone surrogates (which have no UTF-8 encoding) so nothing is silently
 * replaced with U+FFFD when written.
 */
export function utf8Length(s: string, ctx: StringContext, rejectNull = true): number {
  const n = s.length;
  let bytes = n;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) {
      if (c === 0 && rejectNull) throw nullChar(ctx);
      continue;
    }
    if (c < 0x800) { bytes += 1; continue; }
    if (c >= 0xd800 && c <= 0xdfff) {
      const d = c <= 0xdbff && i + 1 < n ? s.charCodeAt(i + 1) : 0;
      if (d < 0xdc00 || d > 0xdfff) {
        throw new MqttCodecError('INVALID_UTF8', `lone surrogate U+${c.toString(16).toUpperCase()} at index ${i}`, {
          ...ctx, statement: stmt(ctx.version, 'MQTT-1.5.3-1', 'MQTT-1.5.4-1'),
        });
      }
      bytes += 2; // 4 bytes for two UTF-16 units
      i++;
      continue;
    }
    bytes += 2;
  }
  return bytes;
}

/** Writes `s` (already measured as `byteLength`) at `offset`; returns the new offset. */
export function writeUtf8(buf: Buffer, offset: number, s: string, byteLength: number): number {
  if (byteLength === s.length) {
    for (let i = 0; i < byteLength; i++) buf[offset + i] = s.charCodeAt(i);
    return offset + byteLength;
  }
  return offset + buf.write(s, offset, byteLength, 'utf8');
}
