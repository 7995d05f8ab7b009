/**
 * MQTT 5.0 reason codes (§2.4, Table 2-6) and the 3.1.1 CONNACK return codes
 * (§3.2.2.3) and SUBACK return codes (§3.9.3), as tables: which packets may
 * carry each code is data, checked by the decoder and the encoder.
 */
import type { PacketTypeName } from './constants.js';

type ReasonPacket = Extract<PacketTypeName, 'connack' | 'puback' | 'pubrec' | 'pubrel' | 'pubcomp' | 'suback' | 'unsuback' | 'disconnect' | 'auth'>;

interface ReasonCodeEntry {
  readonly code: number;
  readonly name: string;
  readonly packets: readonly ReasonPacket[];
}

const ack: ReasonPacket[] = ['puback', 'pubrec'];

export const REASON_CODES_V5: readonly ReasonCodeEntry[] = [
  { code: 0x00, name: 'Success', packets: ['connack', 'puback', 'pubrec', 'pubrel', 'pubcomp', 'unsuback', 'auth'] },
  { code: 0x00, name: 'Normal disconnection', packets: ['disconnect'] },
  { code: 0x00, name: 'Granted QoS 0', packets: ['suback'] },
  { code: 0x01, name: 'Granted QoS 1', packets: ['suback'] },
  { code: 0x02, name: 'Granted QoS 2', packets: ['suback'] },
  { code: 0x04, name: 'Disconnect with Will Message', packets: ['disconnect'] },
  { code: 0x10, name: 'No matching subscribers', packets: ack },
  { code: 0x11, name: 'No subscription existed', packets: ['unsuback'] },
  { code: 0x18, name: 'Continue authentication', packets: ['auth'] },
  { code: 0x19, name: 'Re-authenticate', packets: ['auth'] },
  { code: 0x80, name: 'Unspecified error', packets: ['connack', 'puback', 'pubrec', 'suback', 'unsuback', 'disconnect'] },
  { code: 0x81, name: 'Malformed Packet', packets: ['connack', 'disconnect'] },
  { code: 0x82, name: 'Protocol Error', packets: ['connack', 'disconnect'] },
  { code: 0x83, name: 'Implementation specific error', packets: ['connack', 'puback', 'pubrec', 'suback', 'unsuback', 'disconnect'] },
  { code: 0x84, name: 'Unsupported Protocol Version', packets: ['connack'] },
  { code: 0x85, name: 'Client Identifier not valid', packets: ['connack'] },
  { code: 0x86, name: 'Bad User Name or Password', packets: ['connack'] },
  { code: 0x87, name: 'Not authorized', packets: ['connack', 'puback', 'pubrec', 'suback', 'unsuback', 'disconnect'] },
  { code: 0x88, name: 'Server unavailable', packets: ['connack'] },
  { code: 0x89, name: 'Server busy', packets: ['connack', 'disconnect'] },
  { code: 0x8a, name: 'Banned', packets: ['connack'] },
  { code: 0x8b, name: 'Server shutting down', packets: ['disconnect'] },
  { code: 0x8c, name: 'Bad authentication method', packets: ['connack', 'disconnect'] },
  { code: 0x8d, name: 'Keep Alive timeout', packets: ['disconnect'] },
  { code: 0x8e, name: 'Session taken over', packets: ['disconnect'] },
  { code: 0x8f, name: 'Topic Filter invalid', packets: ['suback', 'unsuback', 'disconnect'] },
  { code: 0x90, name: 'Topic Name invalid', packets: ['connack', 'puback', 'pubrec', 'disconnect'] },
  { code: 0x91, name: 'Packet Identifier in use', packets: ['puback', 'pubrec', 'suback', 'unsuback'] },
  { code: 0x92, name: 'Packet Identifier not found', packets: ['pubrel', 'pubcomp'] },
  { code: 0x93, name: 'Receive Maximum exceeded', packets: ['disconnect'] },
  { code: 0x94, name: 'Topic Alias invalid', packets: ['disconnect'] },
  { code: 0x95, name: 'Packet too large', packets: ['connack', 'disconnect'] },
  { code: 0x96, name: 'Message rate too high', packets: ['disconnect'] },
  { code: 0x97, name: 'Quota exceeded', packets: ['connack', 'puback', 'pubrec', 'suback', 'disconnect'] },
  { code: 0x98, name: 'Administrative action', packets: ['disconnect'] },
  { code: 0x99, name: 'Payload format invalid', packets: ['connack', 'puback', 'pubrec', 'disconnect'] },
  { code: 0x9a, name: 'Retain not supported', packets: ['connack', 'disconnect'] },
  { code: 0x9b, name: 'QoS not supported', packets: ['connack', 'disconnect'] },
  { code: 0x9c, name: 'Use another server', packets: ['connack', 'disconnect'] },
  { code: 0x9d, name: 'Server moved', packets: ['connack', 'disconnect'] },
  { code: 0x9e, name: 'Shared Subscriptions not supported', packets: ['suback', 'disconnect'] },
  { code: 0x9f, name: 'Connection rate exceeded', packets: ['connack', 'disconnect'] },
  { code: 0xa0, name: 'Maximum connect time', packets: ['disconnect'] },
  { code: 0xa1, name: 'Subscription Identifiers not supported', packets: ['suback', 'disconnect'] },
  { code: 0xa2, name: 'Wildcard Subscriptions not supported', packets: ['suback', 'disconnect'] },
];

/** 5.0 DISCONNECT reason codes only a server may send (Table 3-10, "Sent by: Server"). */
export const SERVER_ONLY_DISCONNECT_REASONS: ReadonlySet<number> = new Set([
  0x87, 0x89, 0x8b, 0x8d, 0x8e, 0x8f, 0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f, 0xa0, 0xa1, 0xa2,
]);

/** 5.0 DISCONNECT reason codes only a client may send (Table 3-10, "Sent by: Client"). */
export const CLIENT_ONLY_DISCONNECT_REASONS: ReadonlySet<number> = new Set([0x04]);

/** 3.1.1 CONNACK return codes (Table 3.1). */
export const CONNACK_RETURN_CODES_V4: Readonly<Record<number, string>> = {
  0: 'Connection Accepted',
  1: 'Connection Refused, unacceptable protocol version',
  2: 'Connection Refused, identifier rejected',
  3: 'Connection Refused, Server unavailable',
  4: 'Connection Refused, bad user name or password',
  5: 'Connection Refused, not authorized',
};

/** 3.1.1 SUBACK return codes (§3.9.3). */
export const SUBACK_RETURN_CODES_V4: ReadonlySet<number> = new Set([0x00, 0x01, 0x02, 0x80]);

const allowedV5 = new Map<ReasonPacket, Set<number>>();
for (const e of REASON_CODES_V5) {
  for (const p of e.packets) {
    let s = allowedV5.get(p);
    if (!s) allowedV5.set(p, (s = new Set()));
    s.add(e.code);
  }
}

/** Whether `code` is a valid 5.0 reason code in packet type `packet`. */
export function isReasonCodeAllowed(packet: ReasonPacket, code: number): boolean {
  return allowedV5.get(packet)?.has(code) ?? false;
}

/** Human name of a 5.0 reason code in the context of a packet type. */
export function reasonCodeName(code: number, packet?: ReasonPacket): string {
  const hit = REASON_CODES_V5.find((e) => e.code === code && (packet === undefined || e.packets.includes(packet)));
  return hit?.name ?? `0x${code.toString(16).padStart(2, '0')}`;
}

export type { ReasonPacket, ReasonCodeEntry };
