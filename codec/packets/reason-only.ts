/**
 * PINGREQ, PINGRESP, DISCONNECT and AUTH: no Packet Identifier; in 5.0
 * DISCONNECT and AUTH carry an optional Reason Code and properties
 * (5.0 §3.14.2.1, §3.15.2.1: both may be omitted when the code is 0x00).
 */
import type { ProtocolVersion } from '../constants.js';
import { PROTOCOL_ERROR } from '../errors.js';
import { propertiesSize, readProperties, writeProperties } from '../properties.js';
import type { Reader } from '../reader.js';
import { CLIENT_ONLY_DISCONNECT_REASONS, isReasonCodeAllowed, SERVER_ONLY_DISCONNECT_REASONS } from '../reason-codes.js';
import type { AuthPacket, DisconnectPacket, PingreqPacket, PingrespPacket } from '../types.js';
import { varintSize } from '../varint.js';
import { allocPacket, EncodeCtx, type EncodeOptions } from '../wire.js';

export function decodeEmpty<T extends 'pingreq' | 'pingresp'>(r: Reader, type: T): { type: T } {
  r.done();
  return { type };
}

export function decodeDisconnect(r: Reader): DisconnectPacket {
  const packet: DisconnectPacket = { type: 'disconnect' };
  if (r.version === 5) {
    const rc = r.remaining() > 0 ? r.u8('reasonCode') : 0;
    if (!isReasonCodeAllowed('disconnect', rc)) {
      throw r.error('INVALID_REASON_CODE', `0x${rc.toString(16)} is not a DISCONNECT reason code`, 'reasonCode', { statement: 'MQTT-3.14.2-1', reasonCode: PROTOCOL_ERROR });
    }
    if ((r.role === 'server' && SERVER_ONLY_DISCONNECT_REASONS.has(rc)) || (r.role === 'client' && CLIENT_ONLY_DISCONNECT_REASONS.has(rc))) {
      throw r.error('INVALID_REASON_CODE', `0x${rc.toString(16)} may only be sent by the ${r.role === 'server' ? 'Server' : 'Client'}`, 'reasonCode', { section: '3.14.2.1', reasonCode: PROTOCOL_ERROR });
    }
    packet.reasonCode = rc;
    if (r.remaining() > 0) {
      const props = readProperties(r, 'disconnect');
      if (props !== undefined) {
        if (r.role === 'client' && props.sessionExpiryInterval !== undefined) {
          throw r.error('PROPERTY_NOT_ALLOWED', 'a Server must not send Session Expiry Interval in DISCONNECT', 'properties.sessionExpiryInterval', { statement: 'MQTT-3.14.2-2', reasonCode: PROTOCOL_ERROR });
        }
        packet.properties = props;
      }
    }
  }
  r.done();
  return packet;
}

export function decodeAuth(r: Reader): AuthPacket {
  const rc = r.remaining() > 0 ? r.u8('reasonCode') : 0;
  if (!isReasonCodeAllowed('auth', rc)) throw r.error('INVALID_REASON_CODE', `0x${rc.toString(16)} is not an AUTH reason code`, 'reasonCode', { statement: 'MQTT-3.15.2-1', reasonCode: PROTOCOL_ERROR });
  const packet: AuthPacket = { type: 'auth', reasonCode: rc };
  if (r.remaining() > 0) {
    const props = readProperties(r, 'auth');
    if (props !== undefined) packet.properties = props;
  }
  r.done();
  return packet;
}

export function encodeEmpty(p: PingreqPacket | PingrespPacket, version: ProtocolVersion, opts?: EncodeOptions): Buffer {
  const ctx = new EncodeCtx(version, p.type, opts?.validate !== false);
  return allocPacket(p.type === 'pingreq' ? 0xc0 : 0xd0, 0, ctx)[0];
}

export function encodeReasonOnly(p: DisconnectPacket | AuthPacket, version: ProtocolVersion, opts?: EncodeOptions): Buffer {
  const ctx = new EncodeCtx(version, p.type, opts?.validate !== false);
  const byte1 = p.type === 'disconnect' ? 0xe0 : 0xf0;
  if (version === 4) {
    if (p.type === 'auth') throw ctx.error('UNKNOWN_PACKET_TYPE', undefined, 'AUTH exists only in MQTT 5.0', undefined, '2.2.1');
    ctx.noV5('reasonCode', p.reasonCode);
    ctx.noV5('properties', p.properties);
    return allocPacket(byte1, 0, ctx)[0];
  }
  const rc = ctx.int('reasonCode', p.reasonCode ?? 0, 0, 0xff);
  if (ctx.validate && !isReasonCodeAllowed(p.type, rc)) throw ctx.error('INVALID_REASON_CODE', 'reasonCode', `0x${rc.toString(16)} is not a ${p.type.toUpperCase()} reason code`, p.type === 'auth' ? 'MQTT-3.15.2-1' : undefined);
  const propsLen = propertiesSize(p.properties, p.type, ctx);
  // AUTH omits the Reason Code only together with the Property Length (§3.15.2.2.1), so a
  // non-zero AUTH code is always followed by a Property Length; DISCONNECT may stop after the code.
  const bare = rc === 0 ? 0 : p.type === 'auth' ? 2 : 1;
  const remaining = propsLen > 0 ? 1 + varintSize(propsLen) + propsLen : bare;
  const [buf, o] = allocPacket(byte1, remaining, ctx);
  if (remaining > 0) buf[o] = rc;
  if (remaining > 1) writeProperties(buf, o + 1, p.properties, propsLen);
  return buf;
}
