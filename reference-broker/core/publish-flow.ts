/**
 * PUBLISH in both directions (3.1.1 §4.3, 5.0 §4.3): inbound QoS 0/1/2 with
 * topic aliases, authorization and exactly-once (Method A: route on PUBLISH,
 * remember the Packet Identifier until PUBREL); outbound acknowledgements
 * that free the client's receive window.
 */
import { isUtf8 } from 'node:buffer';
import type { PubackPacket, PubcompPacket, PublishPacket, PubrecPacket, PubrelPacket } from '../../codec/index.js';
import type { Connection } from './connection.js';
import { forwardedProperties, type AppMessage } from './message.js';

const NO_MATCHING_SUBSCRIBERS = 0x10;
const NOT_AUTHORIZED = 0x87;
const PAYLOAD_FORMAT_INVALID = 0x99;

export function handlePublish(conn: Connection, p: PublishPacket): void {
  const broker = conn.broker;
  const opts = broker.opts;
  const session = conn.session!;
  const v5 = conn.version === 5;
  const props = p.properties;
  let topic = p.topic;

  if (v5) {
    // Topic Alias (5.0 §3.3.2.3.4) [MQTT-3.3.2-12]
    const alias = props?.topicAlias;
    if (alias !== undefined) {
      if (alias > opts.topicAliasMaximum) {
        conn.protocolError(`Topic Alias ${alias} above Topic Alias Maximum ${opts.topicAliasMaximum}`, 0x94);
        return;
      }
      const aliases = (conn.inboundAliases ??= new Map());
      if (topic.length > 0) {
        // FAULT topic-alias-remap-ignored: the first mapping of an alias sticks.
        if (!(opts.faults['topic-alias-remap-ignored'] && aliases.has(alias))) aliases.set(alias, topic);
      } else {
        const known = aliases.get(alias);
        if (known === undefined) {
          conn.protocolError(`Topic Alias ${alias} has no topic mapped on this connection`, 0x82);
          return;
        }
        topic = known;
      }
    }
    if (p.qos > opts.maxQoS) {
      conn.protocolError(`QoS ${p.qos} above Maximum QoS ${opts.maxQoS}`, 0x9b);
      return;
    }
    if (p.retain && !opts.retainAvailable) {
      conn.protocolError('RETAIN is not available', 0x9a);
      return;
    }
    if (p.qos === 2 && !session.inboundQos2.has(p.packetId!) && session.inboundQos2.size >= opts.receiveMaximum) {
      conn.protocolError(`more than Receive Maximum ${opts.receiveMaximum} QoS 2 publications unacknowledged`, 0x93);
      return;
    }
    if (opts.checkPayloadFormat && props?.payloadFormatIndicator === 1 && !isUtf8(p.payload)) {
      if (p.qos === 0) conn.protocolError('payload is not UTF-8 but Payload Format Indicator is 1', PAYLOAD_FORMAT_INVALID);
      else ack(conn, p, PAYLOAD_FORMAT_INVALID);
      return;
    }
  }

  // Exactly once: a QoS 2 PUBLISH whose identifier awaits PUBREL is not routed again [MQTT-4.3.3-9 / 3.1.1 MQTT-4.3.3-2].
  // FAULT qos2-duplicate: the duplicate is routed again.
  if (p.qos === 2 && session.inboundQos2.has(p.packetId!) && !opts.faults['qos2-duplicate']) {
    conn.send({ type: 'pubrec', packetId: p.packetId!, reasonCode: v5 ? 0 : undefined });
    return;
  }

  const info = conn.info!;
  // FAULT acl-publish-ignored: the hook is never asked.
  const authorize = opts.faults['acl-publish-ignored'] ? undefined : opts.hooks.authorizePublish;
  let allowed = true;
  if (authorize) {
    try {
      allowed = authorize(info, topic, p.qos, p.retain);
    } catch (e) {
      // A transient error: close this connection (the client resends) instead of throwing out of onData [3.1.1 MQTT-4.8.0-2].
      opts.logger.error('authorizePublish hook threw', { clientId: info.clientId, topic, error: String(e) });
      conn.protocolError('authorization failed internally', 0x83);
      return;
    }
  }
  if (!allowed) {
    opts.logger.info('PUBLISH denied', { clientId: info.clientId, username: info.username, topic });
    broker.stats.denied++;
    // 5.0: negative ack; 3.1.1 has none, so a positive ack per the normal QoS rules [3.1.1 MQTT-3.3.5-2].
    if (p.qos > 0) ack(conn, p, v5 ? NOT_AUTHORIZED : 0);
    return;
  }

  // FAULT message-expiry-ignored: never expires (the interval is still forwarded, unchanged).
  const mei = opts.faults['message-expiry-ignored'] ? undefined : props?.messageExpiryInterval;
  const msg: AppMessage = {
    topic, payload: p.payload, qos: p.qos, retain: p.retain,
    properties: v5 ? forwardedProperties(props) : undefined,
    expiresAt: mei !== undefined ? broker.clock.now() + mei * 1000 : undefined,
    origin: info.clientId,
  };
  const delivered = broker.publish(msg, conn);
  if (p.qos > 0) ack(conn, p, v5 && delivered === 0 ? NO_MATCHING_SUBSCRIBERS : 0);
}

