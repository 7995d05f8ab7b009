/** SUBACK and UNSUBACK (3.1.1 §3.9, §3.11; 5.0 §3.9, §3.11): Packet Identifier, (5.0) properties, a list of codes. */
import type { ProtocolVersion } from '../constants.js';
import { PROTOCOL_ERROR } from '../errors.js';
import { propertiesBlockSize, propertiesLength, readProperties, writeProperties } from '../properties.js';
import type { Reader } from '../reader.js';
import { isReasonCodeAllowed, SUBACK_RETURN_CODES_V4 } from '../reason-codes.js';
import type { SubackPacket, UnsubackPacket } from '../types.js';
import { allocPacket, EncodeCtx, writeU16, type EncodeOptions } from '../wire.js';

function codeAllowed(type: 'suback' | 'unsuback', version: ProtocolVersion | undefined, rc: number): boolean {
  return version === 5 ? isReasonCodeAllowed(type, rc) : SUBACK_RETURN_CODES_V4.has(rc);
}

export function decodeSuback(r: Reader): SubackPacket;
export function decodeSuback(r: Reader, type: 'unsuback'): UnsubackPacket;
export function decodeSuback(r: Reader, type: 'suback' | 'unsuback' = 'suback'): SubackPacket | UnsubackPacket {
  const v = r.version;
  const section = type === 'suback' ? '3.9' : '3.11';
  const packetId = r.u16('packetId');
  if (packetId === 0) throw r.error('PACKET_ID_ZERO', 'Packet Identifier must be non-zero', 'packetId', { section: v === 5 ? '2.2.1' : '2.3.1', reasonCode: PROTOCOL_ERROR });
  if (type === 'unsuback' && v === 4) {
    r.done();
    return { type: 'unsuback', packetId };
  }
  let properties;
  if (v === 5) properties = readProperties(r, type);
  const reasonCodes: number[] = [];
  while (r.remaining() > 0) {
    const rc = r.u8(`reasonCodes[${reasonCodes.length}]`);
    if (!codeAllowed(type, v, rc)) {
      throw r.error('INVALID_REASON_CODE', `0x${rc.toString(16)} is not a ${type.toUpperCase()} ${v === 5 ? 'reason' : 'return'} code`, `reasonCodes[${reasonCodes.length}]`, {
        statement: type === 'suback' ? 'MQTT-3.9.3-2' : v === 5 ? 'MQTT-3.11.3-2' : undefined, section: `${section}.3`, reasonCode: PROTOCOL_ERROR,
      });
    }
    reasonCodes.push(rc);
  }
  if (reasonCodes.length === 0) throw r.error('EMPTY_SUBACK', `${type.toUpperCase()} carries no ${v === 5 ? 'reason' : 'return'} codes`, 'reasonCodes', { section: `${section}.3`, reasonCode: PROTOCOL_ERROR });
  const packet: SubackPacket | UnsubackPacket = type === 'suback' ? { type, packetId, reasonCodes } : { type, packetId, reasonCodes };
  if (properties !== undefined) packet.properties = properties;
  return packet;
}

export function encodeSuback(p: SubackPacket | UnsubackPacket, version: ProtocolVersion, opts?: EncodeOptions): Buffer {
  const ctx = new EncodeCtx(version, p.type, opts?.validate !== false);
  const byte1 = p.type === 'suback' ? 0x90 : 0xb0;
  const packetId = ctx.packetId(p.packetId);
  if (p.type === 'unsuback' && version === 4) {
    ctx.noV5('reasonCodes', p.reasonCodes);
    ctx.noV5('properties', p.properties);
    const [buf, o] = allocPacket(byte1, 2, ctx);
    writeU16(buf, o, packetId);
    return buf;
  }
  const codes = p.reasonCodes;
  if (!Array.isArray(codes)) throw ctx.error('VALUE_OUT_OF_RANGE', 'reasonCodes', 'must be an array');
  if (ctx.validate && codes.length === 0) throw ctx.error('EMPTY_SUBACK', 'reasonCodes', 'needs one code per requested Topic Filter');
  codes.forEach((rc, i) => {
    ctx.int(`reasonCodes[${i}]`, rc, 0, 0xff);
    if (ctx.validate && !codeAllowed(p.type, version, rc)) throw ctx.error('INVALID_REASON_CODE', `reasonCodes[${i}]`, `0x${rc.toString(16)} is not a ${p.type.toUpperCase()} code`);
  });
  let remaining = 2 + codes.length;
  const propsLen = propertiesLength(p.properties, p.type, ctx);
  remaining += propertiesBlockSize(propsLen, version);
  const [buf, start] = allocPacket(byte1, remaining, ctx);
  let o = writeU16(buf, start, packetId);
  if (version === 5) o = writeProperties(buf, o, p.properties, propsLen);
  for (const rc of codes) buf[o++] = rc;
  return buf;
}
