/**
 * Session-order mutations: packets that are each well formed but out of
 * order on one connection, as a Client would send them to a Server —
 * something before CONNECT [MQTT-3.1.0-1], a second CONNECT [MQTT-3.1.0-2],
 * acknowledgements of nothing (PUBACK / PUBREC / PUBCOMP from nowhere, PUBREL
 * for an unknown Packet Identifier), packets only a Server sends (CONNACK,
 * SUBACK, UNSUBACK, PINGRESP), AUTH without an authentication exchange,
 * DISCONNECT followed by more packets, two packets swapped, and (5.0) a
 * PUBLISH naming a Topic Alias never set on the connection.
 *
 * They work on a sequence of units (a packet object, or raw bytes where the
 * codec cannot encode the packet in this version, e.g. AUTH in 3.1.1), so they
 * compose. Positions are taken modulo the sequence length.
 *
 * Tool-only (fast-check), like arbitraries.ts and mutations.ts.
 */
import fc, { type Arbitrary } from 'fast-check';
import type { ConnectPacket, Packet, ProtocolVersion } from './index.js';

export type SessionUnit = { packet: Packet } | { bytes: Buffer; note: string };

export type StrayAck = 'puback' | 'pubrec' | 'pubrel' | 'pubcomp';
export type ServerOnly = 'connack' | 'suback' | 'unsuback' | 'pingresp';

export type SessionMutation =
  /** The CONNECT left out: the first packet is something else [MQTT-3.1.0-1]. */
  | { kind: 'drop-connect' }
  /** The CONNECT moved later in the stream [MQTT-3.1.0-1]. */
  | { kind: 'move-connect'; to: number }
  /** The CONNECT sent again later [MQTT-3.1.0-2]. */
  | { kind: 'second-connect'; at: number }
  /** A packet only a Server sends (5.0 §2.1.2 / 3.1.1 §2.2.1 direction). */
  | { kind: 'server-packet'; at: number; type: ServerOnly }
  /** An acknowledgement of nothing: PUBACK / PUBREC / PUBCOMP from nowhere, PUBREL for an unknown identifier. */
  | { kind: 'stray-ack'; at: number; type: StrayAck; packetId: number }
  /** AUTH with no Authentication Method (5.0 §3.15.2.2.2), and no exchange started by CONNECT; a reserved type in 3.1.1. */
  | { kind: 'auth-without-method'; at: number; reasonCode: 0x00 | 0x18 | 0x19 }
  /** Two packets swapped (e.g. a PUBREL before its PUBLISH). */
  | { kind: 'swap'; a: number; b: number }
  /** DISCONNECT in the middle, more packets after it. */
  | { kind: 'early-disconnect'; at: number; reasonCode: 0x00 | 0x04 }
  /** 5.0: a PUBLISH with an empty Topic Name and a Topic Alias never mapped (protocol error, 5.0 §3.3.2.3.4); 3.1.1: an empty Topic Name [MQTT-4.7.3-1]. */
  | { kind: 'unknown-alias'; at: number; alias: number };