function ack(conn: Connection, p: PublishPacket, reasonCode: number): void {
  const v5 = conn.version === 5;
  if (p.qos === 1) {
    conn.send({ type: 'puback', packetId: p.packetId!, reasonCode: v5 ? reasonCode : undefined });
    return;
  }
  // QoS 2: remember the identifier unless the PUBREC reports failure, which ends the exchange (5.0 §4.3.3).
  if (reasonCode < 0x80) {
    const session = conn.session!;
    session.inboundQos2.add(p.packetId!);
    conn.broker.persistence.inboundQos2(session, p.packetId!, true);
  }
  conn.send({ type: 'pubrec', packetId: p.packetId!, reasonCode: v5 ? reasonCode : undefined });
}

export function handlePubrel(conn: Connection, p: PubrelPacket): void {
  const session = conn.session!;
  const known = session.inboundQos2.delete(p.packetId);
  if (known) conn.broker.persistence.inboundQos2(session, p.packetId, false);
  // 5.0: 0x92 when the identifier is unknown; 3.1.1 always completes [3.1.1 MQTT-4.3.3-2].
  conn.send({ type: 'pubcomp', packetId: p.packetId, reasonCode: conn.version === 5 ? (known ? 0 : 0x92) : undefined });
}

export function handlePuback(conn: Connection, p: PubackPacket): void {
  const session = conn.session!;
  const out = session.inflight.get(p.packetId);
  if (!out || out.qos !== 1) {
    conn.broker.opts.logger.debug('PUBACK for an unknown Packet Identifier', { clientId: session.clientId, packetId: p.packetId });
    return;
  }
  conn.broker.completed(session, out);
}

export function handlePubrec(conn: Connection, p: PubrecPacket): void {
  const session = conn.session!;
  const v5 = conn.version === 5;
  const out = session.inflight.get(p.packetId);
  if (!out || out.qos !== 2) {
    conn.send({ type: 'pubrel', packetId: p.packetId, reasonCode: v5 ? 0x92 : undefined });
    return;
  }
  if (v5 && (p.reasonCode ?? 0) >= 0x80) {
    // A failed PUBREC ends the exchange [MQTT-4.3.3-4 context; 5.0 §4.3.3].
    conn.broker.completed(session, out);
    return;
  }
  out.phase = 'pubrel';
  conn.broker.persistence.outbound(session, out);
  conn.send({ type: 'pubrel', packetId: p.packetId, reasonCode: v5 ? 0 : undefined });
}

export function handlePubcomp(conn: Connection, p: PubcompPacket): void {
  const session = conn.session!;
  const out = session.inflight.get(p.packetId);
  if (!out || out.phase !== 'pubrel') return;
  conn.broker.completed(session, out);
}
