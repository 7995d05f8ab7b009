/**
 * Outbound delivery to one session: QoS 0 straight to the socket; QoS 1/2
 * through the in-flight window (5.0 Receive Maximum [MQTT-3.3.4-9], 3.1.1 a
 * server limit), queued in order behind it; resent with DUP on reconnect
 * [MQTT-4.4.0-1]. Builds each outgoing PUBLISH: remaining expiry
 * [MQTT-3.3.2-6], Subscription Identifiers, topic aliases [MQTT-3.1.2-26],
 * and drops what exceeds the client's Maximum Packet Size [MQTT-3.1.2-25].
 */
import { encode, type PublishPacket, type PublishProperties } from '../../codec/index.js';
import type { Connection } from './connection.js';
import { ownMessage } from './message.js';
import { sharedPublishBytes } from './wire-cache.js';
import type { Outbound, Session } from './session.js';

export interface DeliveryContext {
  now(): number;
  maxInflight: number;
  maxQueuedMessages: number;
  maxWriteBuffer: number;
  outboundTopicAliases: boolean;
  stats: { messagesOut: number; dropped: number };
}

function liveConnection(session: Session): Connection | undefined {
  const c = session.connection as Connection | undefined;
  return c && c.isOpen ? c : undefined;
}

function windowSize(conn: Connection, ctx: DeliveryContext): number {
  return conn.version === 5 ? conn.clientReceiveMaximum : ctx.maxInflight;
}

function expired(out: Outbound, now: number): boolean {
  return out.msg.expiresAt !== undefined && out.msg.expiresAt <= now;
}

/** Takes the payload out of the socket chunk it arrived in before the message is held for long. */
function own(out: Outbound): void {
  ownMessage(out.msg);
}

export function enqueue(ctx: DeliveryContext, session: Session, out: Outbound): void {
  const conn = liveConnection(session);
  if (out.qos === 0) {
    // QoS 0 is not kept for offline clients; dropped under back-pressure.
    if (!conn || conn.link.bufferedBytes() > ctx.maxWriteBuffer) {
      ctx.stats.dropped++;
      return;
    }
    sendPublish(conn, out, false, ctx);
    return;
  }
  if (conn && session.queue.length === 0 && session.inflight.size < windowSize(conn, ctx) && conn.link.bufferedBytes() <= ctx.maxWriteBuffer) {
    own(out);
    startInflight(conn, session, out, ctx);
    return;
  }
  if (session.queue.length >= ctx.maxQueuedMessages) {
    session.dropped++;
    ctx.stats.dropped++;
    return;
  }
  own(out);
  session.queue.push(out);
}

function startInflight(conn: Connection, session: Session, out: Outbound, ctx: DeliveryContext): void {
  out.packetId = session.allocatePacketId();
  out.phase = 'publish';
  session.inflight.set(out.packetId, out);
  if (!sendPublish(conn, out, false, ctx)) {
    // Too large for the client: behave as if delivered [MQTT-3.1.2-25].
    session.inflight.delete(out.packetId);
  }
}

/** Moves queued deliveries into the window while there is room. */
export function drain(ctx: DeliveryContext, session: Session): void {
  const conn = liveConnection(session);
  if (!conn) return;
  const max = windowSize(conn, ctx);
  const now = ctx.now();
  const deferred = conn.deferredResends;
  if (deferred) {
    // Resends first, in order, each when the window has room [MQTT-4.4.0-1, MQTT-3.3.4-9].
    for (const id of deferred) if (session.inflight.get(id)?.phase !== 'publish') deferred.delete(id); // acknowledged meanwhile
    for (const id of deferred) {
      if (session.inflight.size - deferred.size >= max || conn.link.bufferedBytes() > ctx.maxWriteBuffer) break;
      deferred.delete(id);
      const out = session.inflight.get(id)!;
      if (!sendPublish(conn, out, true, ctx)) session.inflight.delete(id);
    }
    if (deferred.size > 0) return;
    conn.deferredResends = undefined;
  }
  while (session.queue.length > 0 && session.inflight.size < max && conn.link.bufferedBytes() <= ctx.maxWriteBuffer) {
    const out = session.queue.shift()!;
    if (expired(out, now)) continue; // [MQTT-3.3.2-5]
    startInflight(conn, session, out, ctx);
  }
}