export const arbitrarySessionMutation: Arbitrary<SessionMutation> = fc.oneof(
  fc.constant({ kind: 'drop-connect' as const }),
  fc.record({ kind: fc.constant('move-connect' as const), to: fc.nat() }),
  fc.record({ kind: fc.constant('second-connect' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('server-packet' as const), at: fc.nat(), type: fc.constantFrom<ServerOnly>('connack', 'suback', 'unsuback', 'pingresp') }),
  fc.record({ kind: fc.constant('stray-ack' as const), at: fc.nat(), type: fc.constantFrom<StrayAck>('puback', 'pubrec', 'pubrel', 'pubcomp'), packetId: fc.integer({ min: 1, max: 0xffff }) }),
  fc.record({ kind: fc.constant('auth-without-method' as const), at: fc.nat(), reasonCode: fc.constantFrom<0x00 | 0x18 | 0x19>(0x18, 0x19, 0x00) }),
  fc.record({ kind: fc.constant('swap' as const), a: fc.nat(), b: fc.nat() }),
  fc.record({ kind: fc.constant('early-disconnect' as const), at: fc.nat(), reasonCode: fc.constantFrom<0x00 | 0x04>(0x00, 0x04) }),
  fc.record({ kind: fc.constant('unknown-alias' as const), at: fc.nat(), alias: fc.integer({ min: 1, max: 10 }) }),
);

/** Index after the CONNECT (or 0) plus `at` modulo what is left: insertions land after the handshake unless the point is order itself. */
function insertionPoint(units: readonly SessionUnit[], at: number): number {
  const first = units.length > 0 && 'packet' in units[0]! && units[0].packet.type === 'connect' ? 1 : 0;
  return first + (at % (units.length - first + 1));
}

function insert(units: readonly SessionUnit[], at: number, u: SessionUnit): SessionUnit[] {
  const i = insertionPoint(units, at);
  return [...units.slice(0, i), u, ...units.slice(i)];
}

function serverPacket(type: ServerOnly, version: ProtocolVersion): Packet {
  switch (type) {
    case 'connack': return { type: 'connack', sessionPresent: false, reasonCode: 0 };
    case 'suback': return { type: 'suback', packetId: 1, reasonCodes: [0] };
    case 'unsuback': return version === 5 ? { type: 'unsuback', packetId: 1, reasonCodes: [0] } : { type: 'unsuback', packetId: 1 };
    case 'pingresp': return { type: 'pingresp' };
  }
}

const firstConnect = (units: readonly SessionUnit[]): ConnectPacket | undefined => {
  for (const u of units) if ('packet' in u && u.packet.type === 'connect') return u.packet;
  return undefined;
};

export function applySessionMutation(units: readonly SessionUnit[], m: SessionMutation, version: ProtocolVersion): SessionUnit[] {
  switch (m.kind) {
    case 'drop-connect': {
      const i = units.findIndex((u) => 'packet' in u && u.packet.type === 'connect');
      return i < 0 ? [...units] : [...units.slice(0, i), ...units.slice(i + 1)];
    }
    case 'move-connect': {
      const i = units.findIndex((u) => 'packet' in u && u.packet.type === 'connect');
      if (i < 0 || units.length < 2) return [...units];
      const rest = [...units.slice(0, i), ...units.slice(i + 1)];
      const to = 1 + (m.to % rest.length);
      return [...rest.slice(0, to), units[i]!, ...rest.slice(to)];
    }
    case 'second-connect': {
      const c = firstConnect(units) ?? { type: 'connect', protocolVersion: version, clean: true, keepAlive: 0, clientId: '' };
      return insert(units, m.at, { packet: c });
    }
    case 'server-packet':
      return insert(units, m.at, { packet: serverPacket(m.type, version) });
    case 'stray-ack':
      return insert(units, m.at, { packet: version === 5 ? { type: m.type, packetId: m.packetId, reasonCode: 0 } : { type: m.type, packetId: m.packetId } });
    case 'auth-without-method':
      return insert(units, m.at, version === 5
        ? { packet: { type: 'auth', reasonCode: m.reasonCode } }
        // AUTH is packet type 15, reserved in 3.1.1 (§2.2.1): the codec will not encode it there.
        : { bytes: Buffer.from([0xf0, 0x00]), note: 'AUTH (packet type 15, reserved in 3.1.1)' });
    case 'swap': {
      if (units.length < 2) return [...units];
      const a = m.a % units.length;
      const b = m.b % units.length;
      const out = [...units];
      [out[a], out[b]] = [out[b]!, out[a]!];
      return out;
    }
    case 'early-disconnect':
      return insert(units, m.at, { packet: version === 5 ? { type: 'disconnect', reasonCode: m.reasonCode } : { type: 'disconnect' } });
    case 'unknown-alias':
      return insert(units, m.at, {
        packet: version === 5
          ? { type: 'publish', topic: '', payload: Buffer.from('alias'), qos: 0, retain: false, dup: false, properties: { topicAlias: m.alias } }
          : { type: 'publish', topic: '', payload: Buffer.from('alias'), qos: 0, retain: false, dup: false },
      });
  }
}

export function describeSessionMutation(m: SessionMutation): string {
  switch (m.kind) {
    case 'drop-connect': return 'no CONNECT';
    case 'move-connect': return `CONNECT moved to position ${m.to}`;
    case 'second-connect': return `a second CONNECT at ${m.at}`;
    case 'server-packet': return `${m.type.toUpperCase()} from the client at ${m.at}`;
    case 'stray-ack': return `${m.type.toUpperCase()} for unknown id ${m.packetId} at ${m.at}`;
    case 'auth-without-method': return `AUTH 0x${m.reasonCode.toString(16)} without a method at ${m.at}`;
    case 'swap': return `packets ${m.a} and ${m.b} swapped`;
    case 'early-disconnect': return `DISCONNECT 0x${m.reasonCode.toString(16)} at ${m.at}, packets after it`;
    case 'unknown-alias': return `PUBLISH with unmapped Topic Alias ${m.alias} at ${m.at}`;
  }
}
