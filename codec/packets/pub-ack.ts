/**
 * PUBACK, PUBREC, PUBREL, PUBCOMP (3.1.1 §3.4–3.7, 5.0 §3.4–3.7): one layout,
 * Packet Identifier then (5.0) an optional Reason Code and properties.
 */
import type { ProtocolVersion } from '../constants.js';
import { PROTOCOL_ERROR } from '../errors.js';
import { propertiesSize, readProperties, writeProperties } from '../properties.js';
import type { Reader } from '../reader.js';
import { isReasonCodeAllowed } from '../reason-codes.js';
import type { AckPacket } from '../types.js';
import { varintSize } from '../varint.js';
import { allocPacket, EncodeCtx, writeU16, type EncodeOptions } from '../wire.js';

type AckType = 'puback' | 'pubrec' | 'pubrel' | 'pubcomp';
const BYTE1: Record<AckType, number> = { puback: 0x40, pubrec: 0x50, pubrel: 0x62, pubcomp: 0x70 };
const SECTION: Record<AckType, string> = { puback: '3.4', pubrec: '3.5', pubrel: '3.6', pubcomp: '3.7' };
/** 5.0: each ack uses only its own reason-code table. */
const RC_STATEMENT: Record<AckType, string> = { puback: 'MQTT-3.4.2-1', pubrec: 'MQTT-3.5.2-1', pubrel: 'MQTT-3.6.2-1', pubcomp: 'MQTT-3.7.2-1' };

export function decodeAck<T extends AckType>(r: Reader, type: T): AckPacket<T> {
  const packetId = r.u16('packetId');
  if (packetId === 0) throw r.error('PACKET_ID_ZERO', 'Packet Identifier must be non-zero', 'packetId', { section: r.version === 5 ? '2.2.1' : '2.3.1', reasonCode: PROTOCOL_ERROR });
  const packet: AckPacket<T> = { type, packetId };
  if (r.version === 5) {
    // Reason Code and Property Length may be omitted (§3.4.2.1, §3.4.2.2).
    packet.reasonCode = r.remaining() > 0 ? r.u8('reasonCode') : 0;
    if (!isReasonCodeAllowed(type, packet.reasonCode)) {
      throw r.error('INVALID_REASON_CODE', `0x${packet.reasonCode.toString(16)} is not a ${type.toUpperCase()} reason code`, 'reasonCode', { statement: RC_STATEMENT[type], reasonCode: PROTOCOL_ERROR });
    }
    if (r.remaining() > 0) {
      const props = readProperties(r, type);
      if (props !== undefined) packet.properties = props;
    }
  }
  r.done();
  return packet;
}

export function encodeAck(p: AckPacket<AckType>, version: ProtocolVersion, opts?: EncodeOptions): Buffer {
  const ctx = new EncodeCtx(version, p.type, opts?.validate !== false);
  const packetId = ctx.packetId(p.packetId);
  if (version === 4) {
    ctx.noV5('reasonCode', p.reasonCode);
    ctx.noV5('properties', p.properties);
    const [buf, o] = allocPacket(BYTE1[p.type], 2, ctx);
    writeU16(buf, o, packetId);
    return buf;
  }
  const rc = ctx.int('reasonCode', p.reasonCode ?? 0, 0, 0xff);
  if (ctx.validate && !isReasonCodeAllowed(p.type, rc)) throw ctx.error('INVALID_REASON_CODE', 'reasonCode', `0x${rc.toString(16)} is not a ${p.type.toUpperCase()} reason code`, RC_STATEMENT[p.type]);
  const propsLen = propertiesSize(p.properties, p.type, ctx);
  const remaining = propsLen > 0 ? 3 + varintSize(propsLen) + propsLen : rc !== 0 ? 3 : 2;
  const [buf, start] = allocPacket(BYTE1[p.type], remaining, ctx);
  let o = writeU16(buf, start, packetId);
  if (remaining > 2) buf[o++] = rc;
  if (propsLen > 0) writeProperties(buf, o, p.properties, propsLen);
  return buf;
}
