/**
 * A fuzz case: what one client connection sends. Valid packets of one
 * protocol version (a CONNECT first, then a mix of what clients send), then
 * optionally mutations at three levels — session order (codec/session-
 * mutations.ts), one packet's fields (codec/packet-mutations.ts), the byte
 * stream (codec/mutations.ts) — and a chunking of the bytes into writes.
 *
 * Cases are fast-check values, so a failing one shrinks (fewer packets,
 * fewer and simpler mutations). `materializeCase` turns a case into bytes;
 * it gives every CONNECT a ClientId unique to the run (a case must not take
 * another client's session over by accident) and sends retained messages to a
 * small pool of topics (the broker's retained store stays bounded, so memory
 * can be judged).
 */
import fc, { type Arbitrary } from 'fast-check';
import {
  arbitraryChunkPlan, arbitraryConnect, arbitraryPacketOfType, arbitraryPublish, splitByPlan, WHOLE, type ArbitraryOptions, type ChunkPlan,
} from '../../codec/arbitraries.js';
import { encode, type Packet, type PacketTypeName, type ProtocolVersion, type PublishPacket } from '../../codec/index.js';
import {
  applyByteMutation, arbitraryByteMutation, arbitraryLengthCorruption, corruptLength, describeByteMutation, describeLengthCorruption,
  type ByteMutation, type LengthCorruption,
} from '../../codec/mutations.js';
import { applyPacketMutation, arbitraryPacketMutation, describePacketMutation, type PacketMutation, type ReceiverLimits } from '../../codec/packet-mutations.js';
import { applySessionMutation, arbitrarySessionMutation, describeSessionMutation, type SessionMutation, type SessionUnit } from '../../codec/session-mutations.js';
import { describe as describePacket } from '../raw-client.js';

export interface TargetedMutation {
  /** Index of the packet (after session mutations), modulo their number. */
  packet: number;
  mutation: PacketMutation;
}

export interface FuzzCase {
  version: ProtocolVersion;
  /** Valid packets, CONNECT first. */
  packets: Packet[];
  session: SessionMutation[];
  targeted: TargetedMutation[];
  length: LengthCorruption | undefined;
  bytes: ByteMutation[];
  chunks: ChunkPlan;
}

export interface CaseOptions {
  versions: readonly ProtocolVersion[];
  /** Most packets after the CONNECT. Default 27. */
  maxBodyPackets?: number;
}

/** Retained PUBLISHes and Wills go to this many topics (see materializeCase). */
export const RETAINED_TOPICS = 32;

const PACKET_OPTIONS: ArbitraryOptions = { maxListLength: 3, maxPayloadLength: 32 };

/** What clients send, weighted like a busy client (mostly PUBLISH), plus QoS 2 flows (PUBLISH then its PUBREL). */
function arbitraryBody(version: ProtocolVersion, maxPackets: number): Arbitrary<Packet[]> {
  const t = (type: PacketTypeName, weight: number): { weight: number; arbitrary: Arbitrary<Packet[]> } =>
    ({ weight, arbitrary: arbitraryPacketOfType(type, version, 'server', PACKET_OPTIONS).map((p): Packet[] => [p]) });
  const qos2Flow = arbitraryPublish(version, 'server', PACKET_OPTIONS).map((p): Packet[] => {
    const pub: PublishPacket = { ...p, qos: 2, packetId: p.packetId ?? 1 };
    return [pub, version === 5 ? { type: 'pubrel', packetId: pub.packetId!, reasonCode: 0 } : { type: 'pubrel', packetId: pub.packetId! }];
  });
  const parts = [
    t('publish', 10), { weight: 3, arbitrary: qos2Flow }, t('subscribe', 4), t('unsubscribe', 2), t('puback', 1), t('pubrec', 1), t('pubrel', 1),
    t('pubcomp', 1), t('pingreq', 2), t('disconnect', 1),
  ];
  if (version === 5) parts.push(t('auth', 1));
  return fc.array(fc.oneof(...parts), { maxLength: Math.max(1, Math.ceil(maxPackets / 1.3)), size: 'max' }).map((groups) => groups.flat().slice(0, maxPackets));
}

/** Aliases a client would use (a few small numbers that repeat, so mappings get set and used)
 * and no authentication method (which a server without enhanced authentication refuses,
 * ending the case at its CONNECT): nine cases in ten, the arbitraries' full range the tenth. */
function usual(p: Packet): Packet {
  if (p.type === 'connect' && p.properties?.authenticationMethod !== undefined) {
    const { authenticationMethod: _m, authenticationData: _d, ...rest } = p.properties;
    return { ...p, properties: Object.keys(rest).length > 0 ? rest : undefined };
  }
  if (p.type === 'publish' && p.properties?.topicAlias !== undefined) {
    return { ...p, properties: { ...p.properties, topicAlias: 1 + (p.properties.topicAlias % 8) } };
  }
  return p;
}

