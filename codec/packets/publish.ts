/** PUBLISH (3.1.1 §3.3, 5.0 §3.3). The hot path of every broker: no copies, one pass. */
import { type ProtocolVersion, type QoS } from '../constants.js';
import { PROTOCOL_ERROR, stmt } from '../errors.js';
import { propertiesBlockSize, propertiesLength, readProperties, writeProperties } from '../properties.js';
import type { Reader } from '../reader.js';
import { assertTopicName, topicNameProblem } from '../topic.js';
import type { PublishPacket } from '../types.js';
import { decodeUtf8 } from '../utf8.js';
import { allocPacket, EncodeCtx, writeStr, writeU16, type EncodeOptions } from '../wire.js';

export function decodePublish(r: Reader, flags: number): PublishPacket {
  const v = r.version;
  const qos = (flags >> 1) & 3;
  if (qos === 3) throw r.error('INVALID_QOS', 'QoS bits are both set (QoS 3)', 'qos', { statement: 'MQTT-3.3.1-4' });
  const dup = (flags & 8) !== 0;
  if (dup && qos === 0) throw r.error('DUP_WITH_QOS0', 'DUP is 1 on a QoS 0 PUBLISH', 'dup', { statement: 'MQTT-3.3.1-2' });
  const [ts, te] = r.rawString('topic');
  const buf = r.buf;
  for (let i = ts; i < te; i++) {
    const b = buf[i]!;
    if (b === 0x2b || b === 0x23) {
      throw r.error('TOPIC_NAME_WILDCARD', `wildcard '${String.fromCharCode(b)}' in a Topic Name`, 'topic', { statement: 'MQTT-3.3.2-2', reasonCode: 0x90 });
    }
  }
  const topic = decodeUtf8(buf, ts, te, { version: v, packetType: 'publish', field: 'topic' });
  let packetId: number | undefined;
  if (qos > 0) {
    packetId = r.u16('packetId');
    if (packetId === 0) {
      throw r.error('PACKET_ID_ZERO', 'a QoS > 0 PUBLISH needs a non-zero Packet Identifier', 'packetId', {
        statement: stmt(v, 'MQTT-2.3.1-1', r.role === 'client' ? 'MQTT-2.2.1-4' : 'MQTT-2.2.1-3'), reasonCode: PROTOCOL_ERROR,
      });
    }
  }
  const packet: PublishPacket = { type: 'publish', topic, payload: buf, qos: qos as QoS, retain: (flags & 1) !== 0, dup };
  if (packetId !== undefined) packet.packetId = packetId;
  if (v === 5) {
    const props = readProperties(r, 'publish');
    if (props !== undefined) {
      if (r.role === 'server' && props.subscriptionIdentifiers !== undefined) {
        throw r.error('PROPERTY_NOT_ALLOWED', 'a PUBLISH from a Client must not carry a Subscription Identifier', 'properties.subscriptionIdentifiers', { statement: 'MQTT-3.3.4-6', reasonCode: PROTOCOL_ERROR });
      }
      if (props.responseTopic !== undefined) {
        const p = topicNameProblem(props.responseTopic, 5);
        if (p) throw r.error(p.code, `Response Topic: ${p.message}`, 'properties.responseTopic', { statement: 'MQTT-3.3.2-14', reasonCode: PROTOCOL_ERROR });
      }
      packet.properties = props;
    }
    if (te === ts && props?.topicAlias === undefined) {
      throw r.error('TOPIC_NAME_EMPTY', 'zero-length Topic Name without a Topic Alias', 'topic', { section: '3.3.2.3.4', reasonCode: PROTOCOL_ERROR });
    }
  } else if (te === ts) {
    throw r.error('TOPIC_NAME_EMPTY', 'Topic Name must be at least one character', 'topic', { statement: 'MQTT-4.7.3-1' });
  }
  packet.payload = buf.subarray(r.pos, r.end);
  r.pos = r.end;
  return packet;
}

export function encodePublish(p: PublishPacket, version: ProtocolVersion, opts?: EncodeOptions): Buffer {
  const ctx = new EncodeCtx(version, 'publish', opts?.validate !== false);
  const qos = ctx.int('qos', p.qos, 0, 2);
  // One pass for the usual case, a plain ASCII topic with no wildcard; anything else takes the checked path.
  const fast = ctx.validate ? plainAsciiTopicLength(p.topic) : -1;
  const topicLen = fast >= 0 ? fast : ctx.str('topic', p.topic);
  const payload = p.payload;
  if (!(payload instanceof Uint8Array)) throw ctx.error('VALUE_OUT_OF_RANGE', 'payload', 'must be a Buffer');
  let packetId = 0;
  if (qos > 0) packetId = ctx.packetId(p.packetId, stmt(version, 'MQTT-2.3.1-1', 'MQTT-2.2.1-3'));
  if (ctx.validate) {
    if (p.dup && qos === 0) throw ctx.error('DUP_WITH_QOS0', 'dup', 'DUP must be 0 on a QoS 0 PUBLISH', 'MQTT-3.3.1-2');
    if (fast < 0 && !(topicLen === 0 && version === 5 && p.properties?.topicAlias !== undefined)) assertTopicName(p.topic, version, 'publish', 'topic');
    const rt = p.properties?.responseTopic;
    if (version === 5 && typeof rt === 'string') {
      const bad = topicNameProblem(rt, 5);
      if (bad) throw ctx.error(bad.code, 'properties.responseTopic', `Response Topic: ${bad.message}`, 'MQTT-3.3.2-14');
    }
  }
  let remaining = 2 + topicLen + (qos > 0 ? 2 : 0) + payload.length;
  const propsLen = propertiesLength(p.properties, 'publish', ctx);
  remaining += propertiesBlockSize(propsLen, version);
  const [buf, start] = allocPacket(0x30 | (p.dup ? 8 : 0) | (qos << 1) | (p.retain ? 1 : 0), remaining, ctx);
  let o = writeStr(buf, start, p.topic, topicLen);
  if (qos > 0) o = writeU16(buf, o, packetId);
  if (version === 5) o = writeProperties(buf, o, p.properties, propsLen);
  buf.set(payload, o);
  return buf;
}

/** Length of a non-empty topic made only of ASCII other than NUL, '+' and '#' (so valid as is), or -1. */
function plainAsciiTopicLength(topic: unknown): number {
  if (typeof topic !== 'string') return -1;
  const n = topic.length;
  if (n === 0 || n > 0xffff) return -1;
  for (let i = 0; i < n; i++) {
    const c = topic.charCodeAt(i);
    if (c === 0 || c >= 0x80 || c === 0x2b || c === 0x23) return -1;
  }
  return n;
}
