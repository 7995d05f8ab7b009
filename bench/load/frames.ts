/**
 * Pre-encoded MQTT 3.1.1 frames for the load generator. Each PUBLISH frame is
 * encoded once with our codec; sending a message then only patches its
 * timestamps, sequence number and (QoS 1) Packet Identifier into a reusable
 * batch buffer, so the hot path allocates nothing per message.
 *
 * Payload layout (little-endian), `payloadSize` ≥ 24 bytes:
 *   [0, 8)   intended send time, ns of the monotonic clock (float64)
 *   [8, 16)  actual send time (the write call), ns (float64)
 *   [16, 18) publisher index (uint16)
 *   [18]     flags: bit 0 = sent in the measured window
 *   [20, 24) sequence number of this publisher (uint32)
 *   [24, …)  filler
 */
import { Decoder, encode, type Packet } from '../../codec/index.js';

export const PAYLOAD = { INTENDED: 0, ACTUAL: 8, PUBLISHER: 16, FLAGS: 18, SEQ: 20, MIN_SIZE: 24 } as const;
export const FLAG_MEASURED = 1;

/** A buffer of `capacity` copies of one publisher's PUBLISH frame, laid end to end. */
export class PublishBatch {
  readonly buf: Buffer;
  readonly frameLength: number;
  private readonly payloadOffset: number;
  /** Offset of the Packet Identifier inside a frame, -1 for QoS 0. */
  private readonly idOffset: number;
  /** views[n] = the first n frames, made once so a send allocates nothing. */
  private readonly views: Buffer[];

  constructor(topic: string, qos: 0 | 1, payloadSize: number, publisherIndex: number, readonly capacity: number) {
    if (payloadSize < PAYLOAD.MIN_SIZE) throw new Error(`payload size must be at least ${PAYLOAD.MIN_SIZE} bytes`);
    const payload = Buffer.alloc(payloadSize, 0x61);
    payload.fill(0, 0, PAYLOAD.MIN_SIZE);
    payload.writeUInt16LE(publisherIndex, PAYLOAD.PUBLISHER);
    const packet: Packet = { type: 'publish', topic, payload, qos, retain: false, dup: false };
    if (qos > 0) packet.packetId = 1;
    const frame = encode(packet, 4);
    this.frameLength = frame.length;
    // The payload is the last field of a PUBLISH; the Packet Identifier sits just before it.
    this.payloadOffset = frame.length - payloadSize;
    this.idOffset = qos > 0 ? this.payloadOffset - 2 : -1;
    checkTemplate(frame, topic, payloadSize, qos, this.idOffset);
    this.buf = Buffer.allocUnsafe(frame.length * capacity);
    for (let j = 0; j < capacity; j++) frame.copy(this.buf, j * frame.length);
    this.views = [Buffer.alloc(0)];
    for (let n = 1; n <= capacity; n++) this.views.push(this.buf.subarray(0, n * frame.length));
  }

  /** Fills in frame `j` (0 ≤ j < capacity). `packetId` is ignored for QoS 0. */
  stamp(j: number, intendedNs: number, actualNs: number, seq: number, flags: number, packetId: number): void {
    const b = this.buf;
    const f = j * this.frameLength;
    const p = f + this.payloadOffset;
    b.writeDoubleLE(intendedNs, p + PAYLOAD.INTENDED);
    b.writeDoubleLE(actualNs, p + PAYLOAD.ACTUAL);
    b[p + PAYLOAD.FLAGS] = flags;
    b.writeUInt32LE(seq >>> 0, p + PAYLOAD.SEQ);
    if (this.idOffset >= 0) {
      b[f + this.idOffset] = packetId >> 8;
      b[f + this.idOffset + 1] = packetId & 0xff;
    }
  }

  /** The first `n` frames (1 ≤ n ≤ capacity), as a view made in advance. */
  view(n: number): Buffer {
    return this.views[n]!;
  }
}

function checkTemplate(frame: Buffer, topic: string, payloadSize: number, qos: 0 | 1, idOffset: number): void {
  const probe = Buffer.from(frame);
  if (idOffset >= 0) probe.writeUInt16BE(0xbeef, idOffset);
  const [p] = new Decoder({ version: 4, role: 'client' }).decodeAll(probe);
  if (!p || p.type !== 'publish' || p.topic !== topic || p.payload.length !== payloadSize || p.qos !== qos || (qos > 0 && p.packetId !== 0xbeef)) {
    throw new Error('PUBLISH template layout is not what the generator expects');
  }
}

export function connectFrame(clientId: string, keepAlive = 0): Buffer {
  return encode({ type: 'connect', protocolVersion: 4, clean: true, keepAlive, clientId }, 4);
}

export function subscribeFrame(filter: string, qos: 0 | 1, packetId = 1): Buffer {
  return encode({ type: 'subscribe', packetId, subscriptions: [{ topicFilter: filter, qos }] }, 4);
}

export function disconnectFrame(): Buffer {
  return encode({ type: 'disconnect' }, 4);
}

/** Writes a 3.1.1 PUBACK for `packetId` at `off`; returns the offset after it. */
export function putPuback(buf: Buffer, off: number, packetId: number): number {
  buf[off] = 0x40;
  buf[off + 1] = 0x02;
  buf[off + 2] = packetId >> 8;
  buf[off + 3] = packetId & 0xff;
  return off + 4;
}
