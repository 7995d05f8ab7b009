/**
 * The codec's only error type. Every malformed or forbidden input ends here,
 * with a stable `code`, the spec statement it breaks (when the spec numbers
 * one) and, for 5.0, the reason code a receiver should answer with.
 */
import type { ProtocolVersion } from './constants.js';

export type CodecErrorCode =
  // fixed header and framing
  | 'UNKNOWN_PACKET_TYPE'
  | 'RESERVED_FLAGS'
  | 'VARINT_TOO_LONG'
  | 'VARINT_NOT_MINIMAL'
  | 'PACKET_TOO_LARGE'
  | 'TRUNCATED'
  | 'TRAILING_BYTES'
  | 'WRONG_DIRECTION'
  | 'VERSION_UNKNOWN'
  | 'DECODER_FAILED'
  // data types
  | 'INVALID_UTF8'
  | 'UTF8_NULL_CHAR'
  | 'STRING_TOO_LONG'
  | 'BINARY_TOO_LONG'
  | 'VALUE_OUT_OF_RANGE'
  // topics
  | 'TOPIC_NAME_EMPTY'
  | 'TOPIC_NAME_WILDCARD'
  | 'TOPIC_FILTER_EMPTY'
  | 'TOPIC_FILTER_INVALID'
  | 'SHARED_SUBSCRIPTION_INVALID'
  // packet fields
  | 'INVALID_QOS'
  | 'DUP_WITH_QOS0'
  | 'PACKET_ID_ZERO'
  | 'PROTOCOL_NAME'
  | 'UNSUPPORTED_PROTOCOL_LEVEL'
  | 'CONNECT_RESERVED_FLAG'
  | 'WILL_FLAGS'
  | 'PASSWORD_WITHOUT_USERNAME'
  | 'CONNACK_RESERVED_FLAGS'
  | 'SESSION_PRESENT_WITH_ERROR'
  | 'INVALID_REASON_CODE'
  | 'EMPTY_SUBSCRIBE'
  | 'EMPTY_UNSUBSCRIBE'
  | 'EMPTY_SUBACK'
  | 'SUBSCRIPTION_OPTIONS_RESERVED'
  | 'RETAIN_HANDLING_INVALID'
  | 'NO_LOCAL_ON_SHARED'
  // v5 properties
  | 'UNKNOWN_PROPERTY'
  | 'DUPLICATE_PROPERTY'
  | 'PROPERTY_NOT_ALLOWED'
  | 'INVALID_PROPERTY_VALUE'
  | 'TOPIC_ALIAS_ZERO'
  | 'AUTH_DATA_WITHOUT_METHOD';

/** 5.0 reason codes a receiver answers a broken packet with. */
export const MALFORMED_PACKET = 0x81;
export const PROTOCOL_ERROR = 0x82;

export interface CodecErrorDetails {
  /** Normative statement broken, e.g. `MQTT-3.3.1-4`, when the spec numbers one. */
  statement?: string | undefined;
  /** Spec section when no numbered statement applies, e.g. `2.2.3`. */
  section?: string | undefined;
  /** Protocol version the packet was read or written as. */
  version?: ProtocolVersion | undefined;
  /** Packet type name, e.g. `publish`. */
  packetType?: string | undefined;
  /** Field of the packet at fault, e.g. `topic`, `properties.topicAlias`. */
  field?: string | undefined;
  /** 5.0 reason code for a DISCONNECT/CONNACK answering this error. */
  reasonCode?: number | undefined;
  /** CONNECT only: the protocol level that was asked for. */
  protocolLevel?: number | undefined;
}

const BRAND = Symbol.for('mqtt-testbed.codec-error');

export class MqttCodecError extends Error {
  override readonly name = 'MqttCodecError';
  readonly code: CodecErrorCode;
  readonly statement: string | undefined;
  readonly section: string | undefined;
  readonly version: ProtocolVersion | undefined;
  readonly packetType: string | undefined;
  readonly field: string | undefined;
  readonly reasonCode: number;
  readonly protocolLevel: number | undefined;

  constructor(code: CodecErrorCode, message: string, details: CodecErrorDetails = {}) {
    const where = [details.packetType, details.field].filter(Boolean).join('.');
    const ref = details.statement ?? (details.section ? `§${details.section}` : undefined);
    super(`${code}: ${where ? `${where}: ` : ''}${message}${ref ? ` [${ref}]` : ''}`);
    this.code = code;
    this.statement = details.statement;
    this.section = details.section;
    this.version = details.version;
    this.packetType = details.packetType;
    this.field = details.field;
    this.reasonCode = details.reasonCode ?? MALFORMED_PACKET;
    this.protocolLevel = details.protocolLevel;
    Object.defineProperty(this, BRAND, { value: true });
  }
}

/** True for codec errors, also those thrown by another copy of this module. */
export function isMqttCodecError(e: unknown): e is MqttCodecError {
  return typeof e === 'object' && e !== null && (e as Record<symbol, unknown>)[BRAND] === true;
}

/** Picks the statement id of the version at hand: 3.1.1 and 5.0 number them differently. */
export function stmt(version: ProtocolVersion | undefined, v4: string | undefined, v5: string | undefined): string | undefined {
  return version === 5 ? v5 : v4;
}
