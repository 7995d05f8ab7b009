/** Protocol level byte of CONNECT: 4 = MQTT 3.1.1, 5 = MQTT 5.0. */
export type ProtocolVersion = 4 | 5;
export type QoS = 0 | 1 | 2;

/** Spec version names as the specs print them, for statement references. */
export const SPEC_VERSION: Readonly<Record<ProtocolVersion, '3.1.1' | '5.0'>> = { 4: '3.1.1', 5: '5.0' };

/** Control packet type values (high nibble of byte 1), MQTT 3.1.1 §2.2.1 / 5.0 §2.1.2. */
export const PacketTypeCode = {
  connect: 1,
  connack: 2,
  publish: 3,
  puback: 4,
  pubrec: 5,
  pubrel: 6,
  pubcomp: 7,
  subscribe: 8,
  suback: 9,
  unsubscribe: 10,
  unsuback: 11,
  pingreq: 12,
  pingresp: 13,
  disconnect: 14,
  auth: 15,
} as const;

export type PacketTypeName = keyof typeof PacketTypeCode;

export const PACKET_TYPE_NAMES: readonly (PacketTypeName | undefined)[] = [
  undefined, 'connect', 'connack', 'publish', 'puback', 'pubrec', 'pubrel', 'pubcomp',
  'subscribe', 'suback', 'unsubscribe', 'unsuback', 'pingreq', 'pingresp', 'disconnect', 'auth',
];

/**
 * Required low-nibble flags per packet type (all but PUBLISH, whose flags
 * carry DUP/QoS/RETAIN): 3.1.1 Table 2.2, 5.0 Table 2-2.
 */
export const FIXED_FLAGS: readonly number[] = [-1, 0, 0, -1, 0, 0, 2, 0, 2, 0, 2, 0, 0, 0, 0, 0];

/** Who may send each packet type: c = client, s = server, b = both. */
export const SENDER: Readonly<Record<PacketTypeName, 'c' | 's' | 'b'>> = {
  connect: 'c', connack: 's', publish: 'b', puback: 'b', pubrec: 'b', pubrel: 'b', pubcomp: 'b',
  subscribe: 'c', suback: 's', unsubscribe: 'c', unsuback: 's', pingreq: 'c', pingresp: 's',
  disconnect: 'b', auth: 'b',
};

/** Largest Remaining Length a four-byte Variable Byte Integer can hold. */
export const MAX_VARINT = 268_435_455;
/** Largest whole packet: 1 type byte + 4 length bytes + MAX_VARINT. */
export const MAX_PACKET_SIZE = MAX_VARINT + 5;
