/** CONNACK (3.1.1 §3.2, 5.0 §3.2). */
import type { ProtocolVersion } from '../constants.js';
import { PROTOCOL_ERROR, stmt } from '../errors.js';
import { propertiesBlockSize, propertiesLength, readProperties, writeProperties } from '../properties.js';
import type { Reader } from '../reader.js';
import { CONNACK_RETURN_CODES_V4, isReasonCodeAllowed } from '../reason-codes.js';
import type { ConnackPacket } from '../types.js';
import { allocPacket, EncodeCtx, type EncodeOptions } from '../wire.js';

export function decodeConnack(r: Reader): ConnackPacket {
  const v = r.version;
  const flags = r.u8('acknowledgeFlags');
  if (flags & 0xfe) {
    throw r.error('CONNACK_RESERVED_FLAGS', `reserved bits 7-1 of the Connect Acknowledge Flags are 0x${(flags & 0xfe).toString(16)}`, 'acknowledgeFlags', {
      statement: stmt(v, undefined, 'MQTT-3.2.2-1'), section: '3.2.2.1',
    });
  }
  const reasonCode = r.u8('reasonCode');
  if (v === 5 ? !isReasonCodeAllowed('connack', reasonCode) : CONNACK_RETURN_CODES_V4[reasonCode] === undefined) {
    throw r.error('INVALID_REASON_CODE', `0x${reasonCode.toString(16)} is not a CONNACK ${v === 5 ? 'reason' : 'return'} code`, 'reasonCode', {
      statement: stmt(v, undefined, 'MQTT-3.2.2-8'), section: v === 5 ? '3.2.2.2' : '3.2.2.3', reasonCode: PROTOCOL_ERROR,
    });
  }
  const sessionPresent = (flags & 1) === 1;
  if (sessionPresent && reasonCode !== 0) {
    throw r.error('SESSION_PRESENT_WITH_ERROR', `Session Present is 1 with ${v === 5 ? 'reason' : 'return'} code 0x${reasonCode.toString(16)}`, 'sessionPresent', {
      statement: stmt(v, 'MQTT-3.2.2-4', 'MQTT-3.2.2-6'), reasonCode: PROTOCOL_ERROR,
    });
  }
  const packet: ConnackPacket = { type: 'connack', sessionPresent, reasonCode };
  if (v === 5) {
    const props = readProperties(r, 'connack');
    if (props !== undefined) packet.properties = props;
  }
  r.done();
  return packet;
}

export function encodeConnack(p: ConnackPacket, version: ProtocolVersion, opts?: EncodeOptions): Buffer {
  const ctx = new EncodeCtx(version, 'connack', opts?.validate !== false);
  const rc = ctx.int('reasonCode', p.reasonCode, 0, 0xff);
  if (ctx.validate) {
    if (version === 5 ? !isReasonCodeAllowed('connack', rc) : CONNACK_RETURN_CODES_V4[rc] === undefined) {
      throw ctx.error('INVALID_REASON_CODE', 'reasonCode', `0x${rc.toString(16)} is not a CONNACK ${version === 5 ? 'reason' : 'return'} code`, stmt(version, undefined, 'MQTT-3.2.2-8'));
    }
    if (p.sessionPresent && rc !== 0) throw ctx.error('SESSION_PRESENT_WITH_ERROR', 'sessionPresent', 'must be 0 when the code is not 0', stmt(version, 'MQTT-3.2.2-4', 'MQTT-3.2.2-6'));
  }
  let remaining = 2;
  const propsLen = propertiesLength(p.properties, 'connack', ctx);
  remaining += propertiesBlockSize(propsLen, version);
  const [buf, o] = allocPacket(0x20, remaining, ctx);
  buf[o] = p.sessionPresent ? 1 : 0;
  buf[o + 1] = rc;
  if (version === 5) writeProperties(buf, o + 2, p.properties, propsLen);
  return buf;
}
