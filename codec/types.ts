/**
 * Packet objects. One shape serves both versions: 5.0-only fields
 * (`properties`, `reasonCode(s)`, subscription options beyond QoS) are absent
 * on 3.1.1 packets. A decoded packet is in *normal form*: 5.0 reason codes are
 * always present (0 when the wire omitted them), and `properties` is present
 * only when at least one property was on the wire. decode(encode(p)) equals p
 * for packets in normal form.
 */
import type { ProtocolVersion, QoS } from './constants.js';

export type UserProperties = Array<[name: string, value: string]>;

/** Every 5.0 property, by the name used in the spec (camel-cased). */
export interface AllProperties {
  payloadFormatIndicator?: number;
  messageExpiryInterval?: number;
  contentType?: string;
  responseTopic?: string;
  correlationData?: Buffer;
  /** Several in a server's PUBLISH (one per matching subscription); one in SUBSCRIBE. */
  subscriptionIdentifiers?: number[];
  sessionExpiryInterval?: number;
  assignedClientIdentifier?: string;
  serverKeepAlive?: number;
  authenticationMethod?: string;
  authenticationData?: Buffer;
  requestProblemInformation?: number;
  willDelayInterval?: number;
  requestResponseInformation?: number;
  responseInformation?: string;
  serverReference?: string;
  reasonString?: string;
  receiveMaximum?: number;
  topicAliasMaximum?: number;
  topicAlias?: number;
  maximumQoS?: number;
  retainAvailable?: number;
  /** In wire order; names may repeat (5.0 §3.3.2.3.7). */
  userProperties?: UserProperties;
  maximumPacketSize?: number;
  wildcardSubscriptionAvailable?: number;
  subscriptionIdentifierAvailable?: number;
  sharedSubscriptionAvailable?: number;
}

export type PropertyName = keyof AllProperties;

export type ConnectProperties = Pick<AllProperties,
  'sessionExpiryInterval' | 'receiveMaximum' | 'maximumPacketSize' | 'topicAliasMaximum' |
  'requestResponseInformation' | 'requestProblemInformation' | 'userProperties' |
  'authenticationMethod' | 'authenticationData'>;
export type WillProperties = Pick<AllProperties,
  'willDelayInterval' | 'payloadFormatIndicator' | 'messageExpiryInterval' | 'contentType' |
  'responseTopic' | 'correlationData' | 'userProperties'>;
export type ConnackProperties = Pick<AllProperties,
  'sessionExpiryInterval' | 'receiveMaximum' | 'maximumQoS' | 'retainAvailable' | 'maximumPacketSize' |
  'assignedClientIdentifier' | 'topicAliasMaximum' | 'reasonString' | 'userProperties' |
  'wildcardSubscriptionAvailable' | 'subscriptionIdentifierAvailable' | 'sharedSubscriptionAvailable' |
  'serverKeepAlive' | 'responseInformation' | 'serverReference' | 'authenticationMethod' | 'authenticationData'>;
export type PublishProperties = Pick<AllProperties,
  'payloadFormatIndicator' | 'messageExpiryInterval' | 'topicAlias' | 'responseTopic' |
  'correlationData' | 'userProperties' | 'subscriptionIdentifiers' | 'contentType'>;
export type AckProperties = Pick<AllProperties, 'reasonString' | 'userProperties'>;
export type SubscribeProperties = Pick<AllProperties, 'subscriptionIdentifiers' | 'userProperties'>;
export type UnsubscribeProperties = Pick<AllProperties, 'userProperties'>;
export type DisconnectProperties = Pick<AllProperties,
  'sessionExpiryInterval' | 'reasonString' | 'userProperties' | 'serverReference'>;
export type AuthProperties = Pick<AllProperties,
  'authenticationMethod' | 'authenticationData' | 'reasonString' | 'userProperties'>;

export interface Will {
  topic: string;
  payload: Buffer;
  qos: QoS;
  retain: boolean;
  properties?: WillProperties;
}

export interface ConnectPacket {
  type: 'connect';
  protocolVersion: ProtocolVersion;
  /** Clean Session (3.1.1) / Clean Start (5.0). */
  clean: boolean;
  keepAlive: number;
  clientId: string;
  will?: Will;
  username?: string;
  password?: Buffer;
  properties?: ConnectProperties;
}

export interface ConnackPacket {
  type: 'connack';
  sessionPresent: boolean;
  /** 3.1.1 return code or 5.0 reason code. */
  reasonCode: number;
  properties?: ConnackProperties;
}

export interface PublishPacket {
  type: 'publish';
  topic: string;
  payload: Buffer;
  qos: QoS;
  retain: boolean;
  dup: boolean;
  /** Present exactly when qos > 0. */
  packetId?: number;
  properties?: PublishProperties;
}

export interface AckPacket<T extends 'puback' | 'pubrec' | 'pubrel' | 'pubcomp'> {
  type: T;
  packetId: number;
  /** 5.0 only. */
  reasonCode?: number;
  properties?: AckProperties;
}
export type PubackPacket = AckPacket<'puback'>;
export type PubrecPacket = AckPacket<'pubrec'>;
export type PubrelPacket = AckPacket<'pubrel'>;
export type PubcompPacket = AckPacket<'pubcomp'>;

export type RetainHandling = 0 | 1 | 2;

export interface Subscription {
  topicFilter: string;
  qos: QoS;
  /** 5.0 only. */
  noLocal?: boolean;
  /** 5.0 only. */
  retainAsPublished?: boolean;
  /** 5.0 only. */
  retainHandling?: RetainHandling;
}

export interface SubscribePacket {
  type: 'subscribe';
  packetId: number;
  subscriptions: Subscription[];
  properties?: SubscribeProperties;
}

export interface SubackPacket {
  type: 'suback';
  packetId: number;
  /** 3.1.1 return codes or 5.0 reason codes, one per requested filter. */
  reasonCodes: number[];
  properties?: AckProperties;
}

export interface UnsubscribePacket {
  type: 'unsubscribe';
  packetId: number;
  topicFilters: string[];
  properties?: UnsubscribeProperties;
}

export interface UnsubackPacket {
  type: 'unsuback';
  packetId: number;
  /** 5.0 only: one per filter. */
  reasonCodes?: number[];
  properties?: AckProperties;
}

export interface PingreqPacket { type: 'pingreq' }
export interface PingrespPacket { type: 'pingresp' }

export interface DisconnectPacket {
  type: 'disconnect';
  /** 5.0 only. */
  reasonCode?: number;
  properties?: DisconnectProperties;
}

/** 5.0 only. */
export interface AuthPacket {
  type: 'auth';
  reasonCode: number;
  properties?: AuthProperties;
}

export type Packet =
  | ConnectPacket | ConnackPacket | PublishPacket
  | PubackPacket | PubrecPacket | PubrelPacket | PubcompPacket
  | SubscribePacket | SubackPacket | UnsubscribePacket | UnsubackPacket
  | PingreqPacket | PingrespPacket | DisconnectPacket | AuthPacket;

export type PacketOf<T extends Packet['type']> = Extract<Packet, { type: T }>;