/**
 * After CONNACK on a resumed session: resend in-flight PUBLISH (DUP) and PUBREL
 * in order, then the queue. PUBLISHes beyond the client's (new) window wait
 * for room [MQTT-3.3.4-9]; PUBRELs are never held back [MQTT-3.3.4-10] but
 * keep their slot until PUBCOMP.
 */
export function resume(ctx: DeliveryContext, session: Session): void {
  const conn = liveConnection(session);
  if (!conn) return;
  const max = windowSize(conn, ctx);
  let used = 0;
  for (const out of [...session.inflight.values()]) {
    if (out.phase === 'pubrel') {
      conn.send({ type: 'pubrel', packetId: out.packetId, reasonCode: conn.version === 5 ? 0 : undefined });
      used++;
    } else if (used >= max) {
      (conn.deferredResends ??= new Set()).add(out.packetId);
    } else if (sendPublish(conn, out, true, ctx)) {
      used++;
    } else {
      session.inflight.delete(out.packetId);
    }
  }
  drain(ctx, session);
}

/** Encodes and writes one PUBLISH for `out`; false if it exceeded the client's Maximum Packet Size. */
export function sendPublish(conn: Connection, out: Outbound, dup: boolean, ctx: DeliveryContext): boolean {
  const msg = out.msg;
  const v5 = conn.version === 5;
  let bytes: Buffer;
  let newAlias: string | undefined;
  const perSubscriber = v5 && (msg.expiresAt !== undefined || out.subscriptionIds !== undefined || (ctx.outboundTopicAliases && conn.clientTopicAliasMaximum > 0));
  if (!perSubscriber) {
    bytes = sharedPublishBytes(msg, conn.version ?? 4, out.qos, out.retain, out.packetId, dup && out.qos > 0);
  } else {
    let props: PublishProperties | undefined = msg.properties;
    if (msg.expiresAt !== undefined || out.subscriptionIds !== undefined) {
      props = { ...props };
      if (msg.expiresAt !== undefined) props.messageExpiryInterval = Math.max(0, Math.ceil((msg.expiresAt - ctx.now()) / 1000));
      if (out.subscriptionIds !== undefined) props.subscriptionIdentifiers = out.subscriptionIds;
    }
    let topic = msg.topic;
    if (ctx.outboundTopicAliases && conn.clientTopicAliasMaximum > 0) {
      const aliases = (conn.outboundAliases ??= new Map());
      const alias = aliases.get(topic);
      if (alias !== undefined) {
        props = { ...props, topicAlias: alias };
        topic = '';
      } else if (aliases.size < conn.clientTopicAliasMaximum) {
        newAlias = topic;
        props = { ...props, topicAlias: aliases.size + 1 };
        aliases.set(topic, aliases.size + 1);
      }
    }
    const packet: PublishPacket = { type: 'publish', topic, payload: msg.payload, qos: out.qos, retain: out.retain, dup: dup && out.qos > 0 };
    if (out.qos > 0) packet.packetId = out.packetId;
    if (props !== undefined) packet.properties = props;
    bytes = encode(packet, 5);
  }
  if (bytes.length > conn.clientMaxPacketSize) {
    if (newAlias !== undefined) conn.outboundAliases!.delete(newAlias);
    conn.broker.opts.logger.debug('PUBLISH larger than the client Maximum Packet Size; dropped', { clientId: conn.info?.clientId, size: bytes.length });
    return false;
  }
  ctx.stats.messagesOut++;
  conn.write(bytes);
  return true;
}
