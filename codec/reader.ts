/**
 * A bounds-checked cursor over one packet's bytes. Every read that would run
 * past the packet end throws TRUNCATED; every error names the packet and field.
 */
import type { ProtocolVersion } from './constants.js';
import { type CodecErrorCode, type CodecErrorDetails, MqttCodecError, MALFORMED_PACKET } from './errors.js';
import { decodeUtf8 } from './utf8.js';
import { NOT_MINIMAL, readVarint, TOO_LONG } from './varint.js';

export type Role = 'server' | 'client';

export class Reader {
  buf: Buffer = Buffer.alloc(0);
  pos = 0;
  end = 0;
  version: ProtocolVersion | undefined;
  packetType = '';
  /** Which side is decoding; undefined = either (no direction checks). */
  role: Role | undefined;
  private readonly vi = new Int32Array(1);

  reset(buf: Buffer, pos: number, end: number, version: ProtocolVersion | undefined, packetType: string): void {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
    this.version = version;
    this.packetType = packetType;
  }

  remaining(): number {
    return this.end - this.pos;
  }

  error(code: CodecErrorCode, message: string, field: string | undefined, details: CodecErrorDetails = {}): MqttCodecError {
    return new MqttCodecError(code, message, { version: this.version, packetType: this.packetType, field, ...details });
  }

  truncated(field: string, message = 'packet ends before this field'): MqttCodecError {
    return this.error('TRUNCATED', message, field, { reasonCode: MALFORMED_PACKET, section: this.version === 5 ? '2.1.4' : '2.2.3' });
  }

  u8(field: string): number {
    if (this.pos >= this.end) throw this.truncated(field);
    return this.buf[this.pos++]!;
  }

  u16(field: string): number {
    if (this.pos + 2 > this.end) throw this.truncated(field);
    const v = (this.buf[this.pos]! << 8) | this.buf[this.pos + 1]!;
    this.pos += 2;
    return v;
  }

  u32(field: string): number {
    if (this.pos + 4 > this.end) throw this.truncated(field);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  varint(field: string): number {
    const v = readVarint(this.buf, this.pos, this.end, this.vi);
    if (v >= 0) {
      this.pos += this.vi[0]!;
      return v;
    }
    if (v === TOO_LONG) throw this.error('VARINT_TOO_LONG', 'Variable Byte Integer longer than 4 bytes', field, { section: '1.5.5', reasonCode: MALFORMED_PACKET });
    if (v === NOT_MINIMAL) throw this.error('VARINT_NOT_MINIMAL', 'Variable Byte Integer not in its shortest form', field, { statement: this.version === 5 ? 'MQTT-1.5.5-1' : undefined, section: '1.5.5', reasonCode: MALFORMED_PACKET });
    throw this.truncated(field);
  }

  /** Length-prefixed UTF-8 Encoded String. */
  utf8(field: string): string {
    const n = this.u16(field);
    const start = this.pos;
    if (start + n > this.end) throw this.truncated(field, `string of ${n} bytes runs past the end of the packet`);
    this.pos += n;
    return decodeUtf8(this.buf, start, start + n, { version: this.version, packetType: this.packetType, field });
  }

  /** Length-prefixed Binary Data; a view of the input, not a copy. */
  binary(field: string): Buffer {
    const n = this.u16(field);
    const start = this.pos;
    if (start + n > this.end) throw this.truncated(field, `binary data of ${n} bytes runs past the end of the packet`);
    this.pos += n;
    return this.buf.subarray(start, start + n);
  }

  /** Length-prefixed string as raw bytes (for topic checks before decoding). */
  rawString(field: string): [start: number, end: number] {
    const n = this.u16(field);
    const start = this.pos;
    if (start + n > this.end) throw this.truncated(field, `string of ${n} bytes runs past the end of the packet`);
    this.pos += n;
    return [start, start + n];
  }

  /** Ensures nothing is left after the last field. */
  done(): void {
    if (this.pos !== this.end) {
      throw this.error('TRAILING_BYTES', `${this.end - this.pos} unexpected byte(s) after the last field`, undefined, {
        reasonCode: MALFORMED_PACKET, section: this.version === 5 ? '2.1.4' : '2.2.3',
      });
    }
  }
}
