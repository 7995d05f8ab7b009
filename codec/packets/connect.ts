/** CONNECT (3.1.1 §3.1, 5.0 §3.1). The decoder learns the protocol version from it. */
import type { ProtocolVersion, QoS } from '../constants.js';
import { stmt } from '../errors.js';
import { propertiesBlockSize, propertiesLength, readProperties, writeProperties } from '../properties.js';
import type { Reader } from '../reader.js';
import { assertTopicName } from '../topic.js';
import type { ConnectPacket, Will } from '../types.js';
import { allocPacket, EncodeCtx, writeBin, writeStr, writeU16, type EncodeOptions } from '../wire.js';

const UNSUPPORTED_PROTOCOL_VERSION = 0x84;

export function decodeConnect(r: Reader): ConnectPacket {
  const name = r.utf8('protocolName');
  const level = r.u8('protocolLevel');
  if (name !== 'MQTT') {
    if (name === 'MQIsdp') {
      throw r.error('UNSUPPORTED_PROTOCOL_LEVEL', `MQTT 3.1 ('MQIsdp', level ${level}) is not supported`, 'protocolLevel', {
        statement: 'MQTT-3.1.2-2', reasonCode: UNSUPPORTED_PROTOCOL_VERSION, protocolLevel: level,
      });
    }
    throw r.error('PROTOCOL_NAME', `protocol name '${name}' is not 'MQTT'`, 'protocolName', {
      statement: 'MQTT-3.1.2-1', reasonCode: UNSUPPORTED_PROTOCOL_VERSION, protocolLevel: level,
    });
  }
  if (level !== 4 && level !== 5) {
    throw r.error('UNSUPPORTED_PROTOCOL_LEVEL', `protocol level ${level} is not 4 (3.1.1) or 5 (5.0)`, 'protocolLevel', {
      statement: 'MQTT-3.1.2-2', reasonCode: UNSUPPORTED_PROTOCOL_VERSION, protocolLevel: level,
    });
  }
  const v: ProtocolVersion = level;
  r.version = v;
  const flags = r.u8('connectFlags');
  if (flags & 0x01) throw r.error('CONNECT_RESERVED_FLAG', 'reserved bit 0 of the Connect Flags is 1', 'connectFlags', { statement: 'MQTT-3.1.2-3' });
  const willFlag = (flags & 0x04) !== 0;
  const willQos = (flags >> 3) & 3;
  const willRetain = (flags & 0x20) !== 0;
  const passwordFlag = (flags & 0x40) !== 0;
  const usernameFlag = (flags & 0x80) !== 0;
  if (!willFlag && willQos !== 0) throw r.error('WILL_FLAGS', `Will QoS is ${willQos} but the Will Flag is 0`, 'connectFlags.willQos', { statement: stmt(v, 'MQTT-3.1.2-13', 'MQTT-3.1.2-11') });
  if (!willFlag && willRetain) throw r.error('WILL_FLAGS', 'Will Retain is 1 but the Will Flag is 0', 'connectFlags.willRetain', { statement: stmt(v, 'MQTT-3.1.2-15', 'MQTT-3.1.2-13') });
  if (willQos === 3) throw r.error('INVALID_QOS', 'Will QoS is 3', 'connectFlags.willQos', { statement: stmt(v, 'MQTT-3.1.2-14', 'MQTT-3.1.2-12') });
  if (v === 4 && passwordFlag && !usernameFlag) {
    throw r.error('PASSWORD_WITHOUT_USERNAME', 'Password Flag is 1 but User Name Flag is 0', 'connectFlags.password', { statement: 'MQTT-3.1.2-22' });
  }
  const keepAlive = r.u16('keepAlive');
  const packet: ConnectPacket = { type: 'connect', protocolVersion: v, clean: (flags & 0x02) !== 0, keepAlive, clientId: '' };
  if (v === 5) {
    const props = readProperties(r, 'connect');
    if (props !== undefined) packet.properties = props;
  }
  packet.clientId = r.utf8('clientId');
  if (willFlag) {
    let willProps;
    if (v === 5) willProps = readProperties(r, 'will');
    const topic = r.utf8('will.topic');
    assertTopicName(topic, v, 'connect', 'will.topic');
    const will: Will = { topic, payload: r.binary('will.payload'), qos: willQos as QoS, retain: willRetain };
    if (willProps !== undefined) will.properties = willProps;
    packet.will = will;
  }
  if (usernameFlag) packet.username = r.utf8('username');
  if (passwordFlag) packet.password = r.binary('password');
  r.done();
  return packet;
}

export function encodeConnect(p: ConnectPacket, version: ProtocolVersion, opts?: EncodeOptions): Buffer {
  const ctx = new EncodeCtx(version, 'connect', opts?.validate !== false);
  if (p.protocolVersion !== undefined && p.protocolVersion !== version && ctx.validate) {
    throw ctx.error('UNSUPPORTED_PROTOCOL_LEVEL', 'protocolVersion', `packet says ${p.protocolVersion} but is being encoded as ${version}`);
  }
  const keepAlive = ctx.int('keepAlive', p.keepAlive, 0, 0xffff);
  let remaining = 6 + 1 + 1 + 2 + 2 + ctx.str('clientId', p.clientId);
  const propsLen = propertiesLength(p.properties, 'connect', ctx);
  remaining += propertiesBlockSize(propsLen, version);
  let willPropsLen = 0;
  let flags = p.clean ? 0x02 : 0;
  const will = p.will;
  if (will !== undefined) {
    const wq = ctx.int('will.qos', will.qos, 0, 2);
    flags |= 0x04 | (wq << 3) | (will.retain ? 0x20 : 0);
    if (ctx.validate) assertTopicName(will.topic, version, 'connect', 'will.topic');
    remaining += 2 + ctx.str('will.topic', will.topic) + 2 + ctx.bin('will.payload', will.payload);
    willPropsLen = propertiesLength(will.properties, 'will', ctx);
    remaining += propertiesBlockSize(willPropsLen, version);
  }
  if (p.username !== undefined) {
    flags |= 0x80;
    remaining += 2 + ctx.str('username', p.username);
  }
  if (p.password !== undefined) {
    if (version === 4 && p.username === undefined && ctx.validate) {
      throw ctx.error('PASSWORD_WITHOUT_USERNAME', 'password', 'a 3.1.1 CONNECT with a password needs a user name', 'MQTT-3.1.2-22');
    }
    flags |= 0x40;
    remaining += 2 + ctx.bin('password', p.password);
  }
  const [buf, start] = allocPacket(0x10, remaining, ctx);
  let o = writeStr(buf, start, 'MQTT', 4);
  buf[o++] = version;
  buf[o++] = flags;
  o = writeU16(buf, o, keepAlive);
  if (version === 5) o = writeProperties(buf, o, p.properties, propsLen);
  o = writeStr(buf, o, p.clientId, Buffer.byteLength(p.clientId));
  if (will !== undefined) {
    if (version === 5) o = writeProperties(buf, o, will.properties, willPropsLen);
    o = writeStr(buf, o, will.topic, Buffer.byteLength(will.topic));
    o = writeBin(buf, o, will.payload);
  }
  if (p.username !== undefined) o = writeStr(buf, o, p.username, Buffer.byteLength(p.username));
  if (p.password !== undefined) writeBin(buf, o, p.password);
  return buf;
}