export function arbitraryFuzzCase(o: CaseOptions): Arbitrary<FuzzCase> {
  const maxBody = o.maxBodyPackets ?? 27;
  const chunks: Arbitrary<ChunkPlan> = fc.oneof({ weight: 3, arbitrary: fc.constant(WHOLE) }, { weight: 2, arbitrary: arbitraryChunkPlan(64) });
  const byVersion = o.versions.map((version) => {
    const packets = fc.tuple(arbitraryConnect(version, PACKET_OPTIONS), arbitraryBody(version, maxBody), fc.integer({ min: 0, max: 9 }))
      .map(([c, body, dice]): Packet[] => (dice === 0 ? [c, ...body] : [usual(c), ...body.map(usual)]));
    const targeted = fc.record({ packet: fc.nat(), mutation: arbitraryPacketMutation(version) });
    const none = { session: fc.constant([]), targeted: fc.constant([]), length: fc.constant(undefined), bytes: fc.constant([]) };
    const shape = (over: Partial<{ [K in keyof typeof none]: Arbitrary<unknown> }>): Arbitrary<FuzzCase> =>
      fc.record({ version: fc.constant(version), packets, ...none, ...over, chunks }) as Arbitrary<FuzzCase>;
    return fc.oneof(
      { weight: 3, arbitrary: shape({}) },
      { weight: 3, arbitrary: shape({ targeted: fc.array(targeted, { minLength: 1, maxLength: 2 }) }) },
      { weight: 2, arbitrary: shape({ session: fc.array(arbitrarySessionMutation, { minLength: 1, maxLength: 2 }) }) },
      { weight: 2, arbitrary: shape({ length: fc.option(arbitraryLengthCorruption, { nil: undefined }), bytes: fc.array(arbitraryByteMutation, { minLength: 1, maxLength: 3 }) }) },
    );
  });
  return fc.oneof(...byVersion);
}

export interface MaterializedCase {
  version: ProtocolVersion;
  /** Bytes of each packet as sent (before stream-level mutations). */
  units: Buffer[];
  stream: Buffer;
  /** The writes, in order (they concatenate to `stream`). */
  chunks: Buffer[];
  /** Packets this case sends (units, counted before byte mutations). */
  packets: number;
}

export interface MaterializeOptions {
  /** The ClientId to use for a CONNECT that has a non-empty one (empty ones ask the server to assign one). */
  clientId: string;
  limits: ReceiverLimits;
}

function retainedTopic(topic: string): string {
  let h = 0;
  for (let i = 0; i < topic.length; i++) h = (h * 31 + topic.charCodeAt(i)) | 0;
  return `fuzz/retained/${(h >>> 0) % RETAINED_TOPICS}`;
}

/** A packet as the case sends it: its ClientId made unique, retained messages on the pool topics. */
function hygienic(p: Packet, clientId: string): Packet {
  if (p.type === 'connect') {
    const out = { ...p, clientId: p.clientId === '' ? '' : clientId };
    if (p.will?.retain) out.will = { ...p.will, topic: retainedTopic(p.will.topic) };
    return out;
  }
  if (p.type === 'publish' && p.retain && p.topic !== '') return { ...p, topic: retainedTopic(p.topic) };
  return p;
}

export function materializeCase(c: FuzzCase, o: MaterializeOptions): MaterializedCase {
  let units: SessionUnit[] = c.packets.map((p) => ({ packet: hygienic(p, o.clientId) }));
  for (const m of c.session) units = applySessionMutation(units, m, c.version);
  const targeted = new Map<number, PacketMutation>();
  if (units.length > 0) for (const t of c.targeted) targeted.set(t.packet % units.length, t.mutation);
  let bytes = units.map((u, i): Buffer => {
    if (!('packet' in u)) return u.bytes;
    const m = targeted.get(i);
    return m ? applyPacketMutation(u.packet, c.version, m, o.limits) : encode(u.packet, c.version, { validate: false });
  });
  if (c.length !== undefined) bytes = corruptLength(bytes, c.length);
  const stream = c.bytes.reduce(applyByteMutation, Buffer.concat(bytes));
  return { version: c.version, units: bytes, stream, chunks: capWrites(splitByPlan(stream, c.chunks).filter((x) => x.length > 0)), packets: units.length };
}

/** Most writes per case: the plan's first chunks (where the fixed headers are split), then the rest in one write (a 64 KiB packet byte by byte would be 65,536 system calls). */
export const MAX_WRITES = 16;

function capWrites(chunks: Buffer[]): Buffer[] {
  if (chunks.length <= MAX_WRITES) return chunks;
  return [...chunks.slice(0, MAX_WRITES - 1), Buffer.concat(chunks.slice(MAX_WRITES - 1))];
}

/** Readable lines for a report: the packets, then each mutation. */
export function describeCase(c: FuzzCase, clientId = '<unique>'): string[] {
  const lines = [`MQTT ${c.version === 5 ? '5.0' : '3.1.1'}, ${c.packets.length} packet(s): ${c.packets.map((p) => describePacket(hygienic(p, clientId))).join(', ')}`];
  let units: SessionUnit[] = c.packets.map((p) => ({ packet: hygienic(p, clientId) }));
  for (const m of c.session) {
    lines.push(`session: ${describeSessionMutation(m)}`);
    units = applySessionMutation(units, m, c.version);
  }
  for (const t of c.targeted) {
    const i = units.length > 0 ? t.packet % units.length : 0;
    const u = units[i];
    const p = u !== undefined && 'packet' in u ? u.packet : undefined;
    lines.push(`packet ${i}${p ? ` (${p.type.toUpperCase()})` : ''}: ${describePacketMutation(t.mutation, p, c.version)}`);
  }
  if (c.length !== undefined) lines.push(`length: ${describeLengthCorruption(c.length, units.length)}`);
  if (c.bytes.length > 0) {
    let stream = materializeCase(c, { clientId, limits: {} }).units.reduce((n, u) => n + u.length, 0);
    for (const m of c.bytes) {
      lines.push(`bytes: ${describeByteMutation(m, stream)}`);
      stream = applyByteMutation(Buffer.alloc(stream), m).length;
    }
  }
  if (c.chunks.sizes.length > 0) lines.push(`written in chunks of ${c.chunks.sizes.join(', ')} byte(s), in turn`);
  return lines;
}
