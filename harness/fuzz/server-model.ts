/**
 * What the fuzz oracle assumes about the server under test: the limits that
 * decide whether a well-formed packet is still refused (Maximum Packet Size,
 * Topic Alias Maximum, Maximum QoS, Retain Available, Receive Maximum, the
 * optional subscription features) and whether they are known exactly.
 *
 * Exact: the reference broker launched by the fuzzer with a known
 * configuration — every difference from the oracle is a failure. Otherwise
 * (a broker at a URL, described by a profile or by nothing) the model holds
 * what the profile claims and the spec's defaults, a 5.0 CONNACK refines it
 * per connection (refineWithConnack), and CONNECT refusals the spec allows a
 * server to make for its own reasons are tolerated.
 */
import { MAX_PACKET_SIZE, type ConnackPacket, type ProtocolVersion, type QoS } from '../../codec/index.js';
import type { Profile } from '../profile.js';

export interface ServerModel {
  /** The configuration is known exactly (our reference broker): refusals and limits are not guessed. */
  exact: boolean;
  versions: readonly ProtocolVersion[];
  /** Largest packet the server accepts, bytes (MAX_PACKET_SIZE when unknown). */
  maxPacketSize: number;
  /** Whether maxPacketSize is a stated limit (mutations that need it are skipped otherwise). */
  maxPacketSizeKnown: boolean;
  topicAliasMaximum: number;
  maxQoS: QoS;
  retainAvailable: boolean;
  /** 5.0 Receive Maximum the server announces (QoS 2 PUBLISHes awaiting PUBREL). */
  receiveMaximum: number;
  wildcardSubscriptions: boolean;
  sharedSubscriptions: boolean;
  subscriptionIdentifiers: boolean;
  allowZeroLengthClientId: boolean;
  /** CONNECTs without a user name are accepted. */
  anonymous: boolean;
}

/** The broker limits the fuzzer launches the reference broker with (harness/fuzz/target.ts). */
export interface ReferenceFuzzLimits {
  maxPacketSize: number;
  topicAliasMaximum: number;
  receiveMaximum: number;
}

export function referenceModel(limits: ReferenceFuzzLimits): ServerModel {
  return {
    exact: true, versions: [4, 5], maxPacketSize: limits.maxPacketSize, maxPacketSizeKnown: true,
    topicAliasMaximum: limits.topicAliasMaximum, maxQoS: 2, retainAvailable: true, receiveMaximum: limits.receiveMaximum,
    wildcardSubscriptions: true, sharedSubscriptions: true, subscriptionIdentifiers: true, allowZeroLengthClientId: true, anonymous: true,
  };
}

/** A broker at a URL: what its profile claims, the spec's defaults for what it leaves out. */
export function modelFromProfile(profile: Profile | undefined): ServerModel {
  const l = profile?.limits ?? {};
  const versions = profile ? profile.protocolVersions.map((v): ProtocolVersion => (v === '5.0' ? 5 : 4)) : [4, 5] as ProtocolVersion[];
  return {
    exact: false, versions,
    maxPacketSize: l.maxPacketSize ?? MAX_PACKET_SIZE, maxPacketSizeKnown: l.maxPacketSize !== undefined,
    // 5.0 §3.2.2.3.8: absent means 0; the CONNACK refines it (refineWithConnack).
    topicAliasMaximum: l.topicAliasMaximum ?? 0,
    maxQoS: profile?.maxQoS ?? 2, retainAvailable: profile?.retain ?? true, receiveMaximum: l.receiveMaximum ?? 65535,
    wildcardSubscriptions: profile?.wildcardSubscriptions ?? true, sharedSubscriptions: profile?.sharedSubscriptions ?? true,
    subscriptionIdentifiers: profile?.subscriptionIdentifiers ?? true, allowZeroLengthClientId: profile?.zeroLengthClientId ?? true,
    anonymous: profile?.anonymous ?? true,
  };
}

/**
 * The model as one 5.0 connection sees it: the server's CONNACK states its limits for this
 * connection (5.0 §3.2.2.3), absent properties meaning their defaults. An exact model is not
 * changed (the reference broker's CONNACK states what the model already holds).
 */
export function refineWithConnack(model: ServerModel, connack: ConnackPacket | undefined): ServerModel {
  if (model.exact || connack === undefined || connack.reasonCode !== 0) return model;
  const p = connack.properties ?? {};
  return {
    ...model,
    // Absent: no limit beyond the protocol's (5.0 §3.2.2.3.6).
    maxPacketSize: p.maximumPacketSize ?? MAX_PACKET_SIZE,
    maxPacketSizeKnown: true,
    topicAliasMaximum: p.topicAliasMaximum ?? 0,
    maxQoS: (p.maximumQoS ?? 2) as QoS,
    retainAvailable: p.retainAvailable !== 0,
    receiveMaximum: p.receiveMaximum ?? 65535,
    wildcardSubscriptions: p.wildcardSubscriptionAvailable !== 0,
    sharedSubscriptions: p.sharedSubscriptionAvailable !== 0,
    subscriptionIdentifiers: p.subscriptionIdentifierAvailable !== 0,
  };
}
