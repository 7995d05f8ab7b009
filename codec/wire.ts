/**
 * Shared primitives of the encoder: the only place that writes a fixed
 * header, and the field measuring/writing helpers every packet uses.
 */
import { MAX_VARINT, type ProtocolVersion } from './constants.js';
import { type CodecErrorCode, MqttCodecError } from './errors.js';
import { utf8Length, writeUtf8 } from './utf8.js';
import { varintSize, writeVarint } from './varint.js';

export interface EncodeOptions {
  /**
   * Check the packet's semantic rules (topic syntax, non-zero packet ids,
   * allowed reason codes and property placement, flag combinations) before
   * writing. Ranges and well-formed UTF-8 are always checked. Turn off only to
   * produce forbidden-but-well-formed packets on purpose (conformance tests).
   */
  validate?: boolean;
}

export class EncodeCtx {
  constructor(
    readonly version: ProtocolVersion,
    readonly packetType: string,
    readonly validate: boolean,
  ) {}

  error(code: CodecErrorCode, field: string | undefined, message: string, statement?: string, section?: string): MqttCodecError {
    return new MqttCodecError(code, message, { version: this.version, packetType: this.packetType, field, statement, section });
  }

  /** Byte length of a UTF-8 string field, validated (≤ 65535 bytes, well-formed, no U+0000 when validating). */
  str(field: string, s: unknown): number {
    if (typeof s !== 'string') throw this.error('VALUE_OUT_OF_RANGE', field, `must be a string, got ${typeof s}`);
    const n = utf8Length(s, { version: this.version, packetType: this.packetType, field }, this.validate);
    if (n > 0xffff) throw this.error('STRING_TOO_LONG', field, `is ${n} bytes; a UTF-8 string holds at most 65535`, undefined, this.version === 5 ? '1.5.4' : '1.5.3');
    return n;
  }

  bin(field: string, b: unknown): number {
    if (!(b instanceof Uint8Array)) throw this.error('VALUE_OUT_OF_RANGE', field, 'must be a Buffer');
    if (b.length > 0xffff) throw this.error('BINARY_TOO_LONG', field, `is ${b.length} bytes; binary data holds at most 65535`, undefined, this.version === 5 ? '1.5.6' : '1.5.3');
    return b.length;
  }

  int(field: string, v: unknown, min: number, max: number): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      throw this.error('VALUE_OUT_OF_RANGE', field, `must be an integer in ${min}..${max}, got ${String(v)}`);
    }
    return v;
  }

  /** A Packet Identifier: 1..65535 when validating (0 only on purpose, with validate off). */
  packetId(v: unknown, statement?: string): number {
    if (this.validate && v === 0) {
      throw this.error('PACKET_ID_ZERO', 'packetId', 'Packet Identifier must be non-zero', statement, this.version === 5 ? '2.2.1' : '2.3.1');
    }
    return this.int('packetId', v, 0, 0xffff);
  }

  /** Rejects 5.0-only fields on a 3.1.1 packet rather than dropping them silently. */
  noV5(field: string, v: unknown): void {
    if (this.version === 4 && v !== undefined) throw this.error('VALUE_OUT_OF_RANGE', field, 'exists only in MQTT 5.0; this packet is being encoded as 3.1.1');
  }
}

/** Allocates the whole packet and writes its fixed header; returns the buffer and the body offset. */
export function allocPacket(byte1: number, remainingLength: number, ctx: EncodeCtx): [Buffer, number] {
  if (remainingLength > MAX_VARINT) {
    throw ctx.error('PACKET_TOO_LARGE', undefined, `remaining length ${remainingLength} exceeds ${MAX_VARINT}`, undefined, ctx.version === 5 ? '2.1.4' : '2.2.3');
  }
  const buf = Buffer.allocUnsafe(1 + varintSize(remainingLength) + remainingLength);
  buf[0] = byte1;
  return [buf, writeVarint(buf, 1, remainingLength)];
}

export function writeU16(buf: Buffer, o: number, v: number): number {
  buf[o] = v >>> 8;
  buf[o + 1] = v & 0xff;
  return o + 2;
}

/** Writes a length-prefixed UTF-8 string already measured as `len` bytes. */
export function writeStr(buf: Buffer, o: number, s: string, len: number): number {
  buf[o] = len >>> 8;
  buf[o + 1] = len & 0xff;
  return writeUtf8(buf, o + 2, s, len);
}

export function writeBin(buf: Buffer, o: number, b: Uint8Array): number {
  buf[o] = b.length >>> 8;
  buf[o + 1] = b.length & 0xff;
  buf.set(b, o + 2);
  return o + 2 + b.length;
}
