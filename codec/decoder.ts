/**
 * Streaming decoder: feed it bytes in any chunking and it yields the same
 * packets. The fixed header is checked as soon as it is complete, so a bad
 * type, bad flags or an over-size Remaining Length fail before any body is
 * buffered. Complete packets inside one chunk are decoded in place (payloads
 * and binary fields are views of the chunk: do not reuse fed buffers).
 */
import { FIXED_FLAGS, MAX_PACKET_SIZE, PACKET_TYPE_NAMES, SENDER, type PacketTypeName, type ProtocolVersion } from './constants.js';
import { MALFORMED_PACKET, MqttCodecError, PROTOCOL_ERROR, stmt } from './errors.js';
import { decodeConnack } from './packets/connack.js';
import { decodeConnect } from './packets/connect.js';
import { decodeAck } from './packets/pub-ack.js';
import { decodePublish } from './packets/publish.js';
import { decodeAuth, decodeDisconnect, decodeEmpty } from './packets/reason-only.js';
import { decodeSuback } from './packets/suback.js';
import { decodeSubscribe } from './packets/subscribe.js';
import { decodeUnsubscribe } from './packets/unsubscribe.js';
import { Reader, type Role } from './reader.js';
import type { Packet } from './types.js';
import { NEED_MORE, NOT_MINIMAL, readVarint, TOO_LONG } from './varint.js';

export type { Role };

export interface DecoderOptions {
  /** Protocol version, when known up front (a client knows it; a server learns it from CONNECT). */
  version?: ProtocolVersion;
  /** The side that decodes: 'server' reads client packets, 'client' reads server packets. Enables direction rules. */
  role?: Role;
  /** Largest whole packet accepted, in bytes (fixed header included). Default: the protocol maximum. */
  maxPacketSize?: number;
}

/** Rules that need only the first byte: packet type known in this version, reserved flags, direction. */
function checkFirstByte(byte1: number, version: ProtocolVersion | undefined, role: Role | undefined): PacketTypeName {
  const typeCode = byte1 >> 4;
  const flags = byte1 & 0x0f;
  const name = PACKET_TYPE_NAMES[typeCode];
  if (name === undefined || (name === 'auth' && version === 4)) {
    throw new MqttCodecError('UNKNOWN_PACKET_TYPE', `packet type ${typeCode} is reserved${version === 4 ? ' in MQTT 3.1.1' : ''}`, {
      version, section: version === 5 ? '2.1.2' : '2.2.1', reasonCode: MALFORMED_PACKET,
    });
  }
  if (version === undefined && name !== 'connect') {
    throw new MqttCodecError('VERSION_UNKNOWN', `${name.toUpperCase()} before CONNECT: the protocol version is not known yet`, {
      packetType: name, statement: role === 'server' ? 'MQTT-3.1.0-1' : undefined, section: '3.1', reasonCode: PROTOCOL_ERROR,
    });
  }
  if (typeCode !== 3 && flags !== FIXED_FLAGS[typeCode]) {
    const specific = name === 'pubrel' ? 'MQTT-3.6.1-1' : name === 'subscribe' ? 'MQTT-3.8.1-1' : name === 'unsubscribe' ? 'MQTT-3.10.1-1'
      : name === 'disconnect' ? 'MQTT-3.14.1-1' : name === 'auth' ? 'MQTT-3.15.1-1' : undefined;
    throw new MqttCodecError('RESERVED_FLAGS', `fixed header flags are 0b${flags.toString(2).padStart(4, '0')}, must be 0b${FIXED_FLAGS[typeCode]!.toString(2).padStart(4, '0')}`, {
      version, packetType: name, field: 'flags', statement: specific ?? stmt(version, 'MQTT-2.2.2-1', 'MQTT-2.1.3-1'), reasonCode: MALFORMED_PACKET,
    });
  }
  if (role !== undefined) {
    const sender = SENDER[name];
    if ((role === 'server' && sender === 's') || (role === 'client' && sender === 'c')) {
      throw new MqttCodecError('WRONG_DIRECTION', `${name.toUpperCase()} is sent only by the ${sender === 's' ? 'Server' : 'Client'}`, {
        version, packetType: name, section: version === 5 ? '2.1.2' : '2.2.1', reasonCode: PROTOCOL_ERROR,
      });
    }
  }
  return name;
}

function decodeBody(r: Reader, name: PacketTypeName, flags: number): Packet {
  switch (name) {
    case 'publish': return decodePublish(r, flags);
    case 'puback': case 'pubrec': case 'pubrel': case 'pubcomp': return decodeAck(r, name);
    case 'connect': return decodeConnect(r);
    case 'connack': return decodeConnack(r);
    case 'subscribe': return decodeSubscribe(r);
    case 'suback': return decodeSuback(r);
    case 'unsubscribe': return decodeUnsubscribe(r);
    case 'unsuback': return decodeSuback(r, 'unsuback');
    case 'pingreq': case 'pingresp': return decodeEmpty(r, name);
    case 'disconnect': return decodeDisconnect(r);
    case 'auth': return decodeAuth(r);
  }
}

export class Decoder {
  /** Protocol version in use; set by the first CONNECT when not given. */
  version: ProtocolVersion | undefined;
  readonly role: Role | undefined;
  maxPacketSize: number;
  private pending: Buffer[] = [];
  private pendingLen = 0;
  /** Whole size of the packet at the head of `pending`, once its fixed header is complete. */
  private need = -1;
  private failure: MqttCodecError | undefined;
  private readonly reader = new Reader();
  private readonly vi = new Int32Array(1);

