/** SUBSCRIBE (3.1.1 §3.8, 5.0 §3.8), with 5.0 Subscription Options. */
import type { ProtocolVersion, QoS } from '../constants.js';
import { PROTOCOL_ERROR, stmt } from '../errors.js';
import { propertiesBlockSize, propertiesLength, readProperties, writeProperties } from '../properties.js';
import type { Reader } from '../reader.js';
import { assertTopicFilter, isSharedFilter } from '../topic.js';
import type { RetainHandling, SubscribePacket, Subscription } from '../types.js';
import { allocPacket, EncodeCtx, writeStr, writeU16, type EncodeOptions } from '../wire.js';

/** Field names per subscription index, built once: they only name errors, so they must cost nothing per packet. */
interface SubFields { base: string; topicFilter: string; options: string; qos: string; retainHandling: string; noLocal: string }
const FIELDS: SubFields[] = [];
function fields(i: number): SubFields {
  let f = FIELDS[i];
  if (!f) {
    const base = `subscriptions[${i}]`;
    f = FIELDS[i] = { base, topicFilter: `${base}.topicFilter`, options: `${base}.options`, qos: `${base}.qos`, retainHandling: `${base}.retainHandling`, noLocal: `${base}.noLocal` };
  }
  return f;
}

export function decodeSubscribe(r: Reader): SubscribePacket {
  const v = r.version!;
  const packetId = r.u16('packetId');
  if (packetId === 0) throw r.error('PACKET_ID_ZERO', 'SUBSCRIBE needs a non-zero Packet Identifier', 'packetId', { statement: stmt(v, 'MQTT-2.3.1-1', 'MQTT-2.2.1-3'), reasonCode: PROTOCOL_ERROR });
  const packet: SubscribePacket = { type: 'subscribe', packetId, subscriptions: [] };
  if (v === 5) {
    const props = readProperties(r, 'subscribe');
    if (props !== undefined) packet.properties = props;
  }
  while (r.remaining() > 0) {
    const i = packet.subscriptions.length;
    const f = fields(i);
    const topicFilter = r.utf8(f.topicFilter);
    const o = r.u8(f.options);
    const qos = o & 3;
    if (v === 4) {
      if (o & 0xfc) throw r.error('SUBSCRIPTION_OPTIONS_RESERVED', `reserved bits 7-2 of the requested QoS byte are 0x${(o & 0xfc).toString(16)}`, f.options, { statement: 'MQTT-3.8.3-4' });
      if (qos === 3) throw r.error('INVALID_QOS', 'requested QoS is 3', f.qos, { statement: 'MQTT-3.8.3-4' });
      assertTopicFilter(topicFilter, v, 'subscribe', f.topicFilter);
      packet.subscriptions.push({ topicFilter, qos: qos as QoS });
      continue;
    }
    if (o & 0xc0) throw r.error('SUBSCRIPTION_OPTIONS_RESERVED', `reserved bits 7-6 of the Subscription Options are 0x${(o & 0xc0).toString(16)}`, f.options, { statement: 'MQTT-3.8.3-5' });
    if (qos === 3) throw r.error('INVALID_QOS', 'Maximum QoS is 3', f.qos, { section: '3.8.3.1', reasonCode: PROTOCOL_ERROR });
    const retainHandling = (o >> 4) & 3;
    if (retainHandling === 3) throw r.error('RETAIN_HANDLING_INVALID', 'Retain Handling is 3', f.retainHandling, { section: '3.8.3.1', reasonCode: PROTOCOL_ERROR });
    assertTopicFilter(topicFilter, v, 'subscribe', f.topicFilter);
    const noLocal = (o & 4) !== 0;
    if (noLocal && isSharedFilter(topicFilter)) throw r.error('NO_LOCAL_ON_SHARED', 'No Local is 1 on a Shared Subscription', f.noLocal, { statement: 'MQTT-3.8.3-4', reasonCode: PROTOCOL_ERROR });
    packet.subscriptions.push({ topicFilter, qos: qos as QoS, noLocal, retainAsPublished: (o & 8) !== 0, retainHandling: retainHandling as RetainHandling });
  }
  if (packet.subscriptions.length === 0) {
    throw r.error('EMPTY_SUBSCRIBE', 'SUBSCRIBE carries no Topic Filter', 'subscriptions', { statement: stmt(v, 'MQTT-3.8.3-3', 'MQTT-3.8.3-2'), reasonCode: PROTOCOL_ERROR });
  }
  return packet;
}

function optionsByte(s: Subscription, version: ProtocolVersion, ctx: EncodeCtx, field: string): number {
  const qos = ctx.int(`${field}.qos`, s.qos, 0, 2);
  if (version === 4) {
    ctx.noV5(`${field}.noLocal`, s.noLocal);
    ctx.noV5(`${field}.retainAsPublished`, s.retainAsPublished);
    ctx.noV5(`${field}.retainHandling`, s.retainHandling);
    return qos;
  }
  const rh = ctx.int(`${field}.retainHandling`, s.retainHandling ?? 0, 0, ctx.validate ? 2 : 3);
  if (ctx.validate && s.noLocal && isSharedFilter(s.topicFilter)) throw ctx.error('NO_LOCAL_ON_SHARED', `${field}.noLocal`, 'No Local must be 0 on a Shared Subscription', 'MQTT-3.8.3-4');
  return qos | (s.noLocal ? 4 : 0) | (s.retainAsPublished ? 8 : 0) | (rh << 4);
}

export function encodeSubscribe(p: SubscribePacket, version: ProtocolVersion, opts?: EncodeOptions): Buffer {
  const ctx = new EncodeCtx(version, 'subscribe', opts?.validate !== false);
  const packetId = ctx.packetId(p.packetId, stmt(version, 'MQTT-2.3.1-1', 'MQTT-2.2.1-3'));
  if (!Array.isArray(p.subscriptions)) throw ctx.error('VALUE_OUT_OF_RANGE', 'subscriptions', 'must be an array');
  if (ctx.validate && p.subscriptions.length === 0) throw ctx.error('EMPTY_SUBSCRIBE', 'subscriptions', 'needs at least one Topic Filter', stmt(version, 'MQTT-3.8.3-3', 'MQTT-3.8.3-2'));
  let remaining = 2;
  const lens: number[] = [];
  const opt: number[] = [];
  p.subscriptions.forEach((s, i) => {
    const field = `subscriptions[${i}]`;
    const n = ctx.str(`${field}.topicFilter`, s.topicFilter);
    if (ctx.validate) assertTopicFilter(s.topicFilter, version, 'subscribe', `${field}.topicFilter`);
    lens.push(n);
    opt.push(optionsByte(s, version, ctx, field));
    remaining += 3 + n;
  });
  const propsLen = propertiesLength(p.properties, 'subscribe', ctx);
  remaining += propertiesBlockSize(propsLen, version);
  const [buf, start] = allocPacket(0x82, remaining, ctx);
  let o = writeU16(buf, start, packetId);
  if (version === 5) o = writeProperties(buf, o, p.properties, propsLen);
  p.subscriptions.forEach((s, i) => {
    o = writeStr(buf, o, s.topicFilter, lens[i]!);
    buf[o++] = opt[i]!;
  });
  return buf;
}
