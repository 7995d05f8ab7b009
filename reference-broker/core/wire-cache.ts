/**
 * Encoded PUBLISH bytes shared by every subscriber that receives the same
 * bytes: one encode per message and (version, QoS, RETAIN), not one per
 * subscriber. QoS 0 bytes are written as they are; QoS 1/2 bytes are a
 * template copied per delivery with the Packet Identifier and DUP patched in.
 */
import { encode, type ProtocolVersion, type QoS } from '../../codec/index.js';
import { isOwned, ownedCopy, type AppMessage } from './message.js';

interface WireForm {
  bytes: Buffer;
  /** Offset of the Packet Identifier (QoS > 0), else -1. */
  pidOffset: number;
}

type Cached = AppMessage & { wire?: (WireForm | undefined)[] };

function slot(version: ProtocolVersion, qos: QoS, retain: boolean): number {
  return (version === 5 ? 6 : 0) + qos * 2 + (retain ? 1 : 0);
}

function build(msg: AppMessage, version: ProtocolVersion, qos: QoS, retain: boolean): WireForm {
  // The message was validated when it arrived; the broker's own encode can skip the checks.
  const encoded = encode({
    type: 'publish', topic: msg.topic, payload: msg.payload, qos, retain, dup: false,
    packetId: qos > 0 ? 1 : undefined, properties: version === 5 ? msg.properties : undefined,
  }, version, { validate: false });
  // Cached on the message for as long as it lives: a held one (a retained one: for good) gets an allocation of its own.
  const bytes = isOwned(msg) ? ownedCopy(encoded) : encoded;
  if (qos === 0) return { bytes, pidOffset: -1 };
  let i = 1;
  while (bytes[i]! & 0x80) i++; // Remaining Length varint
  const topicStart = i + 1;
  const topicLen = (bytes[topicStart]! << 8) | bytes[topicStart + 1]!;
  return { bytes, pidOffset: topicStart + 2 + topicLen };
}

/** The bytes of `msg` as a PUBLISH to a client of `version`, with no per-subscriber properties. */
export function sharedPublishBytes(msg: AppMessage, version: ProtocolVersion, qos: QoS, retain: boolean, packetId: number, dup: boolean): Buffer {
  const m = msg as Cached;
  const wire = (m.wire ??= []);
  const k = slot(version, qos, retain);
  const form = (wire[k] ??= build(msg, version, qos, retain));
  if (qos === 0) return form.bytes;
  const out = Buffer.allocUnsafe(form.bytes.length);
  form.bytes.copy(out);
  if (dup) out[0] = out[0]! | 0x08;
  out[form.pidOffset] = packetId >>> 8;
  out[form.pidOffset + 1] = packetId & 0xff;
  return out;
}