  constructor(opts: DecoderOptions = {}) {
    this.version = opts.version;
    this.role = opts.role;
    this.maxPacketSize = opts.maxPacketSize ?? MAX_PACKET_SIZE;
    this.reader.role = opts.role;
  }

  /** Bytes held for an incomplete packet. */
  get buffered(): number {
    return this.pendingLen;
  }

  /**
   * Decodes every complete packet in `chunk` (plus what earlier chunks left)
   * and hands each to `sink` in order. Throws MqttCodecError on the first bad
   * packet; packets before it have been delivered; the decoder then stays failed.
   */
  feed(chunk: Buffer, sink: (packet: Packet) => void): void {
    if (this.failure) throw this.failure;
    try {
      this.run(chunk, sink);
    } catch (e) {
      if (e instanceof MqttCodecError) this.failure = e;
      throw e;
    }
  }

  /** Convenience: all packets of `chunk` as an array (throws like feed). */
  decodeAll(chunk: Buffer): Packet[] {
    const out: Packet[] = [];
    this.feed(chunk, (p) => out.push(p));
    return out;
  }

  private run(chunk: Buffer, sink: (packet: Packet) => void): void {
    let off = 0;
    if (this.pendingLen > 0) {
      if (this.need < 0) {
        // The fixed header itself was split: at most 5 bytes matter.
        const head = Buffer.concat([...this.pending, chunk.subarray(0, 5)]);
        const total = this.header(head, 0, head.length);
        if (total < 0) {
          this.pending.push(chunk);
          this.pendingLen += chunk.length;
          return;
        }
        this.need = total;
      }
      if (this.pendingLen + chunk.length < this.need) {
        this.pending.push(chunk);
        this.pendingLen += chunk.length;
        return;
      }
      const take = this.need - this.pendingLen;
      const whole = Buffer.concat([...this.pending, chunk.subarray(0, take)], this.need);
      this.pending = [];
      this.pendingLen = 0;
      this.need = -1;
      this.decodeAt(whole, 0, whole.length, sink);
      off = take;
    }
    const end = chunk.length;
    while (off < end) {
      const total = this.header(chunk, off, end);
      if (total < 0 || off + total > end) {
        this.pending.push(chunk.subarray(off));
        this.pendingLen = end - off;
        this.need = total;
        return;
      }
      this.decodeAt(chunk, off, total, sink);
      off += total;
    }
  }

  /** Checks the fixed header at `off`; returns the whole packet size, or -1 if the header is incomplete. */
  private header(buf: Buffer, off: number, end: number): number {
    if (off >= end) return -1;
    checkFirstByte(buf[off]!, this.version, this.role);
    const rl = readVarint(buf, off + 1, end, this.vi);
    if (rl === NEED_MORE) return -1;
    const v = this.version;
    if (rl === TOO_LONG) {
      throw new MqttCodecError('VARINT_TOO_LONG', 'Remaining Length uses more than 4 bytes', { version: v, field: 'remainingLength', section: v === 5 ? '2.1.4' : '2.2.3', reasonCode: MALFORMED_PACKET });
    }
    if (rl === NOT_MINIMAL) {
      throw new MqttCodecError('VARINT_NOT_MINIMAL', 'Remaining Length is not in its shortest encoding', { version: v, field: 'remainingLength', statement: stmt(v, undefined, 'MQTT-1.5.5-1'), section: v === 5 ? '1.5.5' : '2.2.3', reasonCode: MALFORMED_PACKET });
    }
    const total = 1 + this.vi[0]! + rl;
    if (total > this.maxPacketSize) {
      throw new MqttCodecError('PACKET_TOO_LARGE', `packet of ${total} bytes exceeds the maximum of ${this.maxPacketSize}`, {
        version: v, packetType: PACKET_TYPE_NAMES[buf[off]! >> 4], field: 'remainingLength',
        statement: v === 5 ? (this.role === 'client' ? 'MQTT-3.1.2-24' : this.role === 'server' ? 'MQTT-3.2.2-15' : undefined) : undefined,
        section: v === 5 ? '3.2.2.3.6' : '2.2.3', reasonCode: 0x95,
      });
    }
    return total;
  }

  private decodeAt(buf: Buffer, off: number, total: number, sink: (packet: Packet) => void): void {
    const byte1 = buf[off]!;
    const name = PACKET_TYPE_NAMES[byte1 >> 4]!;
    const bodyStart = off + 1 + (readVarint(buf, off + 1, off + total, this.vi), this.vi[0]!);
    const r = this.reader;
    r.reset(buf, bodyStart, off + total, this.version, name);
    const packet = decodeBody(r, name, byte1 & 0x0f);
    if (packet.type === 'connect' && this.version === undefined) this.version = packet.protocolVersion;
    sink(packet);
  }
}

/** Decodes exactly one complete packet from `buf`. */
export function decodePacket(buf: Buffer, opts: DecoderOptions = {}): Packet {
  const d = new Decoder(opts);
  const out = d.decodeAll(buf);
  if (d.buffered > 0) {
    throw new MqttCodecError('TRUNCATED', `input ends inside a packet (${d.buffered} byte(s) of it present)`, { version: d.version, reasonCode: MALFORMED_PACKET, section: '2.1' });
  }
  if (out.length !== 1) {
    throw new MqttCodecError('TRAILING_BYTES', `expected one packet, found ${out.length}`, { version: d.version, reasonCode: MALFORMED_PACKET, section: '2.1' });
  }
  return out[0]!;
}
