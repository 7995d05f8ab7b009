/** UNSUBSCRIBE (3.1.1 §3.10, 5.0 §3.10). */
import type { ProtocolVersion } from '../constants.js';
import { PROTOCOL_ERROR, stmt } from '../errors.js';
import { propertiesBlockSize, propertiesLength, readProperties, writeProperties } from '../properties.js';
import type { Reader } from '../reader.js';
import { assertTopicFilter } from '../topic.js';
import type { UnsubscribePacket } from '../types.js';
import { allocPacket, EncodeCtx, writeStr, writeU16, type EncodeOptions } from '../wire.js';

export function decodeUnsubscribe(r: Reader): UnsubscribePacket {
  const v = r.version!;
  const packetId = r.u16('packetId');
  if (packetId === 0) throw r.error('PACKET_ID_ZERO', 'UNSUBSCRIBE needs a non-zero Packet Identifier', 'packetId', { statement: stmt(v, 'MQTT-2.3.1-1', 'MQTT-2.2.1-3'), reasonCode: PROTOCOL_ERROR });
  const packet: UnsubscribePacket = { type: 'unsubscribe', packetId, topicFilters: [] };
  if (v === 5) {
    const props = readProperties(r, 'unsubscribe');
    if (props !== undefined) packet.properties = props;
  }
  while (r.remaining() > 0) {
    const field = `topicFilters[${packet.topicFilters.length}]`;
    const f = r.utf8(field);
    assertTopicFilter(f, v, 'unsubscribe', field);
    packet.topicFilters.push(f);
  }
  if (packet.topicFilters.length === 0) {
    throw r.error('EMPTY_UNSUBSCRIBE', 'UNSUBSCRIBE carries no Topic Filter', 'topicFilters', { statement: 'MQTT-3.10.3-2', reasonCode: PROTOCOL_ERROR });
  }
  return packet;
}

export function encodeUnsubscribe(p: UnsubscribePacket, version: ProtocolVersion, opts?: EncodeOptions): Buffer {
  const ctx = new EncodeCtx(version, 'unsubscribe', opts?.validate !== false);
  const packetId = ctx.packetId(p.packetId, stmt(version, 'MQTT-2.3.1-1', 'MQTT-2.2.1-3'));
  if (!Array.isArray(p.topicFilters)) throw ctx.error('VALUE_OUT_OF_RANGE', 'topicFilters', 'must be an array');
  if (ctx.validate && p.topicFilters.length === 0) throw ctx.error('EMPTY_UNSUBSCRIBE', 'topicFilters', 'needs at least one Topic Filter', 'MQTT-3.10.3-2');
  let remaining = 2;
  const lens = p.topicFilters.map((f, i) => {
    const n = ctx.str(`topicFilters[${i}]`, f);
    if (ctx.validate) assertTopicFilter(f, version, 'unsubscribe', `topicFilters[${i}]`);
    remaining += 2 + n;
    return n;
  });
  const propsLen = propertiesLength(p.properties, 'unsubscribe', ctx);
  remaining += propertiesBlockSize(propsLen, version);
  const [buf, start] = allocPacket(0xa2, remaining, ctx);
  let o = writeU16(buf, start, packetId);
  if (version === 5) o = writeProperties(buf, o, p.properties, propsLen);
  p.topicFilters.forEach((f, i) => { o = writeStr(buf, o, f, lens[i]!); });
  return buf;
}
